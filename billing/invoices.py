"""Invoices: drafts, issuing with gap-free numbers, cancelling, refunding by credit note,
and renewal invoices (DESIGN.md, "Billing").

Every function owns its transaction and refuses with a ``BillingError`` whose message a
person can read. Issuing takes the next number of the year under a lock on the series'
row (``InvoiceSequence``), in the same transaction that freezes the invoice: an issue
that rolls back gives its number back, so numbers never skip, and two issues at once
wait for each other, so they never share one.

A refusal because the company's own details are incomplete (``CompanyIncomplete``) is
staff's to fix: its message sends staff to the company's settings; a customer whose order
it refuses is shown ``customer_message`` instead, and staff learn of it from the log and
from the warning on their billing pages (``einvoice.missing_company_details``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from django_stubs_ext import StrOrPromise

from customers.models import Customer, User
from products.choices import BillingCycle
from products.cycles import add_cycles
from services import rules
from services.choices import ServiceAction
from services.models import Service

from . import einvoice, notifications
from .choices import (
    BalanceEntryKind,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    OrderStatus,
    PaymentStatus,
)
from .models import (
    ZERO,
    BalanceEntry,
    CompanyProfile,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    OrderItem,
    Seller,
    in_language_of,
    language_of,
)
from .taxes import CENT, TaxDecision, rate_for_country, tax_for

logger = logging.getLogger(__name__)

InvoiceRef = Invoice | int

#: What a customer is told when the company's details stop their order: nothing for them
#: to fix, and nothing about the panel's settings.
#: In English here (``gettext_noop``), translated when shown (``customer_message``).
ORDERS_UNAVAILABLE = gettext_noop(
    "Orders cannot be taken at the moment; please try again later or contact us."
)
RENEWALS_UNAVAILABLE = gettext_noop(
    "Renewals cannot be invoiced at the moment; please try again later or contact us."
)
#: How long the error logged for an incomplete company stays logged once (seconds): every
#: refused customer would otherwise log it again.
COMPANY_INCOMPLETE_LOG_SECONDS = 3600


class BillingError(Exception):
    """A billing operation was refused; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CompanyIncomplete(BillingError):
    """Refused because the company's settings lack details every e-invoice needs: staff
    must complete them. The message is for staff; ``missing`` names the details."""

    def __init__(self, message: str, missing: list[StrOrPromise]) -> None:
        super().__init__(message)
        self.missing = missing


def customer_message(exc: BillingError, *, unavailable: str = ORDERS_UNAVAILABLE) -> str:
    """What a customer is shown for ``exc``: its message, but when the company's details
    are incomplete, ``unavailable`` (the customer can do nothing about it, and the staff
    message names the panel's settings), the incident being logged as an error once per
    ``COMPANY_INCOMPLETE_LOG_SECONDS`` for each set of missing details."""
    if not isinstance(exc, CompanyIncomplete):
        return exc.message
    digest = hashlib.sha256("|".join(sorted(map(str, exc.missing))).encode()).hexdigest()[:16]
    try:
        first = cache.add(f"billing:company-incomplete:{digest}", 1, COMPANY_INCOMPLETE_LOG_SECONDS)
    except Exception:  # the cache is down: logging twice beats a customer's error page
        first = True
    if first:
        logger.error("A customer's order or renewal was refused: %s", exc.message)
    return gettext(unavailable)


@dataclass(frozen=True)
class LineSpec:
    """One line to put on a draft."""

    description: str
    unit_price: Decimal
    quantity: int = 1
    kind: str = LineKind.MANUAL
    service: Service | None = None
    cycles: int = 1
    order_item: OrderItem | None = None
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None


def _lock(invoice: InvoiceRef) -> Invoice:
    pk = invoice.pk if isinstance(invoice, Invoice) else invoice
    try:
        return Invoice.objects.select_for_update().select_related("customer__user").get(pk=pk)
    except Invoice.DoesNotExist:
        raise BillingError(gettext("Invoice #%(id)s does not exist.") % {"id": pk}) from None


