"""Staff accounts seen by an administrator: who has two-factor, and resetting it."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from customers import two_factor
from customers.models import User

RESET_PERMISSION = "customers.reset_staff_2fa"


class StaffListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/staff/``: every staff account, whether it has two-factor, and a reset button."""

    permission_required = RESET_PERMISSION
    template_name = "customers/admin/staff_list.html"
    context_object_name = "staff"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.filter(is_staff=True).order_by("email", "id")


class StaffTwoFactorResetView(StaffRequiredMixin, View):
    """POST ``/admin/staff/<pk>/reset-two-factor/``: removes a colleague's devices.

    For a lost phone: the colleague signs in with the password alone and enrols again
    (at once, when two-factor is required for all staff).
    """

    permission_required = RESET_PERMISSION
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = get_object_or_404(User, pk=pk, is_staff=True)
        two_factor.reset(user=member, actor=request.user, request=request)  # type: ignore[arg-type]
        messages.success(
            request,
            _("Reset two-factor sign-in of %(email)s: they will enrol again.")
            % {"email": member.email},
        )
        return redirect("admin:staff_list")
