"""What billing shows on the client area's home and service pages, through the panel
registry (the Renew card, and the Renew link of each row of the service tables).

The home page belongs to services, which may not import billing (DESIGN.md §3): it
renders the panels registered for ``clientxcms.panels.CLIENT_HOME``, and
``BillingConfig.ready()`` registers this one. Its figures (the balance, the unpaid and
overdue invoices) come in one query, three correlated subqueries on the customer's row.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy

from clientxcms import panels
from clientxcms.queries import subquery_count
from customers.models import Customer
from services.models import Service

from .choices import InvoiceKind, InvoiceStatus, LineKind
from .models import Invoice, InvoiceLine
from .panels import balance_annotation
from .renewals import decide_renewal
from .taxes import CENT

#: Marks the panels' labels: translated when shown (lazy strings the panels hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


def home_figures(customer: Customer) -> dict[str, Any]:
    """The customer's balance, and how many of their invoices are unpaid and overdue."""
    unpaid = Invoice.objects.filter(kind=InvoiceKind.INVOICE, status=InvoiceStatus.UNPAID)
    figures = (
        Customer.objects.filter(pk=customer.pk)
        .annotate(
            balance=balance_annotation()["billing_balance"],
            unpaid_count=subquery_count(unpaid, "customer"),
            overdue_count=subquery_count(unpaid.filter(due_at__lt=timezone.now()), "customer"),
        )
        .values("balance", "unpaid_count", "overdue_count")
        .get()
    )
    # SQLite sums decimals without their places: "7.5" would read as a typo.
    figures["balance"] = Decimal(figures["balance"]).quantize(CENT)
    return {**figures, "currency": settings.DEFAULT_CURRENCY, "customer": customer}


def _unpaid_lines() -> QuerySet[InvoiceLine]:
    """The lines of unpaid invoices that name the row's service (for ``OuterRef``)."""
    return InvoiceLine.objects.filter(
        service=OuterRef("pk"),
        invoice__kind=InvoiceKind.INVOICE,
        invoice__status=InvoiceStatus.UNPAID,
    )


def service_row_annotations() -> dict[str, Any]:
    """Per row of the client service tables, in the page's one query: whether an unpaid
    invoice names the service (listed first), and its open renewal invoice, to pay it."""
    return {
        "has_unpaid_invoice": Exists(_unpaid_lines()),
        "open_renewal_invoice_id": Subquery(
            _unpaid_lines().filter(kind=LineKind.RENEWAL, is_open=True).values("invoice_id")[:1]
        ),
    }


def service_renewal(service: Service) -> dict[str, Any]:
    """Whether the rule book lets the customer renew ``service`` now, and if not why: read
    from the row in memory, no query."""
    decision = decide_renewal(service)
    return {"can_renew": decision.allowed, "refusal": "" if decision.allowed else decision.message}


def register() -> None:
    """Register billing's client panels; called once, by ``BillingConfig.ready``."""
    # The Renew link of each row of the client service tables (home and all services).
    panels.register(
        panels.Column(
            model=panels.CLIENT_SERVICE_ROWS,
            key="billing_renew",
            label=_("Renew"),
            order=10,
            template="billing/client/service_row_renew.html",
            context=service_renewal,
            annotations=service_row_annotations,
            first_when="has_unpaid_invoice",
        )
    )
    # The Renew card of the client service page.
    panels.register(
        panels.Panel(
            model=panels.CLIENT_SERVICE,
            key="billing_renew",
            label=_("Renewal"),
            order=10,
            template="billing/client/service_renew_panel.html",
            context=service_renewal,
        )
    )
    panels.register(
        panels.Panel(
            model=panels.CLIENT_HOME,
            key="billing",
            label=_("Billing"),
            order=10,
            template="billing/client/home_panel.html",
            context=home_figures,
        )
    )
