"""Billing's steps of the service timeline (issue 13, DESIGN.md, "Background work"):
renewal invoices before the expiration, payment reminders around the due date, and new
orders left unpaid cancelled. Each is a periodic task of ``automation`` (registered in
``billing.automation``), run at a moment ``now``: the dry run asks the same due-rows
query what it would find at another.

Each step is a due-rows query that states the whole condition (so a second run, or a row
changed in between, finds nothing) handed to ``clientxcms.claims.for_each_due``: one
transaction per row, claimed with ``skip_locked``, so two workers never handle the same
row and one failure never undoes the others. No panel is called here. A handler's work
runs in a savepoint and any error of it is reported as that row's failure, so one broken
service neither stops the run nor rolls back the invoices of the others (Paymenter's
one-transaction cron is the counter-example). Renewal invoices are made 500 at a time
(``billing.renewal_batches``), with the same outcome; what a batch cannot make cheaply
(a balance that pays, a refusal) goes this way, one by one.

The database has the last word on duplicates: a service's period is paid by one renewal
line (``one_renewal_per_service_period``), and a reminder is one ``EmailLog`` row per
(kind, reference). The numbers are settings staff change (``billing.automation``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import models, transaction
from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from clientxcms.claims import SKIPPED, ClaimResult, for_each_due
from customers.mail import SENDING_STALE_AFTER, send_to_customer
from customers.models import Customer, EmailLog, EmailStatus
from services import rules
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import Service

from . import automation, invoices, orders, payments, renewal_batches
from .choices import InvoiceKind, InvoiceStatus, LineKind, OrderStatus, PaymentStatus
from .models import CompanyProfile, Invoice, InvoiceLine, Order, Payment, balance_of

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)

REMINDER_KIND = "invoice_reminder"
REMINDER_TEMPLATE = "billing/emails/invoice_reminder"


class StepFailed(Exception):
    """One row of a step could not be handled; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _run(
    due: models.QuerySet[M],
    handle: Callable[[M], object],
    *,
    savepoint: bool = True,
) -> ClaimResult:
    """Claim each due row and ``handle`` it; any error of one row is that row's failure.

    With ``savepoint`` the handler's writes are undone when it fails (a half-made invoice
    never stays); without, they are kept (a reminder's failed ``EmailLog`` row, which
    staff read and the next run retries). A handler returns ``SKIPPED`` when the row,
    once claimed, turns out to be handled already.
    """

    def guarded(row: M) -> object:
        try:
            if savepoint:
                with transaction.atomic():
                    outcome = handle(row)
            else:
                outcome = handle(row)
        except StepFailed:
            raise
        except Exception as exc:
            logger.exception("%s %s failed", row._meta.label, row.pk)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            raise StepFailed(message) from exc
        return outcome

    return for_each_due(due, guarded, expected=(StepFailed,))


# Renewal invoices ----------------------------------------------------------------------


def due_renewals(now: dt.datetime) -> models.QuerySet[Service]:
    """Active and suspended services expiring within their cycle's lead time, that the
    rule book lets renew, with no scheduled cancellation, no unpaid renewal invoice, and
    no renewal line yet for the period starting at their expiration.

    A line of a cancelled invoice counts too: staff who cancelled a renewal invoice meant
    it, and the automation does not make it again (the customer may still renew by hand).
    """
    renewal_lines = InvoiceLine.objects.filter(service=OuterRef("pk"), kind=LineKind.RENEWAL)
    return (
        renewable(now)
        .exclude(Exists(renewal_lines.filter(period_start=OuterRef("expires_at"))))
        .exclude(Exists(renewal_lines.filter(is_open=True)))
    )


def renewable(now: dt.datetime) -> models.QuerySet[Service]:
    """``due_renewals`` but for the renewal lines: the services a batch locks, reading
    their lines in one query of its own (``billing.renewal_batches``)."""
    window = Q()
    longest = dt.timedelta()
    for cycle in automation.renewing_cycles():
        lead_time = dt.timedelta(days=automation.renewal_invoice_days(cycle))
        window |= Q(billing_cycle=cycle, expires_at__lte=now + lead_time)
        longest = max(longest, lead_time)
    due = Service.objects.filter(
        window,
        # Implied by the window, but one range the planner reads from the index of
        # status and expiration, rather than one arm per billing cycle.
        expires_at__lte=now + longest,
        status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED],
        cancel_at__isnull=True,
    )
    context = rules.Context(source=EventSource.AUTOMATION, now=now)
    # Q: the stubs do not know the annotation the rule book adds.
    return rules.annotate(due, ServiceAction.RENEW, context).filter(Q(rule_message=""))


def _invoice_renewal(service: Service) -> object:
    """Invoice the service's next period, due at its expiration; pay it from the balance
    when that covers it."""
    # The claim's query may have read the lines before another worker committed its
    # invoice: read them again now that the service is ours.
    if InvoiceLine.objects.filter(
        service=service, kind=LineKind.RENEWAL, period_start=service.expires_at
    ).exists():
        return SKIPPED
    assert service.expires_at is not None  # due_renewals asks for an expiration
    try:
        invoice = invoices.renewal_invoice(
            service, actor=None, due_at=max(service.expires_at, timezone.now())
        )
    except invoices.BillingError as exc:
        # A refusal with its reason (a company detail the e-invoice needs, say): the run's
        # failure for staff to read, not a crash to trace.
        raise StepFailed(exc.message) from exc
    _pay_if_balance_covers(invoice)
    return invoice


