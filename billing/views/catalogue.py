"""``/client/catalogue/``: what a customer can buy, by type, and one product's page.

A product is on sale when it is active and has a price in the default currency (the
currency orders are placed in). Whether it can be delivered is the question placing and
paying the order will ask (``services.placement``): a product whose module needs a
server, and none of whose servers (its group's, or its type's) has room, is shown as
unavailable, without an order button, and its checkout is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.conf import settings
from django.core.validators import slug_re
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from clientxcms.access import CustomerRequiredMixin
from customers.models import Customer
from delivery.registry import UnknownModule, get_module, module_label
from products.models import Product, ProductPrice
from services.placement import deliverable, no_room_message

from ..forms.checkout import CheckoutForm, cycle_order
from ..quotes import Quote, Reckoner

SLUG_MAX_LENGTH = 150
UNAVAILABLE = _("This product cannot be delivered at the moment: it cannot be ordered.")


def unavailable_message(product: Product) -> str:
    """Why ``product`` cannot be ordered now: no server with room, as placement found."""
    try:
        needs_server = get_module(product.module).requires_server
    except UnknownModule:
        return str(UNAVAILABLE)
    if not needs_server:
        return str(UNAVAILABLE)
    return gettext("%(reason)s It cannot be ordered.") % {"reason": no_room_message(product)}


def on_sale() -> QuerySet[Product]:
    """Active products with a price in the default currency, that price prefetched."""
    prices = ProductPrice.objects.filter(currency=settings.DEFAULT_CURRENCY)
    return (
        Product.objects.filter(is_active=True)
        .filter(Exists(prices.filter(product=OuterRef("pk"))))
        .prefetch_related(Prefetch("prices", queryset=prices))
    )


def sorted_prices(product: Product) -> list[ProductPrice]:
    """The product's prefetched prices, weekly first and one-time last."""
    return sorted(product.prices.all(), key=lambda price: cycle_order(price.cycle))


def product_on_sale(slug: str) -> Product:
    """The product on sale at ``slug``, or a 404 (hostile slugs never reach the database)."""
    product = on_sale().filter(slug=slug).first() if _is_slug(slug) else None
    if product is None:
        raise Http404("No such product on sale.")
    return product


def _is_slug(value: str) -> bool:
    return len(value) <= SLUG_MAX_LENGTH and slug_re.match(value) is not None


@dataclass
class Offer:
    """A product as the customer sees it: its prices, whether it can be delivered, and,
    on its own page, what each cycle's first invoice will cost them."""

    product: Product
    prices: list[ProductPrice]
    deliverable: bool
    type_label: str
    quotes: list[Quote] = field(default_factory=list)


def offer(product: Product, customer: Customer | None = None) -> Offer:
    """One product's offer; with ``customer``, its quotes taxes included."""
    prices = sorted_prices(product)
    reckoner = Reckoner.for_customer(customer) if customer is not None else None
    return Offer(
        product=product,
        prices=prices,
        deliverable=product.pk in deliverable([product]),
        type_label=module_label(product.module),
        quotes=[reckoner.quote(price) for price in prices] if reckoner else [],
    )


class CatalogueView(CustomerRequiredMixin, TemplateView):
    """The products on sale grouped by type (their delivery module's label).

    Six queries whatever the number of products: the session, the user, the customer, the
    products, their prices, and the servers' room for all their modules at once.
    """

    template_name = "billing/client/catalogue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        products = list(on_sale())
        able = deliverable(products)
        offers = [
            Offer(
                product=p,
                prices=sorted_prices(p),
                deliverable=p.pk in able,
                type_label=module_label(p.module),
            )
            for p in products
        ]
        offers.sort(key=lambda o: (o.type_label.lower(), o.product.name.lower(), o.product.pk))
        groups = [(label, list(items)) for label, items in groupby(offers, lambda o: o.type_label)]
        return super().get_context_data(groups=groups, **kwargs)


class ProductView(CustomerRequiredMixin, TemplateView):
    """``/client/catalogue/<slug>/``: the description, the price of each cycle with the
    customer's taxes, the module's options, and the order form (posted to the checkout)."""

    template_name = "billing/client/product_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        product = product_on_sale(self.kwargs["slug"])
        current = offer(product, self.customer)
        form = CheckoutForm(product=product, prices=current.prices) if current.deliverable else None
        return super().get_context_data(offer=current, form=form, **kwargs)
