"""Staff two-factor pages: the second sign-in step, and enrolling an authenticator app.

The rules (who must give a code, who must enrol) are in ``customers.two_factor``; these
views only ask for codes and show what enrolment needs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from clientxcms.access import StaffRequiredMixin
from customers import two_factor
from customers.models import User
from customers.staff_forms import EnrolmentCodeForm, TwoFactorCodeForm

WRONG_CODE = _("That code is not valid. Enter the current code, or an unused recovery code.")
THROTTLED = _("Too many wrong codes: wait a few seconds, then enter the current code.")
WRONG_ENROLMENT_CODE = _(
    "That code does not match: check the time on your phone and enter the code shown now."
)


def local_next(request: HttpRequest, default: str) -> str:
    """The ``next`` of the request when it is a path on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return default


class TwoFactorVerifyView(LoginRequiredMixin, View):
    """``/admin/login/verify/``: the code after the password, for staff who enrolled.

    Signed in by password but not verified, a staff member reaches no other staff page
    (``StaffRequiredMixin`` sends them here); a right code marks the session verified.
    """

    login_url = reverse_lazy("admin:login")
    template_name = "customers/admin/login_verify.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not request.user.is_staff:
            raise PermissionDenied("The second step is for staff accounts.")
        return super().dispatch(request, *args, **kwargs)

    def next_url(self) -> str:
        return local_next(self.request, reverse("admin:home"))

    def already_through(self) -> bool:
        user: User = self.request.user  # type: ignore[assignment]
        return not user.two_factor_enabled or two_factor.is_verified(user)

    def render_form(self, form: TwoFactorCodeForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "next": self.next_url()}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.already_through():
            return HttpResponseRedirect(self.next_url())
        return self.render_form(TwoFactorCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.already_through():
            return HttpResponseRedirect(self.next_url())
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid():
            # Asked before the code is tried: a wrong code starts a wait of its own.
            throttled = two_factor.is_throttled(request.user)  # type: ignore[arg-type]
            if two_factor.verify(request, form.cleaned_data["code"]):
                return HttpResponseRedirect(self.next_url())
            form.add_error("code", THROTTLED if throttled else WRONG_CODE)
        return self.render_form(form)


class TwoFactorEnrolView(StaffRequiredMixin, View):
    """``/admin/account/two-factor/``: set up an authenticator app, then get recovery codes.

    The page shows the QR code and the secret of a new, unconfirmed device; the device
    counts only once a code from the app confirms it. The recovery codes are shown once,
    in the answer to that confirmation, and never again.
    """

    two_factor_enrolment_page = True
    template_name = "customers/admin/two_factor.html"
    codes_template_name = "customers/admin/two_factor_codes.html"

    def render_enrolment(self, form: EnrolmentCodeForm) -> HttpResponse:
        user: User = self.request.user  # type: ignore[assignment]
        context: dict[str, Any] = {"enabled": user.two_factor_enabled, "form": form}
        if not user.two_factor_enabled:
            device = two_factor.pending_totp_device(user)
            context.update(
                qr_code=two_factor.qr_code_data_uri(device),
                secret=two_factor.secret_text(device),
            )
        return render(self.request, self.template_name, context)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_enrolment(EnrolmentCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        if user.two_factor_enabled:
            messages.info(request, gettext("Two-factor sign-in is already on for your account."))
            return HttpResponseRedirect(reverse("admin:two_factor"))
        form = EnrolmentCodeForm(request.POST)
        if form.is_valid():
            device = two_factor.pending_totp_device(user)
            codes = two_factor.confirm_enrolment(request, device, form.cleaned_data["code"])
            if codes is not None:
                return render(request, self.codes_template_name, {"codes": codes})
            form.add_error("code", WRONG_ENROLMENT_CODE)
        return self.render_enrolment(form)
