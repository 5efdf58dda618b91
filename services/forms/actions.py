"""The settings forms of the actions on one service (the details page, the client area)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledFormMixin, choice_field

from .. import rules
from ..choices import CancelWhen, ServiceAction
from ..models import Service


class ServiceActionForm(StyledFormMixin, forms.Form):
    """The settings of an action on one service; most actions only take a reason."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Reason"),
        help_text=_("Kept in the service's history."),
    )

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        self.service = service
        super().__init__(*args, **kwargs)


class ConfirmForm(ServiceActionForm):
    """An action with nothing to set: the confirmation is the whole form."""

    reason = None  # type: ignore[assignment]  # a field set to None is removed


class SuspendForm(ServiceActionForm):
    notify = forms.BooleanField(
        required=False, initial=True, label=_("E-mail the customer about it")
    )


class CancelForm(ServiceActionForm):
    """Cancel now, or at the end of the paid period when the service has one left."""

    when = forms.ChoiceField(
        choices=CancelWhen.choices,
        initial=CancelWhen.NOW,
        widget=forms.RadioSelect,
        label=_("When"),
    )

    field_order = ["when", "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schedulable = rules.decide(self.service, ServiceAction.SCHEDULE_CANCEL).allowed
        if not schedulable:
            choice_field(self, "when").choices = [(CancelWhen.NOW, CancelWhen.NOW.label)]


class RenewForm(ServiceActionForm):
    reason = None  # type: ignore[assignment]  # a field set to None is removed
    cycles = forms.IntegerField(
        min_value=1,
        max_value=36,
        initial=1,
        label=_("Billing cycles"),
        help_text=_("Each cycle counts as one renewal. No invoice is made."),
    )


class ShiftExpirationForm(ServiceActionForm):
    """Add or subtract days: the expiration moves without a renewal."""

    direction = forms.ChoiceField(
        choices=[("add", _("Add days")), ("subtract", _("Subtract days"))],
        initial="add",
        widget=forms.RadioSelect,
        label=_("Direction"),
    )
    days = forms.IntegerField(min_value=1, max_value=3650, initial=7, label=_("Days"))

    field_order = ["direction", "days", "reason"]

    @property
    def signed_days(self) -> int:
        days = self.cleaned_data["days"]
        return -days if self.cleaned_data["direction"] == "subtract" else days
