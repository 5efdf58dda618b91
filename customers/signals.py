"""Receivers that write staff sign-ins to the activity log and warn of locked staff accounts.

Connected in ``CustomersConfig.ready``. Customers' sign-ins are not recorded here (axes
keeps its own access log of every sign-in); the staff activity log is about staff.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from . import activity
from .models import User
from .tasks import notify_staff_lockout

STAFF_LOGIN_VIEW = "admin:login"


def staff_account(email: str | None) -> User | None:
    """The staff user with this e-mail (any case), or None."""
    if not email:
        return None
    return User.objects.filter(email__iexact=email.strip(), is_staff=True).first()


def on_staff_login_page(request: HttpRequest | None) -> bool:
    match = getattr(request, "resolver_match", None)
    return getattr(match, "view_name", None) == STAFF_LOGIN_VIEW


@receiver(user_logged_in, dispatch_uid="customers.record_staff_sign_in")
def record_staff_sign_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """A staff member signed in (with the password; the code step is recorded apart)."""
    if user.is_staff:
        activity.record(action=activity.SIGN_IN, actor=user, target=user, request=request)


@receiver(user_login_failed, dispatch_uid="customers.record_staff_sign_in_failure")
def record_staff_sign_in_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A failed sign-in on a staff account (from either page), or on the staff login page.

    The e-mail typed is kept as who tried; the password never is (Django has already
    replaced it in ``credentials``, and only the username is read here).
    """
    typed = str(credentials.get("username") or "")
    account = staff_account(typed)
    if account is None and not on_staff_login_page(request):
        return
    activity.record(
        action=activity.SIGN_IN_FAILED,
        actor=None,
        actor_label=typed,
        target=account,
        request=request,
    )


@receiver(user_locked_out, dispatch_uid="customers.warn_of_staff_lockout")
def warn_of_staff_lockout(
    sender: Any,
    request: HttpRequest,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    """A staff account was just locked out: log it and e-mail the administrators, once.

    Axes sends this signal again for each attempt refused during the lockout; only the
    attempt that caused it has counted failures (``axes_failures_since_start``), so the
    administrators get one e-mail per lockout, not one per retry.
    """
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    account = staff_account(username)
    if account is None:
        return
    activity.record(
        action=activity.LOCKED_OUT,
        actor=None,
        actor_label=username or "",
        target=account,
        request=request,
    )
    transaction.on_commit(partial(notify_staff_lockout.delay, account.pk, ip_address))
