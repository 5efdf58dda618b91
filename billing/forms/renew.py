"""The customer's Renew form: how many cycles, among those the rule book allows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.formats import date_format
from django.utils.timezone import localtime

from ..renewals import RenewalOption


class RenewForm(forms.Form):
    """One radio per allowed number of cycles, labelled with its new expiration and price,
    so the customer sees both before any invoice is made."""

    cycles = forms.TypedChoiceField(
        label="Renew for", coerce=int, widget=forms.RadioSelect, initial=1
    )

    def __init__(self, *args: Any, options: list[RenewalOption], cycle_label: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["cycles"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (
                option.cycles,
                f"{option.cycles} × {cycle_label}: until "
                f"{date_format(localtime(option.new_expires_at), 'DATE_FORMAT')}, "
                f"{option.price} {option.currency}",
            )
            for option in options
        ]
