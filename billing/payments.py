"""Recording a payment, and doing what a paid invoice pays for, exactly once.

``record_payment`` locks the invoice, so confirmations of one invoice (a webhook delivered
five times, staff clicking twice, the gateway's two events for one payment) run one after
the other; a payment is recorded once per gateway reference (a database constraint), and
the invoice's lines are applied in the same transaction that marks it paid, so a paid
invoice is applied once. A renewal line renews through the lifecycle with the invoice
number as reference, which the lifecycle also refuses to apply twice.

Money that arrives for an invoice that can no longer be paid (already paid, cancelled)
is kept: it goes to the customer's balance rather than being refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from customers.models import User
from delivery.modules.base import ModuleError
from products.models import Product
from services import lifecycle, placement
from services.choices import EventSource
from services.lifecycle import LifecycleError
from services.models import Service
from services.tasks import deliver_service

from . import notifications
from .choices import BalanceEntryKind, InvoiceStatus, LineKind, OrderStatus
from .invoices import BillingError, InvoiceRef, _close_lines, _lock
from .models import ZERO, BalanceEntry, Invoice, InvoiceLine, Payment, balance_of, in_language_of

AUTOMATION = EventSource.AUTOMATION
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentOutcome:
    """The payment, whether this call recorded it (False: it was there already), and the
    invoice as it is now."""

    payment: Payment
    created: bool
    invoice: Invoice


def record_payment(
    invoice: InvoiceRef,
    *,
    gateway: str,
    amount: Decimal,
    reference: str,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    notify: bool = True,
) -> PaymentOutcome:
    """Record ``amount`` received through ``gateway``; once per (gateway, reference)."""
    if amount <= 0:
        raise BillingError(gettext("A payment must be more than zero."))
    with transaction.atomic():
        inv = _lock(invoice)
        if reference:
            existing = Payment.objects.filter(gateway=gateway, reference=reference).first()
            if existing is not None:
                return PaymentOutcome(existing, created=False, invoice=inv)
        if inv.is_draft:
            raise BillingError(
                gettext("%(invoice)s is a draft: issue it before it can be paid.")
                % {"invoice": inv}
            )
        payment = Payment.objects.create(
            invoice=inv,
            gateway=gateway,
            amount=amount,
            currency=inv.currency,
            reference=reference,
            actor=actor,
            data=data or {},
        )
        if inv.status != InvoiceStatus.UNPAID:
            with in_language_of(inv.customer):
                reason = gettext("Received for %(invoice)s, which is %(status)s") % {
                    "invoice": inv,
                    "status": inv.get_status_display(),
                }
            _to_balance(inv, amount, reason)
        else:
            received = inv.amount_paid()
            if received >= inv.total:
                _mark_paid(inv)
                if received > inv.total:
                    with in_language_of(inv.customer):
                        reason = gettext("Overpayment of %(invoice)s") % {"invoice": inv}
                    _to_balance(inv, received - inv.total, reason)
        if notify:
            transaction.on_commit(partial(notifications.enqueue_payment_received, payment.pk))
    return PaymentOutcome(payment, created=True, invoice=inv)


def pay_from_balance(invoice: InvoiceRef, *, actor: User | None) -> PaymentOutcome | None:
    """Pay what is left of an unpaid invoice from the customer's credit, in full or in part.

    Returns None when the customer has no credit. The spending entry and the payment are
    written together, under the invoice's lock.
    """
    with transaction.atomic():
        inv = _lock(invoice)
        if inv.status != InvoiceStatus.UNPAID:
            raise BillingError(
                gettext("%(invoice)s is %(status)s: nothing to pay.")
                % {"invoice": inv, "status": inv.get_status_display().lower()}
            )
        # Every spending of a customer's credit locks the customer's row first, so two
        # invoices paid from one balance at once cannot spend the same credit.
        type(inv.customer).objects.select_for_update().filter(pk=inv.customer_id).first()
        credit = balance_of(inv.customer, inv.currency)
        due = inv.total - inv.amount_paid()
        amount = min(credit, due)
        if amount <= ZERO:
            return None
        count = inv.payments.filter(gateway="balance").count()
        outcome = record_payment(
            inv,
            gateway="balance",
            amount=amount,
            reference=f"{inv.number}-{count + 1}",
            actor=actor,
        )
        BalanceEntry.objects.create(
            customer=inv.customer,
            kind=BalanceEntryKind.PAYMENT,
            amount=-amount,
            currency=inv.currency,
            invoice=inv,
            reason=_paid_reason(inv),
            actor=actor,
        )
    return outcome


def _paid_reason(invoice: Invoice) -> str:
    """The reason of the balance entry that pays ``invoice``, in its customer's language."""
    with in_language_of(invoice.customer):
        return gettext("Paid %(invoice)s") % {"invoice": invoice}


