"""What billing shows on the client area's home page, through the panel registry.

The home page belongs to services, which may not import billing (DESIGN.md §3): it
renders the panels registered for ``clientxcms.panels.CLIENT_HOME``, and
``BillingConfig.ready()`` registers this one. Its figures (the balance, the unpaid and
overdue invoices) come in one query, three correlated subqueries on the customer's row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from clientxcms import panels
from clientxcms.queries import subquery_count
from customers.models import Customer

from .choices import InvoiceKind, InvoiceStatus
from .models import MONEY, ZERO, BalanceEntry, Invoice
from .taxes import CENT


def home_figures(customer: Customer) -> dict[str, Any]:
    """The customer's balance, and how many of their invoices are unpaid and overdue."""
    balance = (
        BalanceEntry.objects.filter(customer=OuterRef("pk"), currency=settings.DEFAULT_CURRENCY)
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    unpaid = Invoice.objects.filter(kind=InvoiceKind.INVOICE, status=InvoiceStatus.UNPAID)
    figures = (
        Customer.objects.filter(pk=customer.pk)
        .annotate(
            balance=Coalesce(Subquery(balance, output_field=DecimalField(**MONEY)), ZERO),
            unpaid_count=subquery_count(unpaid, "customer"),
            overdue_count=subquery_count(unpaid.filter(due_at__lt=timezone.now()), "customer"),
        )
        .values("balance", "unpaid_count", "overdue_count")
        .get()
    )
    # SQLite sums decimals without their places: "7.5" would read as a typo.
    figures["balance"] = Decimal(figures["balance"]).quantize(CENT)
    return {**figures, "currency": settings.DEFAULT_CURRENCY, "customer": customer}


def register() -> None:
    """Register billing's client-home panel; called once, by ``BillingConfig.ready``."""
    panels.register(
        panels.Panel(
            model=panels.CLIENT_HOME,
            key="billing",
            label="Billing",
            order=10,
            template="billing/client/home_panel.html",
            context=home_figures,
        )
    )
