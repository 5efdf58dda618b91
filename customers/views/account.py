"""A customer's own account: profile, password and login address (issue 11).

Each page edits the signed-in customer only: no URL names an account, so there is no
one else's to reach. Changing the login address takes effect only once the link sent to
the new address is followed by the same signed-in customer (``customers.signup``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import PasswordChangeView
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, UpdateView

from clientxcms.access import CustomerRequiredMixin, signed_in_user
from customers import signup
from customers.client_forms import (
    ClientPasswordChangeForm,
    EmailChangeForm,
    ProfileForm,
    apply_email_change,
)
from customers.models import Customer
from customers.throttling import ThrottledFormMixin


class AccountView(CustomerRequiredMixin, UpdateView):
    """``/client/account/``: the profile, with links to the password and address pages."""

    form_class = ProfileForm
    template_name = "customers/client/account.html"
    success_url = reverse_lazy("client:account")

    def get_object(self, queryset: Any = None) -> Customer:
        return self.customer

    def form_valid(self, form: BaseForm) -> HttpResponse:
        messages.success(self.request, _("Your profile is saved."))
        return super().form_valid(form)


class AccountPasswordView(CustomerRequiredMixin, PasswordChangeView):
    """``/client/account/password/``: Django's password change; the session stays open."""

    form_class = ClientPasswordChangeForm
    template_name = "customers/client/account_password.html"
    success_url = reverse_lazy("client:account")

    def form_valid(self, form: BaseForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is changed."))
        return response


class EmailChangeView(CustomerRequiredMixin, ThrottledFormMixin, FormView):
    """``/client/account/email/``: sends the confirmation link to the new address.

    Each request sends two e-mails (the link, and a notice to the current address), so
    each counts against the throttling.
    """

    form_class = EmailChangeForm
    template_name = "customers/client/account_email.html"
    success_url = reverse_lazy("client:account")
    throttle_scope = "email-change"
    throttle_every_submission = True

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": signed_in_user(self.request)}

    def form_valid(self, form: BaseForm) -> HttpResponse:
        new_email = form.cleaned_data["email"]
        signup.send_email_change_links(signed_in_user(self.request), new_email, self.request)
        messages.success(
            self.request,
            _("We sent a link to %(email)s: your address changes when you follow it.")
            % {"email": new_email},
        )
        return super().form_valid(form)


class EmailChangeConfirmView(CustomerRequiredMixin, View):
    """``/client/account/email/confirm/<email_token>/``: the link sent to the new address.

    GET shows the change and a button; the POST makes it. The link works for the
    customer it was made for, while their login still has the address it was made from.
    """

    template_name = "customers/client/email_change_confirm.html"

    def change(self, request: HttpRequest, email_token: str) -> signup.EmailChange | None:
        change = signup.read_email_change_token(email_token)
        user = signed_in_user(request)
        if change is None or change.user_id != user.pk or change.old_email != user.email:
            return None
        return change

    def get(self, request: HttpRequest, email_token: str) -> HttpResponse:
        change = self.change(request, email_token)
        return render(request, self.template_name, {"change": change})

    def post(self, request: HttpRequest, email_token: str) -> HttpResponse:
        change = self.change(request, email_token)
        if change is None:
            return render(request, self.template_name, {"change": None})
        if not apply_email_change(signed_in_user(request), change.new_email):
            messages.error(request, _("Another account now has this address: nothing changed."))
            return redirect("client:account")
        messages.success(
            request, _("Your e-mail address is now %(email)s.") % {"email": change.new_email}
        )
        return redirect("client:account")