def create_draft(
    customer: Customer,
    *,
    actor: User | None,
    lines: list[LineSpec],
    notes: str = "",
    due_days: int | None = None,
    currency: str | None = None,
) -> Invoice:
    """A draft invoice with ``lines``: nothing is numbered or frozen yet."""
    if not lines:
        raise BillingError(gettext("An invoice needs at least one line."))
    for spec in lines:
        if spec.quantity < 1:
            raise BillingError(
                gettext("“%(line)s”: the quantity must be 1 or more.") % {"line": spec.description}
            )
    due_at = timezone.now() + dt.timedelta(days=due_days) if due_days is not None else None
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                customer=customer,
                created_by=actor,
                notes=notes,
                due_at=due_at,
                **({"currency": currency} if currency else {}),
            )
            InvoiceLine.objects.bulk_create(
                InvoiceLine(
                    invoice=invoice,
                    kind=spec.kind,
                    description=spec.description,
                    quantity=spec.quantity,
                    unit_price=spec.unit_price,
                    service=spec.service,
                    cycles=spec.cycles,
                    order_item=spec.order_item,
                    period_start=spec.period_start,
                    period_end=spec.period_end,
                )
                for spec in lines
            )
    except IntegrityError as exc:
        services = [spec.service for spec in lines if spec.kind == LineKind.RENEWAL]
        if services:
            raise BillingError(_open_renewal_message(services)) from exc
        raise BillingError(gettext("These lines break a rule of the database.")) from exc
    return invoice


def open_renewal_invoices(service_id: int) -> QuerySet[Invoice]:
    """The invoices that can still be paid and renew the service: one at most, by the
    ``one_open_renewal_per_service`` constraint."""
    return Invoice.objects.filter(
        lines__service_id=service_id, lines__kind=LineKind.RENEWAL, lines__is_open=True
    ).distinct()


def _open_renewal_message(services: list[Service | None]) -> str:
    open_line = (
        InvoiceLine.objects.filter(service__in=services, kind=LineKind.RENEWAL, is_open=True)
        .select_related("invoice")
        .first()
    )
    if open_line is None:
        # Not an open invoice: one (paid, say) already pays the period these lines renew.
        return gettext("A renewal of this period of the service is already invoiced.")
    return gettext(
        "Service #%(service)s already has an unpaid renewal invoice (%(invoice)s): it must be "
        "paid or cancelled first."
    ) % {"service": open_line.service_id, "invoice": open_line.invoice}


def _next_number(kind: str, moment: dt.datetime, company: CompanyProfile) -> tuple[str, int, int]:
    """The next number of ``kind`` in ``moment``'s year, taken under the series' row lock."""
    return _next_numbers(kind, moment, company, 1)[0]


def _next_numbers(
    kind: str, moment: dt.datetime, company: CompanyProfile, count: int
) -> list[tuple[str, int, int]]:
    """The next ``count`` numbers of ``kind`` in ``moment``'s year, in order: the series
    moves by ``count`` in one update under its row lock, held until the transaction ends,
    so a block is never shared and, rolled back, is given back whole (no gap)."""
    year = timezone.localtime(moment).year
    InvoiceSequence.objects.get_or_create(kind=kind, year=year)
    series = InvoiceSequence.objects.select_for_update().get(kind=kind, year=year)
    first = series.last + 1
    series.last += count
    series.save(update_fields=["last"])
    prefix = (
        company.credit_note_prefix if kind == InvoiceKind.CREDIT_NOTE else company.invoice_prefix
    )
    return [
        (f"{prefix}-{year}-{sequence:06d}", year, sequence)
        for sequence in range(first, series.last + 1)
    ]


def _freeze_taxes(invoice: Invoice, lines: list[InvoiceLine], company: CompanyProfile) -> None:
    """Set each line's rate and tax, the invoice's mention, and its totals."""
    decision = tax_for(invoice.customer, company)
    # Prices entered tax included hold the company's own country's tax: take it out.
    included = rate_for_country(str(company.country)) if company.prices_include_tax else None
    _apply_taxes(invoice, lines, decision, included)


