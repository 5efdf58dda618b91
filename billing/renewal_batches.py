"""Renewal invoices in batches (issue 15; DESIGN.md, "Background work" and "Billing").

One by one, each due service cost a claim transaction, a draft and its line, the draft's
due date, the issue (the invoice locked and read again, its lines read twice, each line
saved, the company, the tax rate and the number series read, the invoice saved) and a
balance check: some twenty round trips and a commit per invoice. Here, per batch of
``BATCH_SIZE`` services, as ``services.batches`` does for the service sweeps:

1. one ``SELECT … FOR UPDATE SKIP LOCKED`` of the batch's services, their customers
   joined, with the due query's condition again, and, once they are locked, one query of
   their renewal lines for the rest of it: a service another worker holds, or that
   stopped being due (a line of its period, an unpaid renewal invoice, committed since
   the due rows were read), is skipped, as the claim one by one skips it;
2. what every invoice of the batch needs, read once: the customers' credit, the company,
   the tax rates, the rule book;
3. each invoice made in Python exactly as ``invoices.renewal_invoice`` makes it (the same
   line, ``invoices.renewal_line``; the same snapshots of the seller and the customer; the
   same taxes, decided once per customer; the same totals and e-invoice check);
4. a block of numbers taken in one update of the series' row (``invoices._next_numbers``:
   in the services' order, no gap, never shared), the invoices and their lines written
   with one statement each (``insert_rows``: ``COPY`` on PostgreSQL), issued as ``issue``
   leaves them, and their "invoice issued" e-mails queued a hundred per task once the
   batch has committed (``notifications.enqueue_invoices_issued``). The one-by-one path
   writes no history for a renewal invoice, nor does a batch; no signal is sent for
   these rows (the dashboard's asks only for a paid invoice, which a batch never makes).

What the batch cannot do cheaply is left to the one-by-one path, run for those services
once the batch has committed: a service the rule book refuses, an invoice the e-invoice
rules refuse, one with nothing to pay, a customer whose credit covers the invoice (paid
from the balance, which renews the service), and a service whose invoice could not be
made (any error). A batch that fails as a whole (the database refusing a second invoice
of a period, say) is rolled back whole and its services run one by one, so a broken
service never undoes the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from clientxcms.claims import Claimer, ClaimResult
from clientxcms.inserts import insert_rows
from customers.models import Customer
from services import rules
from services.choices import ServiceAction
from services.models import Service

from . import einvoice, invoices, notifications
from .choices import InvoiceKind, InvoiceStatus, LineKind
from .models import BalanceEntry, CompanyProfile, Invoice, InvoiceLine, Seller
from .taxes import CENT, TaxDecision, all_rates, rate_for_country, tax_for

logger = logging.getLogger(__name__)

#: What a batch reads of each service and its customer: the rule book's renewal rules,
#: the renewal line, the invoice's snapshot of the customer and their tax. Loading the
#: other forty columns took half of a batch's reading; a field read and not listed here
#: would cost a query per service (tests/billing/test_renewal_batches.py counts them).
READ = (
    *("status", "operation", "billing_cycle", "expires_at", "billing_anchor_day"),
    *("max_renewals", "renewal_count", "name", "price", "currency", "customer"),
    *(
        f"customer__{name}"
        for name in (
            *("first_name", "last_name", "company", "address_line1", "address_line2"),
            *("postcode", "city", "state", "country", "vat_number", "legal_identifier"),
            *("vat_status", "vat_checked_number", "language"),
        )
    ),
)

#: Services locked and invoiced together: two INSERTs of 500 rows, a lock held well under
#: a second.
BATCH_SIZE = 500


def make_in_batches(
    due: models.QuerySet[Service],
    renewable: models.QuerySet[Service],
    one_by_one: Callable[[models.QuerySet[Service]], ClaimResult],
    *,
    expected: tuple[type[Exception], ...],
) -> ClaimResult:
    """Invoice every service of ``due`` in batches; ``one_by_one`` (the claim per service
    of ``billing.timeline``) takes the services a batch leaves, and a batch that failed.

    ``renewable`` is ``due``'s condition but for the renewal lines: a batch locks its
    services with it, then reads their lines in one query (``_Batch.read``) and skips a
    service with a line of its period or an unpaid one, as the claim would. Asked per row
    in the lock, the lines' ``NOT EXISTS`` was planned as a scan of the lines for each
    service while the statistics still said the table was small (a first run: 0.7 s a
    batch by the 10th)."""
    result = ClaimResult()
    # The due keys, read once without a lock, in key order (``Claimer.batches``).
    for keys in Claimer(due, expected=expected, batch_size=BATCH_SIZE).batches():
        try:
            counted, left = _run_batch(renewable.filter(pk__in=keys), len(keys))
        except Exception:  # the database's refusal of a write, say: each service alone
            logger.warning(
                "A batch of renewal invoices failed: its services go one by one.", exc_info=True
            )
            result.add(one_by_one(due.filter(pk__in=keys)))
            continue
        result.add(counted)
        if left:
            result.add(one_by_one(due.filter(pk__in=left)))
    return result


M = TypeVar("M", bound=models.Model)


class _Blank(Generic[M]):
    """New instances of ``model``, made from a copy of its fields' defaults, taken once:
    ``Model(**values)`` looks each field up in the keywords and asks its default, 30 µs
    an invoice; this, 9. ``values`` are by attribute name (``customer_id``), and a default
    is shared by the instances (none is changed in place here)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.defaults = [field.get_default() for field in fields]
        self.index = {field.attname: i for i, field in enumerate(fields)}

    def new(self, **values: Any) -> M:
        row = self.defaults.copy()
        for name, value in values.items():
            row[self.index[name]] = value
        return self.model(*row)


