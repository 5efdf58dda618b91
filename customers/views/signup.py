"""Opening an account from the client area, confirming its address, and a forgotten
password (issue 11).

The pages are open to visitors. Sign-up, sending the link again and the password reset
each send an e-mail, so every submission counts against the sign-in throttling
(``customers.throttling.ThrottledFormMixin``): one address cannot fill someone's inbox
or create accounts by the thousand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import PasswordResetDoneView, PasswordResetView
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from customers import signup
from customers.client_forms import (
    EMAIL_TAKEN,
    ClientPasswordResetForm,
    ResendConfirmationForm,
    SignUpForm,
)
from customers.throttling import ThrottledFormMixin

#: The session key of the address a link was just sent to, shown on the "sent" page.
SENT_TO_KEY = "signup_sent_to"
#: ``login()`` needs the backend when several are configured; the link proved the address.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignUpView(ThrottledFormMixin, FormView):
    """``/client/signup/``: a new customer, inactive until the e-mailed link is followed.

    Someone already signed in has an account: a customer goes to their home, staff get
    the client area's 403 (DESIGN.md §3), so no one signs up from a staff session.
    """

    form_class = SignUpForm
    template_name = "customers/client/signup.html"
    success_url = reverse_lazy("client:signup_sent")
    throttle_scope = "signup"
    throttle_every_submission = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            if getattr(request.user, "is_customer", False):
                return redirect("client:home")
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: BaseForm) -> HttpResponse:
        assert isinstance(form, SignUpForm)
        try:
            customer = form.save()
        except IntegrityError:  # the address was taken between the check and the insert
            form.add_error("email", _(EMAIL_TAKEN))
            return self.form_invalid(form)
        signup.send_signup_confirmation(customer, self.request)
        self.request.session[SENT_TO_KEY] = customer.user.email
        return super().form_valid(form)


class SignUpSentView(TemplateView):
    """``/client/signup/sent/``: where the link went, and a way to send it again."""

    template_name = "customers/client/signup_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        sent_to = str(self.request.session.get(SENT_TO_KEY, ""))
        return super().get_context_data(
            sent_to=sent_to, resend_form=ResendConfirmationForm(initial={"email": sent_to})
        )


class ResendConfirmationView(ThrottledFormMixin, FormView):
    """``/client/signup/resend/``: the confirmation link again, to an unconfirmed account.

    The answer is the same whether or not such an account exists, so that the page
    tells no one which addresses have one.
    """

    form_class = ResendConfirmationForm
    template_name = "customers/client/signup_resend.html"
    success_url = reverse_lazy("client:signup_sent")
    throttle_scope = "signup-resend"
    throttle_every_submission = True

    def form_valid(self, form: BaseForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        customer = signup.awaiting_customer(email)
        if customer is not None:
            signup.send_signup_confirmation(customer, self.request)
        self.request.session[SENT_TO_KEY] = email
        return super().form_valid(form)


class SignUpConfirmView(View):
    """``/client/signup/confirm/<uidb64>/<confirm_token>/``: the e-mailed link.

    Following the link (GET) only shows a button: the account is activated by the POST
    it sends, so that a mail scanner that opens links activates nothing. Activating
    signs the customer in; a link that was altered, has expired or was already used is
    refused with a way to ask for a new one.
    """

    template_name = "customers/client/signup_confirm.html"

    def get(self, request: HttpRequest, uidb64: str, confirm_token: str) -> HttpResponse:
        user = signup.user_for_confirmation(uidb64, confirm_token)
        if user is None:
            return self.refuse(request)
        awaiting = getattr(getattr(user, "customer", None), "awaiting_email_confirmation", False)
        state = "ready" if awaiting and not user.is_active else "done"
        return render(request, self.template_name, {"state": state, "email": user.email})

    def post(self, request: HttpRequest, uidb64: str, confirm_token: str) -> HttpResponse:
        user = signup.user_for_confirmation(uidb64, confirm_token)
        if user is None or not signup.confirm_signup(user):
            return self.refuse(request)
        login(request, user, backend=LOGIN_BACKEND)
        messages.success(
            request,
            _("Your e-mail address %(email)s is confirmed. Welcome!") % {"email": user.email},
        )
        return redirect("client:home")

    def refuse(self, request: HttpRequest) -> HttpResponse:
        context = {"state": "invalid", "resend_form": ResendConfirmationForm()}
        return render(request, self.template_name, context)


class ClientPasswordResetView(ThrottledFormMixin, PasswordResetView):
    """``/client/password-reset/``: "forgot my password", answered by the same e-mail as
    the one staff send (``customers.forms.send_password_reset_email``).

    As Django's, the answer never says whether the address has an account.
    """

    form_class = ClientPasswordResetForm
    template_name = "customers/client/password_reset.html"
    subject_template_name = "customers/emails/password_reset_subject.txt"
    email_template_name = "customers/emails/password_reset.txt"
    extra_email_context = {"new_account": False}
    success_url = reverse_lazy("client:password_reset_sent")
    throttle_scope = "password-reset"
    throttle_every_submission = True


class ClientPasswordResetSentView(PasswordResetDoneView):
    """``/client/password-reset/sent/``: "if the address has an account, we sent a link"."""

    template_name = "customers/client/password_reset_sent.html"