def _apply_taxes(
    invoice: Invoice, lines: list[InvoiceLine], decision: TaxDecision, included: Decimal | None
) -> None:
    """``_freeze_taxes`` with the customer's tax and the rate prices include (None: they
    include none) decided already: a batch decides them once per customer."""
    for line in lines:
        if included is not None:
            line.unit_price = (line.unit_price * 100 / (100 + included)).quantize(
                CENT, ROUND_HALF_UP
            )
        line.tax_rate = decision.rate
        line.tax_amount = (line.subtotal * decision.rate / 100).quantize(CENT, ROUND_HALF_UP)
    invoice.reverse_charge = decision.reverse_charge
    invoice.tax_note = decision.note


def _snapshot_seller(invoice: Invoice, company: CompanyProfile) -> Seller:
    """Copy the company's details as they are today onto the invoice or credit note: its
    PDF and e-invoice read these from now on, whatever the company's settings become."""
    seller = company.as_seller()
    invoice.seller = seller.as_dict()
    return seller


def _snapshot(invoice: Invoice) -> None:
    """Copy the customer's billing details as they are today onto the invoice."""
    customer = invoice.customer
    invoice.billing_name = customer.full_name
    invoice.billing_company = customer.company
    invoice.billing_address = "\n".join(
        part
        for part in [
            customer.address_line1,
            customer.address_line2,
            " ".join(p for p in [customer.postcode, customer.city] if p),
            customer.state,
        ]
        if part
    )
    invoice.billing_country = customer.country
    invoice.billing_vat_number = customer.vat_number
    invoice.billing_legal_identifier = customer.legal_identifier


def _check_einvoice(invoice: Invoice, seller: Seller) -> None:
    """Refuse to issue what cannot be a valid Factur-X document (issue 17), naming every
    field that is missing; asked before a number is taken, so a refusal consumes none.
    A detail of the company's missing is ``CompanyIncomplete``: staff's to fix."""
    missing = einvoice.missing_fields(invoice, seller)
    if not missing:
        return
    names = [str(field) for field in missing]
    fields = (
        names[0]
        if len(names) == 1
        else gettext("%(fields)s and %(last)s")
        % {"fields": ", ".join(names[:-1]), "last": names[-1]}
    )
    company = [field for field in missing if einvoice.is_company_detail(field)]
    values = {"invoice": invoice, "profile": einvoice.profile_label(seller), "fields": fields}
    if company:
        message = (
            gettext(
                "%(invoice)s cannot be issued: its e-invoice (%(profile)s) needs %(fields)s "
                "(Billing › Company details)."
            )
            % values
        )
    else:
        message = (
            gettext("%(invoice)s cannot be issued: its e-invoice (%(profile)s) needs %(fields)s.")
            % values
        )
    if company:
        raise CompanyIncomplete(message, company)
    raise BillingError(message)


def issue(invoice: InvoiceRef, *, actor: User | None, notify: bool = True) -> Invoice:
    """Number the draft, freeze its lines, taxes, the seller's (the company's) and the
    customer's details; it is now owed.

    A credit note keeps the rates and the customer of the invoice it corrects, names the
    seller as it is at its own issue, and is settled when issued.
    Refused, before any number is taken, while a detail its e-invoice requires is missing
    (``einvoice.missing_fields``).
    """
    with transaction.atomic():
        inv = _lock(invoice)
        if not inv.is_draft:
            raise BillingError(gettext("%(invoice)s is already issued.") % {"invoice": inv})
        lines = list(inv.lines.all())
        if not lines:
            raise BillingError(gettext("An invoice needs at least one line."))
        company = CompanyProfile.current()
        now = timezone.now()
        seller = _snapshot_seller(inv, company)
        if inv.kind == InvoiceKind.INVOICE:
            _snapshot(inv)
            _freeze_taxes(inv, lines, company)
            for line in lines:
                line.save(update_fields=["unit_price", "tax_rate", "tax_amount"])
        _set_totals(inv, lines)
        _check_einvoice(inv, seller)
        inv.number, inv.year, inv.sequence = _next_number(inv.kind, now, company)
        inv.issued_at = now
        if inv.due_at is None:
            inv.due_at = now + dt.timedelta(days=company.payment_terms_days)
        settled = inv.kind == InvoiceKind.CREDIT_NOTE or inv.total <= 0
        inv.status = InvoiceStatus.PAID if settled else InvoiceStatus.UNPAID
        if settled:
            inv.paid_at = now
            _close_lines(inv)
        inv.save()
        if notify and inv.kind == InvoiceKind.INVOICE:
            transaction.on_commit(partial(notifications.enqueue_invoice_issued, inv.pk))
    return inv