def _to_balance(invoice: Invoice, amount: Decimal, reason: str) -> None:
    BalanceEntry.objects.create(
        customer=invoice.customer,
        kind=BalanceEntryKind.OVERPAYMENT,
        amount=amount,
        currency=invoice.currency,
        invoice=invoice,
        reason=reason,
    )


def _mark_paid(invoice: Invoice) -> None:
    """Mark the locked invoice paid and do what its lines pay for, in this transaction."""
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    _close_lines(invoice)
    lines = list(invoice.lines.select_related("order_item__product__server_group", "service"))
    placement.lock(
        line.order_item.product
        for line in lines
        if line.kind == LineKind.NEW_SERVICE and line.order_item and line.service_id is None
    )
    for line in lines:
        if line.kind == LineKind.RENEWAL and line.service_id is not None:
            _renew(invoice, line)
        elif line.kind == LineKind.NEW_SERVICE and line.order_item is not None:
            _create_service(invoice, line)
    order = getattr(invoice, "order", None)
    if order is not None and order.status == OrderStatus.PENDING:
        order.status = OrderStatus.PAID
        order.save(update_fields=["status", "updated_at"])


def _renew(invoice: Invoice, line: InvoiceLine) -> None:
    """Renew the line's service from its old expiration.

    A refusal (the service was terminated meanwhile, its module failed) does not refuse the
    money: the invoice stays paid, and the refusal is written in its notes and the log for
    staff, who renew by hand or refund.
    """
    try:
        lifecycle.renew(
            line.service_id,  # type: ignore[arg-type]  # checked by the caller
            actor=None,
            source=AUTOMATION,
            cycles=line.cycles,
            price=line.subtotal,
            invoice_reference=invoice.number or "",
        )
    except (LifecycleError, ModuleError) as exc:
        logger.error("Paid %s did not renew service %s: %s", invoice, line.service_id, exc)
        with in_language_of(invoice.customer):
            note = gettext("Paid, but the renewal of service #%(service)s failed: %(reason)s") % {
                "service": line.service_id,
                "reason": exc.message,
            }
        invoice.notes = f"{invoice.notes}\n{note}".strip()
        Invoice.objects.filter(pk=invoice.pk).update(notes=invoice.notes)


def _create_service(invoice: Invoice, line: InvoiceLine) -> None:
    """Create the ordered service (pending) on a server with room and queue its delivery.

    When no server has room any more (it was checked when the order was placed, but
    other orders were paid since), the money is not refused: the service is created
    pending on no server, with the reason in its notes and the invoice's, for staff to
    choose a server and deliver it (or refund); nothing is sent to a panel meanwhile.
    """
    item = line.order_item
    assert item is not None
    if line.service_id is not None:
        return  # created by an earlier application of this line
    product = item.product
    price = next((p.price for p in product.prices.filter(cycle=item.billing_cycle)), item.price)
    fields: dict[str, Any] = {
        "customer": invoice.customer,
        "name": product.name,
        "billing_cycle": item.billing_cycle,
        "price": price,
        "initial_price": item.price + item.setup_fee,
        "currency": invoice.currency,
        "module_data": item.module_options,
    }
    try:
        service = placement.create_placed(product=product, actor=None, source=AUTOMATION, **fields)
    except placement.NoRoom as exc:
        service = _create_unplaced(invoice, product, fields, exc.message)
    else:
        transaction.on_commit(partial(deliver_service.delay, service.pk))
    InvoiceLine.objects.filter(pk=line.pk).update(service=service)


def _create_unplaced(
    invoice: Invoice, product: Product, fields: dict[str, Any], reason: str
) -> Service:
    """The paid service that no server could take: pending, on no server, waiting for staff."""
    logger.error("Paid %s: %s The service waits for staff.", invoice, reason)
    service = lifecycle.create(
        actor=None,
        source=AUTOMATION,
        product=product,
        module=product.module,
        server=None,
        notes=f"Paid with {invoice}, when {reason[0].lower()}{reason[1:]} "
        "Choose a server, then deliver it.",
        **fields,
    )
    with in_language_of(invoice.customer):
        note = gettext(
            "Paid, but no server had room for service #%(service)s: staff will place it."
        ) % {"service": service.pk}
    invoice.notes = f"{invoice.notes}\n{note}".strip()
    Invoice.objects.filter(pk=invoice.pk).update(notes=invoice.notes)
    return service
