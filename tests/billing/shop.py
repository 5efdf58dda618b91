"""Builders shared by the catalogue, checkout and client order tests: a French company
charging 20% VAT, and products on sale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.models import CompanyProfile, TaxRate
from products.choices import BillingCycle
from products.models import Product, ProductPrice
from tests.factories import FakeServerFactory, ProductFactory

ORDER_FIELDS = {"billing_cycle": BillingCycle.MONTHLY, "accept_terms": "on"}


def french_company() -> CompanyProfile:
    """The seller: French, prices entered before tax, 20% VAT in France."""
    profile = CompanyProfile.current()
    profile.name = "Hosting SAS"
    profile.country = "FR"
    profile.vat_number = "FR12345678901"
    profile.prices_include_tax = False
    profile.save()
    TaxRate.objects.get_or_create(country="FR", defaults={"rate": Decimal("20")})
    return profile


def on_sale(
    name: str = "Web hosting",
    *,
    module: str = "manual",
    prices: dict[str, tuple[str, str]] | None = None,
    **fields: Any,
) -> Product:
    """An active product with ``prices`` (cycle → (price, setup fee)) in the default currency."""
    if module == "test":
        fields.setdefault("module_config", {"memory_mb": 512})
    product: Product = ProductFactory(name=name, module=module, **fields)  # type: ignore[assignment]  # factory_boy returns the model
    if prices is None:
        prices = {BillingCycle.MONTHLY: ("10.00", "0")}
    for cycle, (price, setup_fee) in prices.items():
        ProductPrice.objects.create(
            product=product, cycle=cycle, price=Decimal(price), setup_fee=Decimal(setup_fee)
        )
    return product


def game_server(name: str = "Game server", **kwargs: Any) -> Product:
    """A product of the test module (which needs a server), with one server with room."""
    FakeServerFactory()
    return on_sale(name, module="test", **kwargs)


def order_data(product: Product, /, **overrides: str) -> dict[str, str]:
    """The product page's order form, filled in: monthly, terms accepted."""
    return {"product": product.slug, **ORDER_FIELDS, **overrides}
