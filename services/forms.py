"""Forms of the services administration: creating, importing, editing, and the actions.

Creating and importing take two steps. ``ServiceTargetForm`` (step 1) chooses who the
service is for and what delivers it; step 2 (``ServiceCreateForm``, ``ServiceImportForm``)
fills in the service itself. Step 1's choices travel in the URL and in hidden fields, so
step 2 validates them again rather than trusting what the browser carried over.

Forms only validate and collect values: the views hand them to ``services.lifecycle``,
which is what changes a service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from clientxcms.forms import StyledFormMixin, mark_invalid, style_fields
from customers.models import Customer
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.modules.base import DeliveryModule
from delivery.registry import UnknownModule, get_module, module_choices
from products.choices import BillingCycle
from products.cycles import add_cycles
from products.models import Product

from .choices import LIVE, RENEWABLE, CancelWhen, ServiceStatus
from .models import Service

S = ServiceStatus
#: How many customers one search returns: enough to pick from, never the whole table.
CUSTOMER_SEARCH_LIMIT = 20
STATUS_ADVICE = (
    "We recommend not modifying the service status via editing. It is preferable to use "
    "actions. It is only there in case of major need."
)


def customer_label(customer: Customer) -> str:
    """How a customer appears in a choice: name, company and e-mail, to tell namesakes apart."""
    return f"{customer} — {customer.email}"


def search_customers(query: str) -> QuerySet[Customer]:
    """Customers whose name, company or e-mail contains every word of ``query``, or its id.

    Bounded by ``CUSTOMER_SEARCH_LIMIT`` so that a search costs the same with a thousand
    customers as with a million.
    """
    customers = Customer.objects.select_related("user").order_by("last_name", "first_name", "id")
    words = query.split()
    if not words:
        return customers[:CUSTOMER_SEARCH_LIMIT]
    condition = Q()
    for word in words:
        condition &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company__icontains=word)
            | Q(user__email__icontains=word)
        )
    if query.strip().lstrip("#").isdigit():
        condition |= Q(pk=int(query.strip().lstrip("#")))
    return customers.filter(condition)[:CUSTOMER_SEARCH_LIMIT]


def module_label(key: str) -> str:
    """The label of the module ``key``, or the key itself when no module has it any more."""
    try:
        return get_module(key).label
    except UnknownModule:
        return key


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


# Step 1: customer, product, type -------------------------------------------------------


@dataclass(frozen=True)
class ServiceTarget:
    """Step 1's choices: who the service is for and what delivers it."""

    customer: Customer
    product: Product | None
    module_key: str

    @property
    def module(self) -> DeliveryModule:
        return get_module(self.module_key)

    def as_query(self) -> dict[str, Any]:
        """The choices as URL parameters, to carry them to step 2 and back."""
        return {
            "customer": self.customer.pk,
            "product": self.product.pk if self.product else "",
            "module": self.module_key,
        }


class ServiceTargetForm(StyledFormMixin, forms.Form):
    """Step 1: the customer (searched, never listed in full), the product, the service type.

    The customer field offers only the chosen customer: the page fills its options from
    the customer search, so the form never loads the whole customer table.
    """

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.select_related("user"),
        widget=forms.Select(attrs={"size": 6}),
        error_messages={"invalid_choice": "Choose a customer from the search results."},
    )
    product = ProductChoiceField(
        queryset=Product.objects.all(),
        required=False,
        empty_label="No product: a custom service",
        widget=ProductSelect,
        help_text="Its type must be the service type chosen below.",
    )
    module = forms.ChoiceField(label="Service type", help_text="The delivery module.")

    def __init__(self, *args: Any, importing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].choices = [
            (key, label)
            for key, label in module_choices()
            if not importing or get_module(key).supports_import
        ]
        self.fields["customer"].widget.choices = self._chosen_customer()

    def _chosen_customer(self) -> list[tuple[Any, str]]:
        value = self["customer"].value()
        if not str(value or "").isdigit():
            return []
        chosen = Customer.objects.select_related("user").filter(pk=value).first()
        return [(chosen.pk, customer_label(chosen))] if chosen else []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        product, key = data.get("product"), data.get("module")
        if product is not None and key and product.module != key:
            self.add_error(
                "product",
                f"The product “{product}” is a {module_label(product.module)} product, not "
                f"{module_label(key)}: the product type must be the service type. Choose "
                "another product, another type, or no product.",
            )
        return data

    @property
    def target(self) -> ServiceTarget:
        data = self.cleaned_data
        return ServiceTarget(data["customer"], data["product"], data["module"])


