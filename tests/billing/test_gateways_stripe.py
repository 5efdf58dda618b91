"""Stripe Checkout against a fake of Stripe's API on 127.0.0.1, and Stripe's webhook with
events signed locally with the endpoint's test secret."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from billing import orders
from billing.choices import InvoiceStatus, OrderStatus
from billing.models import GatewayEvent, Payment, balance_of
from products.choices import BillingCycle
from services.models import Service
from tests.billing.gateway_helpers import (
    WEBHOOK_URL,
    deliver,
    intent_succeeded,
    issued_invoice,
    session_completed,
    turn_on_stripe,
)
from tests.factories import FakeServerFactory, ProductFactory, ProductPriceFactory
from tests.fakes.stripe_api import serve, sign


@pytest.fixture
def fake_stripe(settings):
    """Stripe's API, faked on 127.0.0.1, with the library pointed at it."""
    with serve() as fake:
        settings.STRIPE_API_BASE = fake.base_url
        yield fake


@pytest.fixture
def stripe_on(db):
    return turn_on_stripe()


# Starting a payment ----------------------------------------------------------------------


def test_paying_by_card_sends_the_customer_to_a_checkout_session_for_the_amount_due(
    client, customer, stripe_on, fake_stripe
):
    invoice = issued_invoice(customer, Decimal("12.34"))
    client.force_login(customer.user)

    response = client.post(f"/client/invoices/{invoice.pk}/pay/stripe/")

    assert response.status_code == 302
    assert response["Location"] == f"{fake_stripe.base_url}/c/pay/cs_test_0001"
    [sent] = fake_stripe.requests
    back = f"http://testserver/client/invoices/{invoice.pk}/"
    assert sent["path"] == "/v1/checkout/sessions"
    assert sent["mode"] == "payment"
    assert sent["line_items[0][quantity]"] == "1"
    assert sent["line_items[0][price_data][unit_amount]"] == "1234"
    assert sent["line_items[0][price_data][currency]"] == invoice.currency.lower()
    assert sent["client_reference_id"] == str(invoice.pk)
    assert sent["metadata[invoice_id]"] == str(invoice.pk)
    assert sent["metadata[invoice_number]"] == invoice.number
    assert sent["payment_intent_data[metadata][invoice_id]"] == str(invoice.pk)
    assert (sent["success_url"], sent["cancel_url"]) == (back, back)
    # Nothing is paid until Stripe's webhook says so.
    assert not Payment.objects.exists()


def test_a_refused_key_sends_the_customer_back_to_the_invoice_with_a_message(
    client, customer, stripe_on, fake_stripe
):
    fake_stripe.api_key = "sk_test_another"
    invoice = issued_invoice(customer)
    client.force_login(customer.user)

    response = client.post(f"/client/invoices/{invoice.pk}/pay/stripe/", follow=True)

    assert response.redirect_chain == [(f"/client/invoices/{invoice.pk}/", 302)]
    assert "Stripe could not be reached" in response.text
    assert "sk_test_" not in response.text
    assert len(fake_stripe.requests) == 1


def test_starting_a_card_payment_needs_a_post(client, customer, stripe_on, fake_stripe):
    invoice = issued_invoice(customer)
    client.force_login(customer.user)

    assert client.get(f"/client/invoices/{invoice.pk}/pay/stripe/").status_code == 405
    assert fake_stripe.requests == []


def test_stripe_is_not_offered_before_its_keys_are_set(client, customer, fake_stripe):
    invoice = issued_invoice(customer)
    client.force_login(customer.user)

    assert client.post(f"/client/invoices/{invoice.pk}/pay/stripe/").status_code == 404
    assert fake_stripe.requests == []


# The webhook -----------------------------------------------------------------------------


def test_a_signed_completed_session_marks_the_invoice_paid(client, customer, stripe_on):
    invoice = issued_invoice(customer, Decimal("12.34"))

    response = deliver(client, session_completed(invoice))

    assert response.status_code == 200
    invoice.refresh_from_db()
    payment = Payment.objects.get()
    assert invoice.status == InvoiceStatus.PAID
    assert (payment.invoice, payment.gateway, payment.reference, payment.amount) == (
        invoice,
        "stripe",
        "pi_test_0001",
        Decimal("12.34"),
    )
    assert payment.data == {
        "event_id": "evt_session_1",
        "event_type": "checkout.session.completed",
        "payment_intent": "pi_test_0001",
        "checkout_session": "cs_test_0001",
    }
    event = GatewayEvent.objects.get()
    assert (event.event_id, event.type, event.error) == (
        "evt_session_1",
        "checkout.session.completed",
        "",
    )
    assert event.processed_at is not None


def test_the_same_event_delivered_five_times_is_stored_and_paid_once(client, customer, stripe_on):
    invoice = issued_invoice(customer)
    event = session_completed(invoice)

    answers = [deliver(client, event) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json().get("duplicate", False) for a in answers] == [False] + [True] * 4
    assert Payment.objects.count() == 1
    assert GatewayEvent.objects.count() == 1
    assert balance_of(customer) == Decimal("0.00")


