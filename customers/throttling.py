"""Sign-in throttling: django-axes counts failures, this module says so on the login page.

Axes (settings ``AXES_*``) counts failed sign-ins per account and per address, each on
its own, and refuses every attempt from a locked account or address for the cool-off,
the right password included. Its backend refuses, its middleware swaps the page for
``lockout_response``, which renders the login page the person was on with the wait,
answered with 429.

Forms other than the login, such as the client area's sign-up and password-reset forms,
reuse the same counters in one line: put ``ThrottledFormMixin`` first among the view's
bases (``class SignUpView(ThrottledFormMixin, CreateView)``), and set
``throttle_every_submission = True`` on a form whose every submission costs something
(an e-mail sent), such as a password reset.
"""

from __future__ import annotations

import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext

#: The page used when the view that was locked out names no template of its own.
DEFAULT_LOCKOUT_TEMPLATE = "customers/client/login.html"
LOCKOUT_STATUS = 429
#: How much of the typed e-mail names the counter (axes' column holds 255 characters).
MAX_TYPED = 200


def wait_text() -> str:
    """The cool-off in words: "15 minutes", "1 hour", "90 minutes"."""
    cool_off = get_cool_off()
    if cool_off is None:
        return gettext("a while")
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def lockout_message() -> str:
    """What a locked-out person reads, with how long to wait."""
    return gettext("Too many failed sign-ins. Try again in %(wait)s.") % {"wait": wait_text()}


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if allowed else ""


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the page the person was on, with the wait, as a 429.

    The page is the locked-out view's own (its ``template_name`` and an empty
    ``form_class``), so the admin login keeps the admin layout and the client login
    the client one, and forms that reuse the throttling get their own page back.
    """
    match = getattr(request, "resolver_match", None)
    view_class = getattr(getattr(match, "func", None), "view_class", None)
    template = getattr(view_class, "template_name", None) or DEFAULT_LOCKOUT_TEMPLATE
    form_class = getattr(view_class, "form_class", None)
    form: BaseForm | None = None
    if isinstance(form_class, type) and issubclass(form_class, AuthenticationForm):
        form = form_class(request=request)
    elif isinstance(form_class, type) and issubclass(form_class, BaseForm):
        form = form_class()
    context = {"form": form, "lockout_message": lockout_message(), "next": _safe_next(request)}
    return render(request, template, context, status=LOCKOUT_STATUS)


class ThrottledFormMixin:
    """Throttles a form view with the sign-in counters (see the module's docstring).

    A refused submission (or any submission, with ``throttle_every_submission``) counts
    as a failure for the address and for the e-mail typed in ``throttle_field``; once
    either is locked out, the view answers ``lockout_response`` without looking at the
    form. The e-mail is counted under ``throttle_scope`` so that, say, five reset
    requests for an address never lock that account's sign-in, while one address that
    hammers the form is locked out of signing in as well.
    """

    request: HttpRequest
    throttle_field = "email"
    throttle_scope = "form"
    throttle_every_submission = False

    def throttle_credentials(self) -> dict[str, str]:
        # Axes stores and looks up this name in a 255-character column: without NUL bytes
        # (refused by PostgreSQL) and cut short, whatever was typed.
        typed = str(self.request.POST.get(self.throttle_field, "")).replace("\x00", "")
        return {"username": f"{self.throttle_scope}:{typed.strip().lower()[:MAX_TYPED]}"}

    def count_throttled_failure(self) -> None:
        AxesProxyHandler.user_login_failed(
            sender=type(self), credentials=self.throttle_credentials(), request=self.request
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not AxesProxyHandler.is_allowed(request, self.throttle_credentials()):
            return lockout_response(request)
        response = super().post(request, *args, **kwargs)  # type: ignore[misc]
        if not getattr(request, "axes_locked_out", False):
            return response
        if self._throttled_form_succeeded:
            # A valid submission counted under ``throttle_every_submission`` has done its
            # work (the account made, the e-mail sent) even when it reached the limit: it
            # answers as done (axes' middleware would swap the answer), and the next one
            # is refused above.
            request.axes_locked_out = False  # type: ignore[attr-defined]  # axes' own flag
            return response
        return lockout_response(request)

    _throttled_form_succeeded = False

    def form_valid(self, form: BaseForm) -> HttpResponse:
        if self.throttle_every_submission:
            self.count_throttled_failure()
        self._throttled_form_succeeded = True
        return super().form_valid(form)  # type: ignore[misc]

    def form_invalid(self, form: BaseForm) -> HttpResponse:
        self.count_throttled_failure()
        return super().form_invalid(form)  # type: ignore[misc]
