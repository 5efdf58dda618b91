"""Forms of the staff security pages: the two-factor code, and the activity log's filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledForm

from .models import User


class TwoFactorCodeForm(StyledForm):
    """A code from the authenticator app, or one of the recovery codes."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
        help_text=_("The 6 digits shown by your authenticator app, or one of your recovery codes."),
    )


class EnrolmentCodeForm(StyledForm):
    """The first code from the app, which proves it was set up before the device counts."""

    code = forms.RegexField(
        label=_("Code from the app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown by the app.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class StaffActivityFilterForm(StyledForm):
    """Narrows the activity log to one staff member."""

    actor = forms.ModelChoiceField(
        label=_("Staff member"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Everyone"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actor = self.fields["actor"]
        assert isinstance(actor, forms.ModelChoiceField)
        actor.queryset = User.objects.filter(is_staff=True).order_by("email")
