"""Stripe's webhook: verify, store once by event id, apply once.

1. The signature (``Stripe-Signature``) is checked with the endpoint's signing secret by
   ``stripe.Webhook.construct_event``; a missing or wrong one answers 400 and stores
   nothing, so a forged request leaves no trace but the log.
2. The event is stored as a ``GatewayEvent``, unique by (gateway, event id). A repeat
   delivery hits the constraint and answers 200 without doing anything: on PostgreSQL a
   concurrent one waits for the first to commit, then finds it.
3. ``checkout.session.completed`` (paid), ``checkout.session.async_payment_succeeded``
   and ``payment_intent.succeeded`` record a payment with the payment intent's id as
   reference: the session's event and the intent's event name the same payment, and
   ``record_payment`` counts it once per (gateway, reference).

The event and its payment are written in one transaction: if applying it fails for an
unexpected reason the event is not stored, Stripe gets a 500 and delivers it again. A
refusal that another delivery would not change (an unknown invoice, another currency)
is stored on the event as its error and answers 200, so Stripe stops retrying and staff
can read why.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from billing.choices import InvoiceKind
from billing.invoices import BillingError
from billing.models import GatewayEvent, Invoice
from billing.payments import record_payment

from .money import from_minor_units

logger = logging.getLogger(__name__)

GATEWAY = "stripe"
SESSION_PAID = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
INTENT_SUCCEEDED = "payment_intent.succeeded"
#: Beyond the primary key column's range PostgreSQL refuses the query (a 500).
MAX_PK = 2**31
#: The length of ``Payment.reference``.
MAX_REFERENCE = 191


class Refused(Exception):
    """The event cannot be applied, and delivering it again would not change that."""


def receive(request: HttpRequest, secret: str) -> HttpResponse:
    """Answer one delivery of Stripe's webhook (POST, CSRF-exempt: the signature is the
    proof of origin)."""
    payload = request.body
    try:
        stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret)
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
    except stripe.SignatureVerificationError:
        logger.warning("Stripe webhook refused: missing or wrong signature")
        return HttpResponse("Invalid signature.", status=400, content_type="text/plain")
    except (ValueError, KeyError, TypeError):
        logger.warning("Stripe webhook refused: not a Stripe event")
        return HttpResponse("Not a Stripe event.", status=400, content_type="text/plain")
    try:
        with transaction.atomic():
            stored = GatewayEvent.objects.create(
                gateway=GATEWAY, event_id=event_id[:191], type=event_type[:100], payload=event
            )
            try:
                apply(event)
            except Refused as exc:
                stored.error = str(exc)
                logger.warning("Stripe event %s (%s) not applied: %s", event_id, event_type, exc)
            stored.processed_at = timezone.now()
            stored.save(update_fields=["error", "processed_at"])
    except IntegrityError:
        if not GatewayEvent.objects.filter(gateway=GATEWAY, event_id=event_id[:191]).exists():
            raise
        return JsonResponse({"received": True, "duplicate": True})
    return JsonResponse({"received": True})


def apply(event: dict[str, Any]) -> None:
    """Record the payment an event reports; other events are only kept."""
    obj = _dict(_dict(event.get("data")).get("object"))
    metadata = _dict(obj.get("metadata"))
    if event["type"] in SESSION_PAID:
        if obj.get("payment_status") != "paid":
            return  # paid later by an asynchronous method: its own event will say so
        _record(
            event,
            invoice_ref=metadata.get("invoice_id") or obj.get("client_reference_id"),
            number=metadata.get("invoice_number"),
            amount=obj.get("amount_total"),
            currency=obj.get("currency"),
            reference=_intent_id(obj.get("payment_intent")),
            session=obj.get("id"),
        )
    elif event["type"] == INTENT_SUCCEEDED:
        _record(
            event,
            invoice_ref=metadata.get("invoice_id"),
            number=metadata.get("invoice_number"),
            amount=obj.get("amount_received") or obj.get("amount"),
            currency=obj.get("currency"),
            reference=obj.get("id"),
            session=None,
        )


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one: a signed event is Stripe's, but
    a shape we do not expect must be refused, not crash into a 500 that Stripe retries."""
    return value if isinstance(value, dict) else {}


def _intent_id(value: Any) -> str | None:
    """A session names its payment intent by id, or embeds it when expanded."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def _record(
    event: dict[str, Any],
    *,
    invoice_ref: Any,
    number: Any,
    amount: Any,
    currency: Any,
    reference: Any,
    session: Any,
) -> None:
    invoice = _find_invoice(invoice_ref, number)
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE:
        raise Refused("The event names no payment intent.")
    if not isinstance(amount, int) or amount <= 0:
        raise Refused(f"The event's amount {amount!r} is not a positive integer.")
    if str(currency or "").upper() != invoice.currency.upper():
        raise Refused(f"Paid in {currency!r}, but {invoice} is in {invoice.currency}.")
    data = {"event_id": event["id"], "event_type": event["type"], "payment_intent": reference}
    if isinstance(session, str) and session:
        data["checkout_session"] = session
    try:
        record_payment(
            invoice,
            gateway=GATEWAY,
            amount=from_minor_units(amount, invoice.currency),
            reference=reference,
            data=data,
        )
    except BillingError as exc:
        raise Refused(exc.message) from exc


def _find_invoice(invoice_ref: Any, number: Any) -> Invoice:
    """The invoice the event is for, by the id we gave Stripe; its number must agree."""
    try:
        pk = int(invoice_ref)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk < MAX_PK:
        raise Refused(f"The event names no invoice of ours ({invoice_ref!r}).")
    invoice = Invoice.objects.filter(pk=pk, kind=InvoiceKind.INVOICE).first()
    if invoice is None:
        raise Refused(f"No invoice #{pk}.")
    if number and invoice.number != number:
        raise Refused(f"Invoice #{pk} is {invoice.number}, not {number}.")
    return invoice
