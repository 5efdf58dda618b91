"""Orders: what a customer buys in one checkout, invoiced at once, paid into services.

The seed: "Service creation and import do not create an invoice; you will need to go
through an order to generate an invoice." Placing an order makes its invoice (one line
per item, and one per setup fee); paying that invoice creates the services
(``payments._create_service``). An order whose products no server has room for is
refused before any invoice is made, so no customer pays for what cannot be delivered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from customers.models import Customer, User
from delivery.registry import UnknownModule, get_module
from products.choices import BillingCycle
from products.models import Product
from services import placement

from . import invoices
from .choices import LineKind, OrderStatus
from .invoices import BillingError, LineSpec
from .models import Order, OrderItem, in_language_of


@dataclass(frozen=True)
class ItemSpec:
    product: Product
    billing_cycle: str
    quantity: int = 1
    module_options: dict[str, Any] = field(default_factory=dict)


def _item(order: Order, spec: ItemSpec) -> OrderItem:
    product = spec.product
    if not product.is_active:
        raise BillingError(gettext("%(product)s is not sold any more.") % {"product": product})
    price = product.prices.filter(cycle=spec.billing_cycle, currency=order.currency).first()
    if price is None:
        cycle = BillingCycle(spec.billing_cycle).label.lower()
        raise BillingError(
            gettext("%(product)s is not sold %(cycle)s.") % {"product": product, "cycle": cycle}
        )
    try:
        options = get_module(product.module).clean_service_options(spec.module_options)
    except UnknownModule as exc:
        raise BillingError(
            gettext("%(product)s cannot be delivered: %(reason)s")
            % {"product": product, "reason": exc}
        ) from exc
    except ValidationError as exc:
        raise BillingError(f"{product}: {' '.join(exc.messages)}") from exc
    return OrderItem.objects.create(
        order=order,
        product=product,
        billing_cycle=spec.billing_cycle,
        module_options=options,
        quantity=spec.quantity,
        price=price.price,
        setup_fee=price.setup_fee,
    )


def _check_room(items: list[ItemSpec]) -> None:
    """Refuse the order when a product's servers have no room for what it asks of them.

    The same rule as placement, without its lock: the places are not reserved for an
    unpaid order; paying it places each service under the lock (``payments``).
    """
    wanted: Counter[int] = Counter()
    for spec in items:
        wanted[spec.product.pk] += spec.quantity
    products = {spec.product.pk: spec.product for spec in items}
    for pk, count in wanted.items():
        if pk not in placement.deliverable([products[pk]], wanted=count):
            raise BillingError(placement.no_room_message(products[pk]))


def place_order(
    customer: Customer, *, items: list[ItemSpec], actor: User | None, notify: bool = True
) -> Order:
    """The order and its issued invoice: one service line per item, one per setup fee."""
    if not items:
        raise BillingError(gettext("An order needs at least one product."))
    with transaction.atomic():
        order = Order.objects.create(customer=customer, currency=settings.DEFAULT_CURRENCY)
        lines = []
        for spec in items:
            item = _item(order, spec)
            with in_language_of(customer):
                cycle = BillingCycle(item.billing_cycle).label.lower()
                setup = gettext("Setup of %(product)s") % {"product": item.product.name}
            for _ in range(item.quantity):
                lines.append(
                    LineSpec(
                        description=f"{item.product.name} ({cycle})",
                        unit_price=item.price,
                        kind=LineKind.NEW_SERVICE,
                        order_item=item,
                    )
                )
                if item.setup_fee:
                    lines.append(
                        LineSpec(
                            description=setup,
                            unit_price=item.setup_fee,
                            kind=LineKind.SETUP_FEE,
                            order_item=item,
                        )
                    )
        _check_room(items)
        draft = invoices.create_draft(customer, actor=actor, lines=lines, currency=order.currency)
        order.invoice = invoices.issue(draft, actor=actor, notify=notify)
        order.save(update_fields=["invoice", "updated_at"])
    return order


def cancel_order(order: Order, *, actor: User | None) -> Order:
    """Cancel a pending order and its unpaid invoice."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == OrderStatus.CANCELLED:
            return locked
        if locked.status != OrderStatus.PENDING:
            raise BillingError(
                gettext("%(order)s is paid: refund its invoice instead.") % {"order": locked}
            )
        if locked.invoice_id is not None:
            with in_language_of(locked.customer):
                reason = gettext("%(order)s cancelled") % {"order": locked}
            invoices.cancel(locked.invoice_id, actor=actor, reason=reason)
        locked.status = OrderStatus.CANCELLED
        locked.save(update_fields=["status", "updated_at"])
    return locked
