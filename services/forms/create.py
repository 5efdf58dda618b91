"""Creating and importing a service, in two steps.

``ServiceTargetForm`` (step 1) chooses who the service is for and what delivers it;
step 2 (``ServiceCreateForm``, ``ServiceImportForm``) fills in the service itself. Step 1's
choices travel in the URL and in hidden fields, so step 2 validates them again rather
than trusting what the browser carried over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clientxcms.forms import (
    StyledFormMixin,
    choice_field,
    mark_invalid,
    model_choice_field,
    style_fields,
)
from clientxcms.text import parse_id
from customers.models import Customer
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.modules.base import DeliveryModule
from delivery.registry import get_module, module_choices, module_label
from products.choices import BillingCycle
from products.cycles import add_cycles
from products.models import Product

from ..choices import LIVE
from ..models import Service
from .common import (
    ExpirationField,
    ProductChoiceField,
    ProductSelect,
    ServerChoiceField,
    clean_expiration,
    customer_label,
)

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
        label=gettext_lazy("Customer"),
        error_messages={
            "invalid_choice": gettext_lazy("Choose a customer from the search results.")
        },
    )
    product = ProductChoiceField(
        queryset=Product.objects.all(),
        required=False,
        empty_label=gettext_lazy("No product: a custom service"),
        widget=ProductSelect,
        label=gettext_lazy("Product"),
        help_text=gettext_lazy("Its type must be the service type chosen below."),
    )
    module = forms.ChoiceField(
        label=gettext_lazy("Service type"), help_text=gettext_lazy("The delivery module.")
    )

    def __init__(self, *args: Any, importing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "module").choices = [
            (key, label)
            for key, label in module_choices()
            if not importing or get_module(key).supports_import
        ]
        self.fields["customer"].widget.choices = self._chosen_customer()

    def _chosen_customer(self) -> list[tuple[Any, str]]:
        value = parse_id(self["customer"].value())
        if value is None:
            return []
        chosen = Customer.objects.select_related("user").filter(pk=value).first()
        return [(chosen.pk, customer_label(chosen))] if chosen else []

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        product, key = data.get("product"), data.get("module")
        if product is not None and key and product.module != key:
            self.add_error(
                "product",
                _(
                    "The product “%(product)s” is a %(type)s product, not %(chosen)s: the "
                    "product type must be the service type. Choose another product, another "
                    "type, or no product."
                )
                % {
                    "product": product,
                    "type": module_label(product.module),
                    "chosen": module_label(key),
                },
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


class ServiceCreateForm(StyledFormMixin, forms.ModelForm):
    """Step 2 of creating: the seed's fields, prefilled from the product."""

    expires_at = ExpirationField(
        label=gettext_lazy("Expiration"),
        required=False,
        help_text=gettext_lazy("Empty for a one-time service."),
    )
    server = ServerChoiceField(
        queryset=Server.objects.none(), required=False, label=gettext_lazy("Server")
    )

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
        labels = {
            "description": gettext_lazy("Description"),
            "price": gettext_lazy("Price"),
            "initial_price": gettext_lazy("Initial price"),
            "notes": gettext_lazy("Notes"),
        }

    def __init__(self, data: Any = None, *, target: ServiceTarget, **kwargs: Any) -> None:
        self.target = target
        self.cycle_defaults = cycle_defaults(target.product)
        instance = Service(
            customer=target.customer, product=target.product, module=target.module_key
        )
        super().__init__(data, instance=instance, initial=self._prefill(), **kwargs)
        server = model_choice_field(self, "server")
        server.queryset = Server.objects.filter(module=target.module_key).exclude(
            status=ServerStatus.DISABLED
        )
        server.required = target.module.requires_server
        server.empty_label = _("Choose a server") if server.required else _("No server")
        server.help_text = _("Only %(type)s servers that are not disabled.") % {
            "type": module_label(target.module_key)
        }
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
        super().clean()
        data = self.cleaned_data
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
            **{name: self.cleaned_data[name] for name in self.Meta.fields},
        }


class ServiceImportForm(ServiceCreateForm):
    """Step 2 of importing: the same fields, a server, and the resource to link."""

    resource_id = forms.CharField(
        label=gettext_lazy("Resource"),
        max_length=191,
        error_messages={"required": gettext_lazy("Choose a resource.")},
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
        super().clean()
        data = self.cleaned_data
        server, resource = data.get("server"), data.get("resource_id")
        if server and resource:
            owner = linked_services(server, [resource]).get(resource)
            if owner is not None:
                self.add_error(
                    "resource_id",
                    _(
                        "Resource %(resource)s is already linked to service #%(id)s "
                        "(%(name)s): it cannot be imported twice."
                    )
                    % {"resource": resource, "id": owner.pk, "name": owner.name},
                )
        return data


def linked_services(server: Server, resource_ids: list[str]) -> dict[str, Service]:
    """The live services already linked to ``resource_ids`` on ``server``, by resource."""
    services = Service.objects.filter(
        server=server, external_id__in=resource_ids, status__in=LIVE
    ).only("pk", "name", "external_id", "status")
    return {service.external_id: service for service in services}
