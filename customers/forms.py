"""Forms of the customers app: signing in to either area."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from django.core.exceptions import ValidationError

from .models import User


class AreaAuthenticationForm(AuthenticationForm):
    """Signs in by e-mail, then refuses an account that does not belong to this area.

    The refusal comes only after the password has been checked: a wrong password gets
    Django's usual message, and the area's message is shown only to someone who already
    holds the right password, so it helps no one guess.
    """

    username = UsernameField(
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    refused_message = ""

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

    refused_message = "This account cannot sign in to the administration area."

    def is_allowed(self, user: User) -> bool:
        return user.is_staff


class CustomerAuthenticationForm(AreaAuthenticationForm):
    """The client area's login: users with a customer profile only, so never staff."""

    refused_message = "This account cannot sign in to the client area."

    def is_allowed(self, user: User) -> bool:
        return user.is_customer