@dataclass
class _Batch:
    """What the invoices of one batch need, read once."""

    now: dt.datetime
    company: CompanyProfile
    seller: Seller
    #: The seller's details every invoice of the batch freezes (``Seller.as_dict``).
    seller_details: dict[str, str]
    #: The rate prices include, taken out of each line (None: prices are without tax).
    included: Decimal | None
    rates: dict[str, Decimal]
    book: list[rules.Rule]
    #: (service, period start) of the renewal lines the services have; services with an
    #: open (unpaid) renewal line.
    periods: set[tuple[int, dt.datetime]]
    open_renewal: set[int]
    #: Each customer's credit by currency, where they have any.
    credit: dict[tuple[int, str], Decimal]
    taxes: dict[int, TaxDecision] = field(default_factory=dict)
    blank_invoice: _Blank[Invoice] = field(default_factory=lambda: _Blank(Invoice))
    blank_line: _Blank[InvoiceLine] = field(default_factory=lambda: _Blank(InvoiceLine))

    @classmethod
    def read(cls, services: list[Service]) -> _Batch:
        ids = [service.pk for service in services]
        starts = {service.expires_at for service in services}
        periods: set[tuple[int, dt.datetime]] = set()
        open_renewal: set[int] = set()
        lines = InvoiceLine.objects.filter(service_id__in=ids, kind=LineKind.RENEWAL).filter(
            Q(is_open=True) | Q(period_start__in=starts)
        )
        found = lines.values_list("service_id", "period_start", "is_open")
        for service_id, start, is_open in found:
            assert service_id is not None  # filtered on the batch's services
            if start is not None:
                periods.add((service_id, start))
            if is_open:
                open_renewal.add(service_id)
        sums = (
            BalanceEntry.objects.filter(customer_id__in={s.customer_id for s in services})
            .values_list("customer_id", "currency")
            .annotate(total=Sum("amount"))
        )
        # As ``balance_of``: SQLite sums decimals as floats' text.
        credit = {(pk, currency): Decimal(total).quantize(CENT) for pk, currency, total in sums}
        company = CompanyProfile.current()
        seller = company.as_seller()
        rates = all_rates()
        included = (
            rate_for_country(str(company.country), rates) if company.prices_include_tax else None
        )
        return cls(
            now=timezone.now(),
            company=company,
            seller=seller,
            seller_details=seller.as_dict(),
            included=included,
            rates=rates,
            # What ``renewal_invoice`` asks the rule book, its rules built once.
            book=rules.rules(ServiceAction.RENEW, rules.Context(cycles=1)),
            periods=periods,
            open_renewal=open_renewal,
            credit=credit,
        )

    def still_due(self, service: Service) -> bool:
        """No line of the period starting at the expiration, no unpaid renewal invoice:
        the rest of the due condition (``timeline.due_renewals``)."""
        if service.pk in self.open_renewal:
            return False
        return (service.pk, service.expires_at) not in self.periods

    def tax_of(self, customer: Customer) -> TaxDecision:
        """The customer's tax (``tax_for``), decided once per customer."""
        if customer.pk not in self.taxes:
            self.taxes[customer.pk] = tax_for(customer, self.company, rates=self.rates)
        return self.taxes[customer.pk]

    def invoice(self, service: Service) -> tuple[Invoice, InvoiceLine] | None:
        """The issued renewal invoice of ``service`` and its line, not saved and not yet
        numbered, as ``invoices.renewal_invoice`` would issue it; None when the one-by-one
        path must handle it (module docstring)."""
        if any(rule.when.holds(service) for rule in self.book):
            return None  # refused there, with the rule book's reason
        assert service.expires_at is not None  # the due query asks for an expiration
        spec = invoices.renewal_line(service)
        # ``create_draft`` (no author, no notes: the defaults), then the due date
        # ``_invoice_renewal`` gives it.
        invoice = self.blank_invoice.new(
            customer_id=service.customer_id,
            due_at=max(service.expires_at, self.now),
            **({"currency": service.currency} if service.currency else {}),
        )
        invoice.customer = service.customer  # what the snapshot reads, loaded with the lock
        # The line ``create_draft`` makes of the spec; its invoice is named once it has a
        # key (``_issue``).
        line = self.blank_line.new(
            kind=spec.kind,
            description=spec.description,
            quantity=spec.quantity,
            unit_price=spec.unit_price,
            service_id=service.pk,
            cycles=spec.cycles,
            period_start=spec.period_start,
            period_end=spec.period_end,
        )
        # ``issue``: the seller's and the customer's details, the taxes, the totals.
        invoice.seller = self.seller_details
        invoices._snapshot(invoice)
        invoices._apply_taxes(invoice, [line], self.tax_of(service.customer), self.included)
        invoices._set_totals(invoice, [line])
        if einvoice.missing_fields(invoice, self.seller, [line]):
            return None  # refused there, naming what is missing
        if invoice.total <= 0:
            return None  # settled when issued: paid there at once
        credit = self.credit.get((service.customer_id, invoice.currency), Decimal(0))
        if credit >= invoice.total:
            return None  # paid from the balance there, which renews the service
        return invoice, line