# Step 2: the service -------------------------------------------------------------------


def cycle_defaults(product: Product | None) -> dict[str, dict[str, str]]:
    """Per billing cycle, what step 2 starts from: the product's price, one cycle from now.

    The page switches to a cycle's values when staff change the recurrence, so the
    prices and the expiration always match the cycle shown.
    """
    now = timezone.now()
    prices = {}
    if product is not None:
        prices = {
            price.cycle: price
            for price in product.prices.filter(currency=settings.DEFAULT_CURRENCY)
        }
    defaults = {}
    for cycle in BillingCycle:
        expires = add_cycles(now, cycle)
        entry = {
            "expires_at": timezone.localtime(expires).strftime("%Y-%m-%dT%H:%M") if expires else ""
        }
        if cycle in prices:
            entry["price"] = str(prices[cycle].price)
            entry["initial_price"] = str(prices[cycle].price + prices[cycle].setup_fee)
        defaults[cycle.value] = entry
    return defaults


def first_cycle(defaults: dict[str, dict[str, str]]) -> str:
    """The cycle step 2 starts on: monthly if the product sells it, else its first price."""
    priced = [
        cycle for cycle in [BillingCycle.MONTHLY, *BillingCycle] if "price" in defaults[cycle]
    ]
    return priced[0] if priced else BillingCycle.MONTHLY


def clean_expiration(form: forms.BaseForm) -> None:
    """A one-time service never expires: say so on the field rather than as a constraint."""
    data = form.cleaned_data
    if data.get("billing_cycle") == BillingCycle.ONE_TIME and data.get("expires_at"):
        form.add_error("expires_at", "A one-time service never expires: leave this empty.")


