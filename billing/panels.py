"""What billing shows on the pages of the apps below it (DESIGN.md §3).

The customer page shows the customer's latest invoices, orders and balance; the service
page shows the invoices with a line for the service, beside its renewals, and a form to
renew it with an invoice. ``BillingConfig.ready()`` registers them; each needs its view
permission, and staff without it see those pages without them and without their queries.
Each panel reads its latest rows only, so a customer with a thousand invoices costs what
one with three does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from clientxcms import panels
from customers.models import Customer
from services.models import Service

from .forms.admin import RenewWithInvoiceForm
from .models import ZERO, BalanceEntry, Invoice, Order, balance_of

#: Rows of each table on a customer's or service's page; the rest is in the lists.
ROWS_SHOWN = 10


#: Marks the panels' labels: translated when shown (lazy strings the panels hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


def customer_invoices(customer: Customer) -> dict[str, Any]:
    return {"invoices": list(Invoice.objects.filter(customer=customer)[: ROWS_SHOWN + 1])}


def customer_orders(customer: Customer) -> dict[str, Any]:
    orders = Order.objects.filter(customer=customer).select_related("invoice")
    return {"orders": list(orders[: ROWS_SHOWN + 1])}


def balance_annotation() -> dict[str, Any]:
    """The customer's credit in the default currency, summed in the page's own query."""
    total = (
        BalanceEntry.objects.filter(customer=OuterRef("pk"), currency=settings.DEFAULT_CURRENCY)
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=12, decimal_places=2)
    return {
        "billing_balance": Coalesce(
            Subquery(total, output_field=money), Value(ZERO), output_field=money
        )
    }


def customer_balance(customer: Customer) -> dict[str, Any]:
    """The credit annotated on the customer (no query of its own), else summed now."""
    balance = getattr(customer, "billing_balance", None)
    return {
        "balance": balance if balance is not None else balance_of(customer),
        "currency": settings.DEFAULT_CURRENCY,
    }


def service_invoices(service: Service) -> dict[str, Any]:
    """The invoices with a line for ``service``, newest first, each once."""
    invoices = Invoice.objects.filter(lines__service=service).distinct()
    return {
        "invoices": list(invoices.order_by("-created_at", "-id")[: ROWS_SHOWN + 1]),
        "renew_form": RenewWithInvoiceForm(),
    }


def register() -> None:
    """Register every contribution of billing; called once, by ``BillingConfig.ready``."""
    for contribution in (
        panels.Panel(
            model="customer",
            key="invoices",
            label=_("Invoices"),
            order=40,
            template="billing/admin/panels/customer_invoices.html",
            permission="billing.view_invoice",
            context=customer_invoices,
        ),
        panels.Panel(
            model="customer",
            key="orders",
            label=_("Orders"),
            order=45,
            template="billing/admin/panels/customer_orders.html",
            permission="billing.view_order",
            context=customer_orders,
        ),
        panels.Panel(
            model="customer",
            key="balance",
            label=_("Balance"),
            order=5,
            template="billing/admin/panels/customer_balance.html",
            permission="billing.view_balanceentry",
            context=customer_balance,
            annotations=balance_annotation,
        ),
        panels.Panel(
            model="service",
            key="invoices",
            label=_("Invoices"),
            order=10,
            template="billing/admin/panels/service_invoices.html",
            permission="billing.view_invoice",
            context=service_invoices,
        ),
    ):
        panels.register(contribution)
