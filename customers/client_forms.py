"""Forms a customer fills in about their own account: sign-up, profile, e-mail change.

None of them lets a field through that the customer may not set: the sign-up makes a
login that is never staff (``is_staff`` and the permissions are not fields), the profile
leaves the staff notes and the confirmation state alone.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordMixin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledFormMixin

from .forms import CUSTOMER_LABELS, BusinessDetailsMixin, CustomerPasswordResetForm
from .models import Customer, User

#: Said when the address of a new account or of an e-mail change is already a login's
#: (in English here: translated where it is said).
EMAIL_TAKEN = gettext_noop("An account exists with this address: sign in or reset your password.")


def normalized_email(value: str) -> str:
    """The address as logins store it: domain normalised and all lower case."""
    return User.objects.normalize_email(value).strip().lower()


def email_is_taken(email: str, *, except_user: User | None = None) -> bool:
    """Whether a login (a customer's or staff's) already has ``email``, ignoring case."""
    others = User.objects.filter(email__iexact=email)
    if except_user is not None:
        others = others.exclude(pk=except_user.pk)
    return others.exists()


class SignUpForm(StyledFormMixin, SetPasswordMixin, forms.ModelForm):
    """A new customer: their login (inactive until the address is confirmed) and profile."""

    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("You sign in with it. We send a link to confirm it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password1, password2 = SetPasswordMixin.create_password_fields()

    class Meta:
        model = Customer
        fields = ["first_name", "last_name", "company", "country"]
        labels = CUSTOMER_LABELS

    field_order = ["email", "password1", "password2", "first_name", "last_name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Taxes follow the customer's country: asked of every new customer.
        self.fields["country"].required = True

    def clean_email(self) -> str:
        email = normalized_email(self.cleaned_data["email"])
        if email_is_taken(email):
            raise ValidationError(gettext(EMAIL_TAKEN), code="email_taken")
        return email

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.validate_passwords()
        if cleaned.get("password1") and not self.has_error("password2"):
            candidate = User(
                email=cleaned.get("email", ""),
                full_name=f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}",
            )
            self.validate_password_for_user(candidate, "password1")
        return cleaned

    @transaction.atomic
    def save(self) -> Customer:  # type: ignore[override]  # always commits: login and profile
        """Create the inactive login and the profile waiting for confirmation.

        Raises ``IntegrityError`` when another request took the address in between.
        """
        customer: Customer = super().save(commit=False)
        customer.user = User.objects.create_user(
            self.cleaned_data["email"],
            self.cleaned_data["password1"],
            full_name=customer.full_name,
            is_active=False,
        )
        customer.awaiting_email_confirmation = True
        customer.save()
        return customer


class ResendConfirmationForm(StyledFormMixin, forms.Form):
    """The address of an account waiting for confirmation, to send its link again."""

    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class ProfileForm(BusinessDetailsMixin, StyledFormMixin, forms.ModelForm):
    """What a customer keeps up to date about themselves; the login's name follows.

    The business details (company, VAT number, legal identifier) are checked as on the
    staff form (``BusinessDetailsMixin``); the VAT number's check status is staff's to see.
    """

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
        ]
        labels = CUSTOMER_LABELS

    @transaction.atomic
    def save(self, commit: bool = True) -> Customer:
        customer: Customer = super().save(commit=False)
        vat_changed = self.note_vat_change(customer)
        if commit:
            customer.save()
            customer.user.full_name = customer.full_name
            customer.user.save(update_fields=["full_name"])
            if vat_changed:
                self.queue_vat_check(customer)
        return customer


class ClientPasswordChangeForm(StyledFormMixin, PasswordChangeForm):
    """Django's password change (old password, then the new one twice), styled."""


class EmailChangeForm(StyledFormMixin, forms.Form):
    """A new login address, asked with the password so that an open session is not enough."""

    email = forms.EmailField(
        label=_("New e-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        # Without a user only to be shown empty, as on the throttling's lockout page.
        self.user = user if user is not None else User()
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = normalized_email(self.cleaned_data["email"])
        if email == self.user.email.lower():
            raise ValidationError(_("This is already your address."), code="same_email")
        if email_is_taken(email, except_user=self.user):
            raise ValidationError(gettext(EMAIL_TAKEN), code="email_taken")
        return email

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("Your password is not correct."), code="password_incorrect")
        return password


def apply_email_change(user: User, new_email: str) -> bool:
    """Give ``user``'s login ``new_email``; False when another login took it meanwhile."""
    if email_is_taken(new_email, except_user=user):
        return False
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(email=new_email)
    except IntegrityError:
        return False
    user.email = new_email
    return True


class ClientPasswordResetForm(StyledFormMixin, CustomerPasswordResetForm):
    """The client area's "forgot my password": the staff-sent reset e-mail, asked for by
    the customer (so never sent to staff or to an account that is not active)."""