def _set_totals(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    """The invoice's totals, from its lines' frozen amounts."""
    invoice.subtotal = sum((line.subtotal for line in lines), ZERO)
    invoice.tax_total = sum((line.tax_amount for line in lines), ZERO)
    invoice.total = invoice.subtotal + invoice.tax_total


def _close_lines(invoice: Invoice, *, void: bool = False) -> None:
    """The invoice can no longer be paid: its renewal lines stop blocking a new one. With
    ``void`` (cancelled, refunded) they no longer pay for their period either, so another
    invoice may (``one_renewal_per_service_period``)."""
    if void:
        InvoiceLine.objects.filter(invoice=invoice).update(is_open=False, is_void=True)
    else:
        InvoiceLine.objects.filter(invoice=invoice, is_open=True).update(is_open=False)


def cancel(invoice: InvoiceRef, *, actor: User | None, reason: str = "") -> Invoice:
    """Cancel a draft or unpaid invoice (and the pending order it belongs to)."""
    with transaction.atomic():
        inv = _lock(invoice)
        if inv.status == InvoiceStatus.CANCELLED:
            return inv
        if inv.status not in (InvoiceStatus.DRAFT, InvoiceStatus.UNPAID):
            raise BillingError(
                gettext(
                    "%(invoice)s is %(status)s: only an unpaid invoice can be cancelled; refund "
                    "a paid one."
                )
                % {"invoice": inv, "status": inv.get_status_display().lower()}
            )
        if inv.payments.filter(status=PaymentStatus.SUCCEEDED).exists():
            raise BillingError(
                gettext("%(invoice)s is partly paid: refund it instead.") % {"invoice": inv}
            )
        inv.status = InvoiceStatus.CANCELLED
        if reason and inv.is_draft:
            with in_language_of(inv.customer):
                cancelled = gettext("Cancelled: %(reason)s") % {"reason": reason}
            inv.notes = f"{inv.notes}\n{cancelled}".strip()
        inv.save(update_fields=["status", "notes", "updated_at"])
        _close_lines(inv, void=True)
        order = getattr(inv, "order", None)
        if order is not None and order.status == OrderStatus.PENDING:
            order.status = OrderStatus.CANCELLED
            order.save(update_fields=["status", "updated_at"])
    return inv


def refund(
    invoice: InvoiceRef,
    *,
    actor: User | None,
    to_balance: bool,
    reason: str = "",
    notify: bool = True,
) -> Invoice:
    """Refund a paid invoice with a credit note; returns the credit note.

    ``to_balance`` credits the customer's balance with the total; otherwise the money was
    given back outside the panel. Services the invoice paid for are left as they are.
    """
    with transaction.atomic():
        inv = _lock(invoice)
        if inv.kind != InvoiceKind.INVOICE or inv.status != InvoiceStatus.PAID:
            raise BillingError(
                gettext("%(invoice)s is not a paid invoice: there is nothing to refund.")
                % {"invoice": inv}
            )
        with in_language_of(inv.customer):
            refund_of = gettext("Refund: %(line)s")
            balance_reason = reason or gettext("Refund of %(invoice)s") % {"invoice": inv}
        note = Invoice.objects.create(
            kind=InvoiceKind.CREDIT_NOTE,
            credit_note_for=inv,
            customer=inv.customer,
            currency=inv.currency,
            created_by=actor,
            notes=reason,
            billing_name=inv.billing_name,
            billing_company=inv.billing_company,
            billing_address=inv.billing_address,
            billing_country=inv.billing_country,
            billing_vat_number=inv.billing_vat_number,
            billing_legal_identifier=inv.billing_legal_identifier,
            reverse_charge=inv.reverse_charge,
            tax_note=inv.tax_note,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=note,
                kind=LineKind.CREDIT,
                description=refund_of % {"line": line.description},
                quantity=line.quantity,
                unit_price=-line.unit_price,
                tax_rate=line.tax_rate,
                tax_amount=-line.tax_amount,
                service=line.service,
                cycles=line.cycles,
                is_open=False,
            )
            for line in inv.lines.all()
        )
        note = issue(note, actor=actor, notify=False)
        inv.status = InvoiceStatus.REFUNDED
        inv.save(update_fields=["status", "updated_at"])
        _close_lines(inv, void=True)
        inv.payments.filter(status=PaymentStatus.SUCCEEDED).update(status=PaymentStatus.REFUNDED)
        if to_balance:
            BalanceEntry.objects.create(
                customer=inv.customer,
                kind=BalanceEntryKind.REFUND,
                amount=inv.total,
                currency=inv.currency,
                invoice=note,
                reason=balance_reason,
                actor=actor,
            )
        if notify:
            transaction.on_commit(partial(notifications.enqueue_refund, note.pk))
    return note


