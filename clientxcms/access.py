"""Who may open a view: staff in ``/admin/``, customers in ``/client/`` (DESIGN.md §3).

Every view of an area starts with its area's mixin, so that the rule lives in one place
rather than in each view. Someone who is not signed in is sent to the login page of the
area they asked for; someone signed in to the wrong area gets a 403, because a login
page would only invite them to sign in again with the account they already have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.mixins import AccessMixin, PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

from customers import two_factor
from customers.models import Customer, User


def signed_in_user(request: HttpRequest) -> User:
    """``request.user`` in a view behind one of the mixins below, typed as the ``User`` it is.

    To the type checker ``HttpRequest.user`` is ``User | AnonymousUser``; once a mixin has
    let the request through it cannot be anonymous, so views pass this on as an actor.
    A cast only: nothing is checked at run time.
    """
    return cast(User, request.user)


class StaffRequiredMixin(PermissionRequiredMixin):
    """Lets in staff only, and only those holding every permission in ``permission_required``.

    ``permission_required`` is optional here (a plain staff page needs none) whereas
    Django's mixin insists on it; otherwise the semantics are Django's, so a view reads
    ``permission_required = "services.change_service"`` as anyone would expect.
    """

    permission_required: str | Sequence[str] | None = None
    request: HttpRequest  # set by View.setup()
    #: The two-factor enrolment page sets this: it must open for staff sent to enrol.
    two_factor_enrolment_page = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Staff who owe the second sign-in step (or enrolment) go there before anything else.

        Until then they are not signed in to the administration area: no page, no
        permission check, no 403 that would tell what the account may do.
        """
        step = two_factor.pending_step(
            request.user,  # type: ignore[arg-type]  # AnonymousUser answers is_authenticated
            enrolling=self.two_factor_enrolment_page,
        )
        if step is not None:
            return redirect_to_login(request.get_full_path(), reverse(step))
        return super().dispatch(request, *args, **kwargs)

    def get_login_url(self) -> str:
        return str(settings.STAFF_LOGIN_URL)

    def get_permission_required(self) -> Sequence[str]:
        if self.permission_required is None:
            return ()
        return super().get_permission_required()

    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_staff and user.has_perms(self.get_permission_required())


class CustomerRequiredMixin(AccessMixin):
    """Lets in users with a customer profile, and hands that profile to the view.

    The profile is set as ``self.customer`` and ``request.customer`` so that every
    client-area query can start from ``Service.objects.for_customer(...)`` without
    looking the customer up again.
    """

    customer: Customer
    request: HttpRequest  # set by View.setup()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        try:
            customer = request.user.customer
        except Customer.DoesNotExist:
            # Signed in but not a customer (staff): handle_no_permission() raises a 403.
            return self.handle_no_permission()
        self.customer = request.customer = customer  # type: ignore[attr-defined]  # ours, not Django's
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # View's, next in the MRO
