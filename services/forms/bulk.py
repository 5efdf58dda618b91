"""Forms of the bulk actions: the selection sent by the list, and each action's settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..actions import CATALOGUE
from ..bulk import service_action
from ..choices import BulkAction, CancelWhen


class SelectionForm(forms.Form):
    """What the list posts: an action and either ticked ids or 'every matching service'.

    With ``select_all`` the ids are ignored and the filters in ``query`` are run again on
    the server.
    """

    action = forms.ChoiceField(choices=BulkAction.choices, label=gettext_lazy("Action"))
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    select_all = forms.BooleanField(required=False)
    query = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any integer is a valid choice; the queryset decides what exists.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()  # type: ignore[attr-defined]  # noqa: E501

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("select_all") and not data.get("ids"):
            raise forms.ValidationError(
                _("Select at least one service, or every matching service.")
            )
        return data


class ActionSettingsForm(forms.Form):
    """The settings of one bulk action; only the fields that action uses are kept."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Reason"),
    )
    notify = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("E-mail the customers")
    )
    when = forms.ChoiceField(
        choices=CancelWhen.choices, initial=CancelWhen.NOW, label=gettext_lazy("Cancel")
    )
    cycles = forms.IntegerField(
        min_value=1, max_value=36, initial=1, label=gettext_lazy("Billing cycles")
    )
    days = forms.IntegerField(min_value=1, max_value=3650, initial=7, label=gettext_lazy("Days"))

    def __init__(self, *args: Any, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep = CATALOGUE[service_action(action, {})[0]].bulk_fields
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
