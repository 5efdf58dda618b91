"""What the gateway tests share: an issued invoice, Stripe switched on against the fake,
and Stripe events built and signed as Stripe sends them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.test import Client

from billing import invoices
from billing.invoices import LineSpec
from billing.models import GatewaySettings, Invoice
from tests.fakes.stripe_api import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, sign

WEBHOOK_URL = "/client/payments/stripe/webhook/"


def issued_invoice(customer: Any, amount: Decimal = Decimal("10.00")) -> Invoice:
    """An unpaid invoice of ``customer`` with one manual line (no tax rate: total = amount)."""
    draft = invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description="Support", unit_price=amount)]
    )
    return invoices.issue(draft, actor=None, notify=False)


def turn_on_stripe() -> GatewaySettings:
    return GatewaySettings.objects.create(
        key="stripe",
        enabled=True,
        settings={
            "secret_key": SECRET_KEY,
            "publishable_key": PUBLISHABLE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
        },
    )


def session_completed(
    invoice: Invoice, *, event_id: str = "evt_session_1", intent: str = "pi_test_0001", **obj: Any
) -> dict[str, Any]:
    """``checkout.session.completed`` for a paid session of ``invoice``."""
    metadata = {"invoice_id": str(invoice.pk), "invoice_number": invoice.number}
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "livemode": False,
        "data": {
            "object": {
                "id": "cs_test_0001",
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "amount_total": int(invoice.total * 100),
                "currency": invoice.currency.lower(),
                "client_reference_id": str(invoice.pk),
                "metadata": metadata,
                "payment_intent": intent,
                **obj,
            }
        },
    }


def intent_succeeded(
    invoice: Invoice, *, event_id: str = "evt_intent_1", intent: str = "pi_test_0001"
) -> dict[str, Any]:
    """``payment_intent.succeeded`` for the payment intent of ``invoice``'s session."""
    amount = int(invoice.total * 100)
    return {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "status": "succeeded",
                "amount": amount,
                "amount_received": amount,
                "currency": invoice.currency.lower(),
                "metadata": {"invoice_id": str(invoice.pk), "invoice_number": invoice.number},
            }
        },
    }


def deliver(
    client: Client, event: dict[str, Any], *, signature: str | None = "good", secret: str = ""
) -> Any:
    """POST ``event`` to the webhook as Stripe does; ``signature=None`` sends no header, any
    other string but "good" is sent as the header."""
    payload = json.dumps(event)
    headers = {}
    if signature == "good":
        headers["Stripe-Signature"] = sign(payload, secret or WEBHOOK_SECRET)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(WEBHOOK_URL, data=payload, content_type="application/json", headers=headers)
