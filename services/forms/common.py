"""Fields and checks shared by the create, import and edit forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from delivery.models import Server
from delivery.registry import module_label
from products.choices import BillingCycle
from products.models import Product


def customer_label(customer: Customer) -> str:
    """How a customer appears in a choice: name, company and e-mail, to tell namesakes apart."""
    return f"{customer} — {customer.email}"


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker, to the minute."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class ExpirationField(forms.DateTimeField):
    """An expiration entered to the minute.

    An untouched value is not a change: the stored expiration has seconds the picker
    does not show, and saving the form must not round them away.
    """

    widget = LocalDateTimeInput

    def has_changed(self, initial: Any, data: Any) -> bool:
        if isinstance(initial, dt.datetime):
            initial = timezone.localtime(initial).replace(second=0, microsecond=0)
        return super().has_changed(initial, data)


class ProductSelect(forms.Select):
    """A product choice whose options carry their type, so the page can follow a product."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-module"] = instance.module
        return option


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:
        return f"{obj.name} ({module_label(obj.module)})"


class ServerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Server) -> str:
        return f"{obj.name} — {obj.hostname} ({module_label(obj.module)})"


def clean_expiration(form: forms.BaseForm) -> None:
    """A one-time service never expires: say so on the field rather than as a constraint."""
    data = form.cleaned_data
    if data.get("billing_cycle") == BillingCycle.ONE_TIME and data.get("expires_at"):
        form.add_error("expires_at", _("A one-time service never expires: leave this empty."))