class ServiceCreateForm(StyledFormMixin, forms.ModelForm):
    """Step 2 of creating: the seed's fields, prefilled from the product."""

    expires_at = ExpirationField(
        label="Expiration", required=False, help_text="Empty for a one-time service."
    )
    server = ServerChoiceField(queryset=Server.objects.none(), required=False)

    class Meta:
        model = Service
        fields = [
            "name",
            "expires_at",
            "description",
            "price",
            "initial_price",
            "server",
            "billing_cycle",
            "notes",
            "max_renewals",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, data: Any = None, *, target: ServiceTarget, **kwargs: Any) -> None:
        self.target = target
        self.cycle_defaults = cycle_defaults(target.product)
        instance = Service(
            customer=target.customer, product=target.product, module=target.module_key
        )
        super().__init__(data, instance=instance, initial=self._prefill(), **kwargs)
        server = self.fields["server"]
        server.queryset = Server.objects.filter(module=target.module_key).exclude(
            status=ServerStatus.DISABLED
        )
        server.required = target.module.requires_server
        server.empty_label = "Choose a server" if server.required else "No server"
        server.help_text = f"Only {module_label(target.module_key)} servers that are not disabled."
        options_form = target.module.service_form
        #: The module's own options for this service (its ``service_form``), if it asks any.
        self.module_form = options_form(data, prefix="module") if options_form else None
        if self.module_form is not None:
            style_fields(self.module_form)

    def _prefill(self) -> dict[str, Any]:
        cycle = first_cycle(self.cycle_defaults)
        defaults = self.cycle_defaults[cycle]
        return {
            "name": self.target.product.name if self.target.product else "",
            "billing_cycle": cycle,
            "price": defaults.get("price"),
            "initial_price": defaults.get("initial_price"),
            "expires_at": defaults["expires_at"] or None,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        clean_expiration(self)
        return data

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if self.module_form is None:
            return valid
        module_valid = self.module_form.is_valid()
        mark_invalid(self.module_form)
        return valid and module_valid

    def service_fields(self) -> dict[str, Any]:
        """The fields to give ``lifecycle.create``: step 1's choices and step 2's values."""
        options = self.module_form.cleaned_data if self.module_form is not None else {}
        return {
            "customer": self.target.customer,
            "product": self.target.product,
            "module": self.target.module_key,
            "module_data": options,
            **{name: self.cleaned_data[name] for name in self._meta.fields},
        }


class ServiceImportForm(ServiceCreateForm):
    """Step 2 of importing: the same fields, a server, and the resource to link."""

    resource_id = forms.CharField(
        label="Resource", max_length=191, error_messages={"required": "Choose a resource."}
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        server = self.fields["server"]
        server.required = True
        # Choosing another server reloads its resource list in place.
        server.widget.attrs.update(
            {
                "hx-get": reverse("admin:service_import_resources"),
                "hx-trigger": "change",
                "hx-target": "#importable-resources",
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        server, resource = data.get("server"), data.get("resource_id")
        if server and resource:
            owner = linked_services(server, [resource]).get(resource)
            if owner is not None:
                self.add_error(
                    "resource_id",
                    f"Resource {resource} is already linked to service #{owner.pk} "
                    f"({owner.name}): it cannot be imported twice.",
                )
        return data


def linked_services(server: Server, resource_ids: list[str]) -> dict[str, Service]:
    """The live services already linked to ``resource_ids`` on ``server``, by resource."""
    services = Service.objects.filter(
        server=server, external_id__in=resource_ids, status__in=LIVE
    ).only("pk", "name", "external_id", "status")
    return {service.external_id: service for service in services}


# Editing -------------------------------------------------------------------------------


class ServiceEditForm(StyledFormMixin, forms.ModelForm):
    """Every field the seed lists for editing, and an optional reason for the history."""

    expires_at = ExpirationField(
        label="Expiration", required=False, help_text="Empty for a one-time service."
    )
    server = ServerChoiceField(
        queryset=Server.objects.none(), required=False, empty_label="No server"
    )
    module = forms.ChoiceField(label="Service type", help_text="The delivery module.")
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Kept in the service's history with the changes.",
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
            "status",
            "module",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"status": STATUS_ADVICE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = self.instance
        choices = module_choices()
        if service.module not in dict(choices):
            choices.append((service.module, f"{service.module} (not installed)"))
        self.fields["module"].choices = choices
        self.fields["server"].queryset = Server.objects.filter(
            ~Q(status=ServerStatus.DISABLED) | Q(pk=service.server_id)
        ).order_by("module", "name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        clean_expiration(self)
        key, server, product = data.get("module"), data.get("server"), self.instance.product
        if key and server is not None and server.module != key:
            self.add_error(
                "server", f"{server} is a {module_label(server.module)} server, not {key}."
            )
        if key and product is not None and product.module != key:
            self.add_error(
                "module",
                f"The product “{product}” is a {module_label(product.module)} product: the "
                "service type must be the product type.",
            )
        return data

    def changes(self) -> dict[str, Any]:
        """The fields staff changed, with their new values, for ``lifecycle.update``."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}


# Actions -------------------------------------------------------------------------------


class ServiceActionForm(StyledFormMixin, forms.Form):
    """The settings of an action on one service; most actions only take a reason."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the service's history.",
    )

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        self.service = service
        super().__init__(*args, **kwargs)


class ConfirmForm(ServiceActionForm):
    """An action with nothing to set: the confirmation is the whole form."""

    reason = None


class SuspendForm(ServiceActionForm):
    notify = forms.BooleanField(required=False, initial=True, label="E-mail the customer about it")


class CancelForm(ServiceActionForm):
    """Cancel now, or at the end of the paid period when the service has one left."""

    when = forms.ChoiceField(
        choices=CancelWhen.choices, initial=CancelWhen.NOW, widget=forms.RadioSelect
    )

    field_order = ["when", "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = self.service
        paid_period_left = (
            service.status in RENEWABLE - {S.EXPIRED} and service.expires_at is not None
        )
        if not paid_period_left:
            self.fields["when"].choices = [(CancelWhen.NOW, CancelWhen.NOW.label)]


class RenewForm(ServiceActionForm):
    reason = None
    cycles = forms.IntegerField(
        min_value=1,
        max_value=36,
        initial=1,
        label="Billing cycles",
        help_text="Each cycle counts as one renewal. No invoice is made.",
    )


class ShiftExpirationForm(ServiceActionForm):
    """Add or subtract days: the expiration moves without a renewal."""

    direction = forms.ChoiceField(
        choices=[("add", "Add days"), ("subtract", "Subtract days")],
        initial="add",
        widget=forms.RadioSelect,
    )
    days = forms.IntegerField(min_value=1, max_value=3650, initial=7)

    field_order = ["direction", "days", "reason"]

    @property
    def signed_days(self) -> int:
        days = self.cleaned_data["days"]
        return -days if self.cleaned_data["direction"] == "subtract" else days
