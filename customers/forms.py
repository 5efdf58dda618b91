"""Forms of the customers app: signing in to either area, and staff managing customers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    SetPasswordForm,
    SetPasswordMixin,
    UsernameField,
)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from clientxcms.forms import StyledFormMixin

from . import vat
from .mail import send_to_customer
from .models import Customer, User

logger = logging.getLogger(__name__)


class AreaAuthenticationForm(AuthenticationForm):
    """Signs in by e-mail, then refuses an account that does not belong to this area.

    The refusal comes only after the password has been checked: a wrong password gets
    Django's usual message, and the area's message is shown only to someone who already
    holds the right password, so it helps no one guess.
    """

    username = UsernameField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    refused_message: StrOrPromise = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"

    def is_allowed(self, user: User) -> bool:
        raise NotImplementedError

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not self.is_allowed(user):
            raise ValidationError(self.refused_message, code="wrong_area")


class StaffAuthenticationForm(AreaAuthenticationForm):
    """The administration area's login: staff only."""

    refused_message = _("This account cannot sign in to the administration area.")

    def is_allowed(self, user: User) -> bool:
        return user.is_staff


class CustomerAuthenticationForm(AreaAuthenticationForm):
    """The client area's login: users with a customer profile only, so never staff.

    A new account stays inactive until its address is confirmed (customers.signup), and
    Django refuses an inactive login as if the password were wrong. Whoever holds the
    right password of such an account is told instead to confirm the address first,
    and ``unconfirmed_email`` lets the page offer to send the link again; a wrong
    password, or an account that staff disabled, still gets Django's usual message.
    """

    refused_message = _("This account cannot sign in to the client area.")
    unconfirmed_email = ""

    def is_allowed(self, user: User) -> bool:
        return user.is_customer

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError as refusal:
            if refusal.code == "invalid_login" and self.awaits_confirmation():
                self.unconfirmed_email = self.cleaned_data["username"]
                raise ValidationError(
                    gettext("Confirm your e-mail address first: we sent a link to %(email)s.")
                    % {"email": self.unconfirmed_email},
                    code="unconfirmed",
                ) from refusal
            raise

    def awaits_confirmation(self) -> bool:
        """Whether the address and password typed are those of an unconfirmed account."""
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not email or not password:
            return False
        user = User.objects.filter(
            email__iexact=email, is_active=False, customer__awaiting_email_confirmation=True
        ).first()
        return user is not None and user.check_password(password)


DUPLICATE_EMAIL = _("An account with this e-mail address already exists.")

#: The labels of the customer's fields that have no verbose name of their own (adding one
#: to the model would change its migrations): the same words as Django's default labels.
CUSTOMER_LABELS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "company": _("Company"),
    "phone": _("Phone"),
    "city": _("City"),
    "postcode": _("Postcode"),
    "country": _("Country"),
}


if TYPE_CHECKING:
    # Always mixed into a customer's ModelForm: say so to the type checker only.
    _CustomerFormBase = forms.ModelForm
else:
    _CustomerFormBase = object


class BusinessDetailsMixin(_CustomerFormBase):
    """A customer's VAT number and legal identifier, checked against the country chosen in
    the same form (``customers.vat``), for the staff form and the client-area profile alike.

    ``note_vat_change`` (before saving) gives a changed number or country a new status,
    and ``queue_vat_check`` (after) asks VIES about it once the change is committed.
    """

    instance: Customer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._vat_before = (self.instance.vat_number, str(self.instance.country))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        country = str(cleaned.get("country") or "")
        if "vat_number" in cleaned and not self.has_error("country"):
            try:
                cleaned["vat_number"] = vat.normalise(cleaned["vat_number"], country)
            except ValidationError as error:
                self.add_error("vat_number", error)
        if "legal_identifier" in cleaned and not self.has_error("country"):
            try:
                cleaned["legal_identifier"] = vat.normalise_legal_id(
                    cleaned["legal_identifier"], country
                )
            except ValidationError as error:
                self.add_error("legal_identifier", error)
        return cleaned

    def note_vat_change(self, customer: Customer) -> bool:
        """Reset the number's status when the number or the country changed (not saved)."""
        if (customer.vat_number, str(customer.country)) == self._vat_before:
            return False
        vat.reset_status(customer)
        return True

    def queue_vat_check(self, customer: Customer) -> bool:
        """Queue the VIES check of a changed number (inside the saving transaction)."""
        return vat.queue_check(customer)