def test_the_session_event_and_the_intent_event_of_one_payment_count_once(
    client, customer, stripe_on
):
    invoice = issued_invoice(customer)

    deliver(client, intent_succeeded(invoice))
    deliver(client, session_completed(invoice))

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.count() == 1
    assert GatewayEvent.objects.count() == 2
    assert balance_of(customer) == Decimal("0.00")


@pytest.mark.parametrize(
    "signature",
    [None, "", "t=1,v1=deadbeef", "garbage"],
    ids=["missing", "empty", "wrong", "malformed"],
)
def test_a_missing_or_bad_signature_answers_400_and_stores_nothing(
    client, customer, stripe_on, signature
):
    invoice = issued_invoice(customer)

    response = deliver(client, session_completed(invoice), signature=signature)

    assert response.status_code == 400
    assert not GatewayEvent.objects.exists()
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNPAID


def test_an_event_signed_with_another_secret_answers_400(client, customer, stripe_on):
    invoice = issued_invoice(customer)

    response = deliver(client, session_completed(invoice), secret="whsec_someone_else")

    assert response.status_code == 400
    assert not GatewayEvent.objects.exists()


def test_a_signature_over_another_payload_answers_400(client, customer, stripe_on):
    invoice = issued_invoice(customer)
    signed = sign(json.dumps(session_completed(invoice, amount_total=1)))

    response = deliver(client, session_completed(invoice), signature=signed)

    assert response.status_code == 400
    assert not Payment.objects.exists()


def test_the_webhook_answers_400_while_stripe_has_no_signing_secret(client, customer):
    invoice = issued_invoice(customer)

    assert deliver(client, session_completed(invoice)).status_code == 400
    assert not GatewayEvent.objects.exists()


def test_an_event_for_an_unknown_invoice_is_stored_with_its_error_and_pays_nothing(
    client, customer, stripe_on
):
    invoice = issued_invoice(customer)
    event = session_completed(invoice)
    event["data"]["object"]["metadata"] = {"invoice_id": "999999"}
    event["data"]["object"]["client_reference_id"] = "999999"

    response = deliver(client, event)

    assert response.status_code == 200
    stored = GatewayEvent.objects.get()
    assert stored.error == "No invoice #999999."
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNPAID


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"metadata": {"invoice_id": "9" * 40}, "client_reference_id": None}, "no invoice of ours"),
        ({"metadata": "x", "client_reference_id": "abc"}, "no invoice of ours"),
        ({"payment_intent": None}, "names no payment intent"),
        ({"payment_intent": "pi_" + "x" * 300}, "names no payment intent"),
        ({"amount_total": "1234"}, "not a positive integer"),
    ],
    ids=["huge-id", "no-metadata", "no-intent", "long-intent", "text-amount"],
)
def test_a_signed_event_of_an_unexpected_shape_is_stored_with_its_error(
    client, customer, stripe_on, change, error
):
    invoice = issued_invoice(customer)

    response = deliver(client, session_completed(invoice, **change))

    assert response.status_code == 200
    assert error in GatewayEvent.objects.get().error
    assert not Payment.objects.exists()


def test_a_signed_event_without_an_object_is_stored_and_pays_nothing(client, customer, stripe_on):
    event = {"id": "evt_odd", "type": "checkout.session.completed", "data": "nothing"}

    assert deliver(client, event).status_code == 200
    assert GatewayEvent.objects.get().type == "checkout.session.completed"
    assert not Payment.objects.exists()


def test_an_event_in_another_currency_is_stored_with_its_error_and_pays_nothing(
    client, customer, stripe_on
):
    invoice = issued_invoice(customer)

    deliver(client, session_completed(invoice, currency="jpy"))

    assert "Paid in 'jpy'" in GatewayEvent.objects.get().error
    assert not Payment.objects.exists()


def test_a_session_completed_but_not_yet_paid_is_stored_and_pays_nothing(
    client, customer, stripe_on
):
    invoice = issued_invoice(customer)

    deliver(client, session_completed(invoice, payment_status="unpaid"))

    assert GatewayEvent.objects.get().error == ""
    assert not Payment.objects.exists()


def test_the_webhook_refuses_a_get_and_needs_no_csrf_token(customer, stripe_on):
    strict = Client(enforce_csrf_checks=True)
    invoice = issued_invoice(customer)

    assert strict.get(WEBHOOK_URL).status_code == 405
    assert deliver(strict, session_completed(invoice)).status_code == 200


def test_a_gateway_that_takes_no_notifications_answers_404(client, db):
    response = client.post(
        "/client/payments/bank_transfer/webhook/", data="{}", content_type="application/json"
    )

    assert response.status_code == 404


def test_a_paid_new_service_invoice_confirmed_twice_creates_one_service(
    client, customer, stripe_on
):
    product = ProductFactory(name="VPS S", module="test", module_config={"memory_mb": 512})
    ProductPriceFactory(product=product, cycle=BillingCycle.MONTHLY, price=Decimal("10.00"))
    FakeServerFactory()
    order = orders.place_order(
        customer,
        items=[orders.ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)],
        actor=None,
    )
    invoice = order.invoice

    deliver(client, session_completed(invoice))
    deliver(client, intent_succeeded(invoice))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Service.objects.filter(customer=customer).count() == 1
    assert Payment.objects.count() == 1