def _run_batch(due: models.QuerySet[Service], size: int) -> tuple[ClaimResult, list[int]]:
    """One batch in one transaction: what it did, and the services it leaves to the
    one-by-one path."""
    counted = ClaimResult()
    left: list[int] = []
    with transaction.atomic():
        locked = due.select_for_update(skip_locked=True, of=("self",)).select_related("customer")
        services = sorted(locked.only(*READ), key=lambda service: service.pk)
        counted.skipped += size - len(services)  # held by another worker, or no longer due
        if not services:
            return counted, left
        batch = _Batch.read(services)
        made: list[tuple[Invoice, InvoiceLine]] = []
        for service in services:
            if not batch.still_due(service):
                counted.skipped += 1  # invoiced since the due rows were read
                continue
            try:
                invoice = batch.invoice(service)
            except Exception:  # the one-by-one path reports it as that service's failure
                logger.debug("Service %s left to the one-by-one path", service.pk, exc_info=True)
                invoice = None
            if invoice is None:
                left.append(service.pk)
            else:
                made.append(invoice)
        if made:
            _issue(made, batch.company)
        counted.done += len(made)
    return counted, left


def _issue(made: list[tuple[Invoice, InvoiceLine]], company: CompanyProfile) -> None:
    """Number, insert and notify the batch's invoices, in their services' order."""
    now = timezone.now()
    numbers = invoices._next_numbers(InvoiceKind.INVOICE, now, company, len(made))
    for (invoice, _line), (number, year, sequence) in zip(made, numbers, strict=True):
        invoice.number, invoice.year, invoice.sequence = number, year, sequence
        invoice.status = InvoiceStatus.UNPAID
        invoice.issued_at = invoice.created_at = invoice.updated_at = now
    insert_rows(Invoice, [invoice for invoice, _line in made], keyed=True, same=SAME_IN_A_BATCH)
    for invoice, line in made:
        line.invoice = invoice
    insert_rows(InvoiceLine, [line for _invoice, line in made], same=SAME_ON_EVERY_LINE)
    ids = [invoice.pk for invoice, _line in made]
    transaction.on_commit(partial(notifications.enqueue_invoices_issued, ids))


#: What every invoice of a batch says alike (``_Batch.invoice``, ``_issue``), and every
#: line: each prepared once for the INSERT.
SAME_IN_A_BATCH = frozenset(
    {
        "kind",
        "year",
        "credit_note_for",
        "status",
        "seller",
        "notes",
        "issued_at",
        "paid_at",
        "created_by",
        "created_at",
        "updated_at",
    }
)
SAME_ON_EVERY_LINE = frozenset({"kind", "order_item", "is_open", "is_void"})