def _pay_if_balance_covers(invoice: Invoice) -> None:
    """Pay ``invoice`` from the customer's credit when the credit covers all of it.

    The customer's row is locked first, as every spending of the balance does, so the
    credit read here is still there when ``pay_from_balance`` spends it: the invoice is
    paid in full or not at all.
    """
    if invoice.status != InvoiceStatus.UNPAID:
        return
    if balance_of(invoice.customer, invoice.currency) < invoice.total:
        return  # read without a lock: most customers have no credit, and wait for nobody
    Customer.objects.select_for_update().filter(pk=invoice.customer_id).first()
    if balance_of(invoice.customer, invoice.currency) >= invoice.total:
        payments.pay_from_balance(invoice, actor=None)


def make_renewal_invoices(now: dt.datetime) -> ClaimResult:
    """Make the renewal invoices due at ``now``: in batches (``billing.renewal_batches``),
    the services a batch leaves (a balance that pays, a refusal) one by one."""
    return renewal_batches.make_in_batches(
        due_renewals(now), renewable(now), _invoice_renewals_one_by_one, expected=(StepFailed,)
    )


def _invoice_renewals_one_by_one(due: models.QuerySet[Service]) -> ClaimResult:
    return _run(due, _invoice_renewal)


# Payment reminders ---------------------------------------------------------------------


def due_reminders(now: dt.datetime) -> models.QuerySet[Invoice]:
    """Unpaid invoices whose latest reminder offset now passed has not been sent.

    Each row carries ``reminder_offset`` (the latest offset passed: a reminder missed while
    the worker was down is not sent once the next one is due) and ``reminder_reference``.
    A reminder whose moment came before the invoice was issued is not sent: the "invoice
    issued" e-mail already said it. A failed send does not count as sent, nor does one
    stuck sending past ``SENDING_STALE_AFTER`` (its worker died): the next run retries.
    """
    offsets = automation.invoice_reminder_days()
    if not offsets:
        return Invoice.objects.none()

    def passed(offset: int) -> Q:
        return Q(due_at__lte=now - dt.timedelta(days=offset))

    latest = Case(
        *[When(passed(offset), then=Value(offset)) for offset in offsets],
        default=Value(None),
        output_field=IntegerField(),
    )
    issued_before = Q()
    for offset in offsets:
        issued_before |= Q(reminder_offset=offset) & Q(
            issued_at__lt=models.F("due_at") + dt.timedelta(days=offset)
        )
    sent = EmailLog.objects.filter(kind=REMINDER_KIND, reference=OuterRef("reminder_reference"))
    sent = sent.filter(
        Q(status=EmailStatus.SENT)
        | Q(status=EmailStatus.SENDING, attempted_at__gt=now - SENDING_STALE_AFTER)
    )
    return (
        Invoice.objects.filter(kind=InvoiceKind.INVOICE, status=InvoiceStatus.UNPAID)
        .filter(passed(offsets[-1]))
        .annotate(reminder_offset=latest)
        .annotate(
            reminder_reference=Concat(
                Value("invoice:"),
                "number",
                Value(":"),
                Cast("reminder_offset", CharField()),
                output_field=CharField(),
            )
        )
        .filter(issued_before)
        .exclude(Exists(sent))
    )


def _send_reminder(invoice: Invoice) -> object:
    """E-mail the reminder of ``invoice`` at its latest offset passed, once."""
    offset: int = invoice.reminder_offset  # type: ignore[attr-defined]  # annotated
    customer = Customer.objects.select_related("user").get(pk=invoice.customer_id)
    try:
        log = send_to_customer(
            customer,
            kind=REMINDER_KIND,
            template=REMINDER_TEMPLATE,
            context={
                "invoice": invoice,
                "offset": offset,
                "days": abs(offset),
                "company": CompanyProfile.current(),
            },
            reference=invoice.reminder_reference,  # type: ignore[attr-defined]  # annotated
        )
    except Exception as exc:  # the mail server; the log row says failed
        raise StepFailed(f"the reminder could not be sent: {type(exc).__name__}: {exc}") from exc
    return log if log.just_sent else SKIPPED


def send_invoice_reminders(now: dt.datetime) -> ClaimResult:
    """Send the payment reminders due at ``now``."""
    # No savepoint: a failed send keeps its failed log row, for staff and the next run.
    return _run(due_reminders(now), _send_reminder, savepoint=False)


# Unpaid new orders ---------------------------------------------------------------------


def due_unpaid_orders(now: dt.datetime) -> models.QuerySet[Order]:
    """Orders still pending payment the set number of days after they were placed, with
    nothing paid on their invoice (a partly paid one is refunded by staff, not
    cancelled)."""
    cutoff = now - dt.timedelta(days=automation.order_unpaid_cancel_days())
    paid = Payment.objects.filter(invoice=OuterRef("invoice_id"), status=PaymentStatus.SUCCEEDED)
    return Order.objects.filter(status=OrderStatus.PENDING, created_at__lte=cutoff).exclude(
        Exists(paid)
    )


def _cancel_order(order: Order) -> object:
    return orders.cancel_order(order, actor=None)


def cancel_unpaid_orders(now: dt.datetime) -> ClaimResult:
    """Cancel the new orders left unpaid too long at ``now``, and their invoices."""
    return _run(due_unpaid_orders(now), _cancel_order)