def renewal_invoice(
    service: Service,
    *,
    cycles: int = 1,
    actor: User | None,
    due_at: dt.datetime | None = None,
) -> Invoice:
    """An issued invoice renewing ``service`` by ``cycles`` from its current expiration,
    due at ``due_at`` (else after the company's payment terms).

    Refused when the rule book refuses the renewal, when the service already has an
    unpaid renewal invoice, and when an invoice already pays that period (database
    constraints).
    """
    decision = rules.decide(service, ServiceAction.RENEW, rules.Context(cycles=cycles))
    if not decision.allowed:
        raise BillingError(
            gettext("Cannot invoice a renewal of service #%(service)s: %(reason)s.")
            % {"service": service.pk, "reason": decision.message}
        )
    line = renewal_line(service, cycles)
    # One transaction: a draft that cannot be issued (a detail the e-invoice needs is
    # missing) is not left behind, holding the service's one open renewal line.
    with transaction.atomic():
        draft = create_draft(service.customer, actor=actor, lines=[line], currency=service.currency)
        if due_at is not None:
            draft.due_at = due_at
            draft.save(update_fields=["due_at", "updated_at"])
        return issue(draft, actor=actor)


def renewal_line(service: Service, cycles: int = 1) -> LineSpec:
    """The line renewing ``service`` by ``cycles`` from its current expiration, written in
    its customer's language: the renewal invoice's one line, made alike one by one and
    in batches (``billing.renewal_batches``)."""
    start = service.expires_at
    assert start is not None  # the rule book refuses a service that never expires
    end = add_cycles(start, service.billing_cycle, cycles, anchor_day=service.billing_anchor_day)
    text, cycle = _renewal_wording(language_of(service.customer), service.billing_cycle)
    description = text % {
        "service": service.name,
        "id": service.pk,
        "cycles": cycles,
        "cycle": cycle,
    }
    return LineSpec(
        description=description,
        unit_price=service.price,
        quantity=cycles,
        kind=LineKind.RENEWAL,
        service=service,
        cycles=cycles,
        period_start=start,
        period_end=end,
    )


@functools.lru_cache(maxsize=128)
def _renewal_wording(language: str, cycle: str) -> tuple[str, str]:
    """A renewal line's text in ``language``, and the label of ``cycle`` in lower case,
    as the customer reads them: looked up once per language and cycle, a batch writing
    hundreds of lines."""
    with translation.override(language):
        text = gettext("Renewal of %(service)s (#%(id)s), %(cycles)s × %(cycle)s")
        label = str(dict(BillingCycle.choices).get(cycle, cycle)).lower()
    return text, label