class CustomerForm(BusinessDetailsMixin, StyledFormMixin, forms.ModelForm):
    """A customer's profile and the e-mail address of their login, edited together.

    The address lives on the ``User`` (it is the login); it is compared without case,
    as the database's unique constraint does, so that ``Bob@x`` cannot shadow ``bob@x``.
    """

    email = forms.EmailField(
        label=_("E-mail address"), help_text=_("The customer signs in with it.")
    )

    class Meta:
        model = Customer
        fields = [
            "first_name",
            "last_name",
            "company",
            "vat_number",
            "legal_identifier",
            "phone",
            "address_line1",
            "address_line2",
            "postcode",
            "city",
            "state",
            "country",
            "language",
            "notes",
            "hold_until",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            # The browser's date-and-time picker, to the minute.
            "hold_until": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }
        labels = CUSTOMER_LABELS
        help_texts = {
            "hold_until": _(
                "A date agreed with the customer: until then the automation neither expires "
                "nor terminates any of their services, and the termination days count from "
                "then. Staff can still suspend or terminate by hand. Empty: no agreement."
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["email"].initial = self.instance.user.email

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.user_id)
        if others.exists():
            raise ValidationError(DUPLICATE_EMAIL, code="duplicate_email")
        return email

    @transaction.atomic
    def save(self) -> Customer:  # type: ignore[override]  # always commits: login and profile
        """Save the login and the profile in one transaction."""
        customer = super().save(commit=False)
        customer.user = self.save_user(customer)
        vat_changed = self.note_vat_change(customer)
        customer.save()
        if vat_changed:
            self.queue_vat_check(customer)
        return customer

    def save_user(self, customer: Customer) -> User:
        """Copy the address and the name to the existing login."""
        user = customer.user
        user.email = self.cleaned_data["email"]
        user.full_name = customer.full_name
        user.save(update_fields=["email", "full_name"])
        return user


class CustomerCreateForm(SetPasswordMixin, CustomerForm):
    """A new customer: their login and profile, with a password or a set-password e-mail."""

    password1, password2 = SetPasswordMixin.create_password_fields()
    send_password_email = forms.BooleanField(
        label=_("E-mail the customer a link to choose their password"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        password1, password2 = self.fields["password1"], self.fields["password2"]
        password1.required = password2.required = False
        password1.help_text = _("Optional: leave it empty and the customer chooses one by e-mail.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns, typed as never None
        self.validate_passwords()
        password = cleaned.get("password1")
        if password and cleaned.get("send_password_email"):
            self.add_error(
                "send_password_email",
                gettext(
                    "Set a password or send the e-mail, not both: the e-mail would replace it."
                ),
            )
        if password and not self.has_error("password2"):
            candidate = User(email=cleaned.get("email", ""))
            self.validate_password_for_user(candidate, "password1")
        return cleaned

    def save_user(self, customer: Customer) -> User:
        """Create the login; without a password it has an unusable one until the e-mail."""
        return User.objects.create_user(
            self.cleaned_data["email"],
            self.cleaned_data.get("password1") or None,
            full_name=customer.full_name,
        )


class CustomerPasswordResetForm(PasswordResetForm):
    """Django's password-reset e-mail, sent by staff to a customer, linking to the client area.

    Django skips accounts without a usable password; staff send this precisely to
    customers created without one, so only inactive accounts and staff are skipped.
    """

    #: Named as on the sign-in page ("E-mail address"), not Django's "Email".
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def get_users(self, email: str) -> QuerySet[User]:
        return User.objects.filter(email__iexact=email, is_active=True, customer__isnull=False)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Send through ``customers.mail`` (text and HTML, the customer's language, logged
        without the link), from ``<email_template_name minus .txt>``'s three templates.

        As Django's own, a failure is logged rather than raised: the page answers the same
        whether or not the address has an account; the e-mail log shows it failed.
        """
        user = context["user"]
        try:
            send_to_customer(
                user.customer,
                kind="password_reset",
                template=email_template_name.removesuffix(".txt"),
                context=context,
                to=to_email,
            )
        except Exception:
            logger.exception("Failed to send password reset email to %s", user.pk)


def send_password_reset_email(user: User, request: HttpRequest, *, new_account: bool) -> None:
    """E-mail ``user`` a one-use link to ``client:password_reset_confirm``."""
    form = CustomerPasswordResetForm({"email": user.email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=request.is_secure(),
            subject_template_name="customers/emails/password_reset_subject.txt",
            email_template_name="customers/emails/password_reset.txt",
            # The stubs want str values; the template context takes any.
            extra_email_context={"new_account": new_account},  # type: ignore[dict-item]
        )


class CustomerSetPasswordForm(StyledFormMixin, SetPasswordForm):
    """The client area's "choose a new password" form, styled like the rest of the panel."""
