"""The customer's Renew form: how many cycles, among those the rule book allows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..renewals import RenewalOption


class RenewForm(forms.Form):
    """One radio per allowed number of cycles, labelled with its new expiration and price,
    so the customer sees both before any invoice is made."""

    cycles = forms.TypedChoiceField(
        label=_("Renew for"), coerce=int, widget=forms.RadioSelect, initial=1
    )

    def __init__(self, *args: Any, options: list[RenewalOption], cycle_label: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["cycles"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (
                option.cycles,
                gettext("%(cycles)s × %(cycle)s: until %(date)s, %(price)s %(currency)s")
                % {
                    "cycles": option.cycles,
                    "cycle": cycle_label,
                    "date": date_format(localtime(option.new_expires_at), "DATE_FORMAT"),
                    "price": option.price,
                    "currency": option.currency,
                },
            )
            for option in options
        ]
