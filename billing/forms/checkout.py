"""The order form of a product: its billing cycle, the terms, and its module's options.

The options are the delivery module's own ``service_form`` (a game, an operating
system...), bound under the ``options`` prefix so that its field names never clash with
ours; ``place_order`` validates them again through the module before anything is written.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledFormMixin, style_fields
from delivery.registry import UnknownModule, get_module
from products.choices import BillingCycle
from products.models import Product, ProductPrice

OPTIONS_PREFIX = "options"


def cycle_order(cycle: str) -> int:
    """Where ``cycle`` comes in BillingCycle's order (weekly first, one-time last)."""
    values = list(BillingCycle.values)
    return values.index(cycle) if cycle in values else len(values)


class CheckoutForm(StyledFormMixin, forms.Form):
    """What the customer chooses for one product; ``prices`` are its default-currency ones."""

    product = forms.SlugField(widget=forms.HiddenInput)
    billing_cycle = forms.ChoiceField(label=_("Billing cycle"))
    accept_terms = forms.BooleanField(
        label=_("I have read and accept the terms of service"),
        error_messages={"required": _("Please accept the terms of service to order.")},
    )

    def __init__(self, *args: Any, product: Product, prices: list[ProductPrice], **kwargs: Any):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("product", product.slug)
        if prices:
            kwargs["initial"].setdefault("billing_cycle", prices[0].cycle)
        super().__init__(*args, **kwargs)
        self.offered_product = product
        self.prices = {price.cycle: price for price in prices}
        choice = self.fields["billing_cycle"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [
            (price.cycle, f"{price.get_cycle_display()} – {price.price} {price.currency}")
            for price in prices
        ]
        self.options = self._options_form(args[0] if args else kwargs.get("data"))

    def _options_form(self, data: QueryDict | dict[str, Any] | None) -> forms.Form | None:
        """The module's ``service_form``, bound when this form is; None when it asks nothing."""
        try:
            form_class = get_module(self.offered_product.module).service_form
        except UnknownModule:
            return None
        if form_class is None:
            return None
        options = form_class(data=data, prefix=OPTIONS_PREFIX)
        style_fields(options)
        return options

    def clean_product(self) -> str:
        slug: str = self.cleaned_data["product"]
        if slug != self.offered_product.slug:
            raise forms.ValidationError(_("This form is for another product: reload the page."))
        return slug

    def is_valid(self) -> bool:
        """Both forms validate, so that every error is shown at once."""
        own = super().is_valid()
        return (self.options is None or self.options.is_valid()) and own

    @property
    def price(self) -> ProductPrice | None:
        """The price of the chosen cycle, once the form validates."""
        return self.prices.get(self.cleaned_data.get("billing_cycle", ""))

    @property
    def module_options(self) -> dict[str, Any]:
        return dict(self.options.cleaned_data) if self.options is not None else {}
