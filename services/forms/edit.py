"""Editing a service: the seed's "Editing" fields, saved by ``lifecycle.update``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from clientxcms.forms import StyledFormMixin, choice_field, model_choice_field
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.registry import module_choices, module_label

from ..models import Service
from .common import (
    ExpirationField,
    ServerChoiceField,
    clean_expiration,
)

#: Marked with gettext_noop: the English text, translated where the form shows it.
STATUS_ADVICE = gettext_noop(
    "We recommend not modifying the service status via editing. It is preferable to use "
    "actions. It is only there in case of major need."
)


class ServiceEditForm(StyledFormMixin, forms.ModelForm):
    """Every field the seed lists for editing, and an optional reason for the history."""

    expires_at = ExpirationField(
        label=gettext_lazy("Expiration"),
        required=False,
        help_text=gettext_lazy("Empty for a one-time service."),
    )
    # Entered to the minute, as the expiration is.
    hold_until = ExpirationField(
        label=gettext_lazy("Do not suspend or terminate until"),
        required=False,
        help_text=gettext_lazy(
            "A date agreed with the customer: until then the automation neither expires nor "
            "terminates this service, and its termination days count from then. You can "
            "still suspend or terminate it by hand. Empty: no agreement."
        ),
    )
    server = ServerChoiceField(
        queryset=Server.objects.none(),
        required=False,
        empty_label=gettext_lazy("No server"),
        label=gettext_lazy("Server"),
    )
    module = forms.ChoiceField(
        label=gettext_lazy("Service type"), help_text=gettext_lazy("The delivery module.")
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label=gettext_lazy("Reason"),
        help_text=gettext_lazy("Kept in the service's history with the changes."),
        widget=forms.TextInput,
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "expires_at",
            "price",
            "initial_price",
            "server",
            "billing_cycle",
            "notes",
            "description",
            "max_renewals",
            "hold_until",
            "status",
            "module",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"status": gettext_lazy(STATUS_ADVICE)}
        labels = {
            "price": gettext_lazy("Price"),
            "initial_price": gettext_lazy("Initial price"),
            "notes": gettext_lazy("Notes"),
            "description": gettext_lazy("Description"),
            "status": gettext_lazy("Status"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = self.instance
        choices = module_choices()
        if service.module not in dict(choices):
            choices.append(
                (service.module, _("%(module)s (not installed)") % {"module": service.module})
            )
        choice_field(self, "module").choices = choices
        model_choice_field(self, "server").queryset = Server.objects.filter(
            ~Q(status=ServerStatus.DISABLED) | Q(pk=service.server_id)
        ).order_by("module", "name")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        clean_expiration(self)
        key, server, product = data.get("module"), data.get("server"), self.instance.product
        if key and server is not None and server.module != key:
            self.add_error(
                "server",
                _("%(server)s is a %(type)s server, not %(chosen)s.")
                % {"server": server, "type": module_label(server.module), "chosen": key},
            )
        if key and product is not None and product.module != key:
            self.add_error(
                "module",
                _(
                    "The product “%(product)s” is a %(type)s product: the service type must be "
                    "the product type."
                )
                % {"product": product, "type": module_label(product.module)},
            )
        return data

    def changes(self) -> dict[str, Any]:
        """The fields staff changed, with their new values, for ``lifecycle.update``."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}
