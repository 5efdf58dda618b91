"""Client-area views of billing: the customer's invoices and credit notes, their PDF, and
paying an unpaid invoice through a gateway.

Every query starts from the signed-in customer (``customer_documents``), so another
customer's invoice is simply not found (404, never 403: a 403 would confirm it exists),
and so is a draft, which the customer has not been sent yet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    DecimalField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.views import View
from django.views.generic import DetailView, ListView

from clientxcms.access import CustomerRequiredMixin
from customers.models import Customer

from ..choices import InvoiceKind, InvoiceStatus, PaymentStatus
from ..gateways.base import PaymentGateway
from ..gateways.registry import available_gateways, gateway_labels
from ..models import MONEY, ZERO, BalanceEntry, Invoice, Payment, balance_of
from ..pdf import pdf_filename, render_invoice_pdf
from ..taxes import CENT

#: How many movements of the balance the invoices page shows, the latest first.
BALANCE_ENTRIES_SHOWN = 20


def customer_documents(customer: Customer) -> QuerySet[Invoice]:
    """The invoices and credit notes ``customer`` was sent: every status but draft."""
    return Invoice.objects.filter(customer=customer).exclude(status=InvoiceStatus.DRAFT)


class InvoiceListView(CustomerRequiredMixin, ListView):
    """``/client/invoices/``: the customer's invoices and credit notes, the unpaid first
    with the amount due, then the newest; and the balance with its latest movements.

    A customer has few invoices, so Django's paginator (its COUNT runs over the customer's
    rows, served by the customer index) is fine here.
    """

    template_name = "billing/client/invoice_list.html"
    context_object_name = "invoices"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[Invoice]:
        """Unpaid first (what the customer must act on), each with what is left to pay,
        summed in the page's one query; then the newest."""
        paid = (
            Payment.objects.filter(invoice=OuterRef("pk"), status=PaymentStatus.SUCCEEDED)
            .order_by()
            .values("invoice")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return (
            customer_documents(self.customer)
            .annotate(
                received=Coalesce(Subquery(paid, output_field=DecimalField(**MONEY)), ZERO),
                unpaid_first=Case(
                    When(status=InvoiceStatus.UNPAID, kind=InvoiceKind.INVOICE, then=Value(0)),
                    default=Value(1),
                ),
            )
            .order_by("unpaid_first", "-issued_at", "-id")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(
            # Quantized: SQLite sums decimals without their places ("7.5").
            balance=balance_of(self.customer).quantize(CENT),
            balance_currency=settings.DEFAULT_CURRENCY,
            # The ledger behind the balance: its latest movements, one bounded query.
            balance_entries=list(
                BalanceEntry.objects.filter(customer=self.customer)
                .select_related("invoice")
                .order_by("-created_at", "-id")[:BALANCE_ENTRIES_SHOWN]
            ),
            **kwargs,
        )
        for invoice in context["object_list"]:
            unpaid = invoice.status == InvoiceStatus.UNPAID and invoice.kind == InvoiceKind.INVOICE
            invoice.amount_due = (  # for the template
                max(invoice.total - Decimal(invoice.received), ZERO).quantize(CENT)
                if unpaid
                else None
            )
        return context


class InvoiceDetailView(CustomerRequiredMixin, DetailView):
    """``/client/invoices/<pk>/``: lines, taxes, totals, payments and credit notes, and the
    ways to pay an unpaid invoice: one button per gateway available for it."""

    template_name = "billing/client/invoice_detail.html"
    context_object_name = "invoice"

    def get_queryset(self) -> QuerySet[Invoice]:
        return (
            customer_documents(self.customer)
            .select_related("credit_note_for")
            .prefetch_related(
                "lines",
                Prefetch(
                    "payments",
                    # Refunded payments were received too: the credit note says the rest.
                    queryset=Payment.objects.filter(
                        status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]
                    ),
                    to_attr="received_payments",
                ),
                Prefetch(
                    "credit_notes",
                    queryset=Invoice.objects.exclude(status=InvoiceStatus.DRAFT),
                    to_attr="issued_credit_notes",
                ),
            )
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        invoice: Invoice = self.object
        payments: list[Payment] = invoice.received_payments  # type: ignore[attr-defined]  # Prefetch to_attr
        paid = sum((p.amount for p in payments if p.status == PaymentStatus.SUCCEEDED), ZERO)
        labels = gateway_labels()
        for payment in payments:
            payment.gateway_label = labels.get(payment.gateway, payment.gateway)  # type: ignore[attr-defined]  # for the template
        payable = invoice.status == InvoiceStatus.UNPAID and invoice.kind == InvoiceKind.INVOICE
        return super().get_context_data(
            amount_paid=paid,
            amount_due=max(invoice.total - paid, ZERO),
            gateways=available_gateways(invoice) if payable else [],
            **kwargs,
        )


class InvoicePdfView(CustomerRequiredMixin, View):
    """``/client/invoices/<pk>/pdf/``: the same document staff download, shown inline."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(customer_documents(self.customer), pk=pk)
        return HttpResponse(
            render_invoice_pdf(invoice),
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{pdf_filename(invoice)}"'},
        )


class InvoicePayView(CustomerRequiredMixin, View):
    """``/client/invoices/<pk>/pay/<gateway>/``: hand an unpaid invoice to one gateway.

    The gateway must be one offered for this invoice now (enabled, configured, and able
    to pay it): anything else is a 404, like someone else's invoice. What happens next is
    the gateway's (``start``): bank transfer shows its details, balance pays, Stripe sends
    the customer to its payment page. A gateway whose ``start`` changes something
    (``start_requires_post``) answers POST only, with its CSRF token; a GET is a 405.
    """

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, pk: int, gateway: str) -> HttpResponse:
        invoice, chosen = self.chosen(pk, gateway)
        if chosen.start_requires_post:
            return HttpResponseNotAllowed(["POST"])
        return chosen.start(invoice, request)

    def post(self, request: HttpRequest, pk: int, gateway: str) -> HttpResponse:
        invoice, chosen = self.chosen(pk, gateway)
        return chosen.start(invoice, request)

    def chosen(self, pk: int, key: str) -> tuple[Invoice, PaymentGateway]:
        """The customer's unpaid invoice ``pk`` and the gateway ``key`` offered for it."""
        invoice = get_object_or_404(
            customer_documents(self.customer).filter(
                kind=InvoiceKind.INVOICE, status=InvoiceStatus.UNPAID
            ),
            pk=pk,
        )
        for gateway in available_gateways(invoice):
            if gateway.key == key:
                return invoice, gateway
        raise Http404("This invoice cannot be paid that way.")
