"""Fifty confirmations of one renewal invoice at once, on PostgreSQL: Stripe's webhook
delivered again and again while the same payment is recorded directly, from threads.

SQLite has no row locks, so this runs on PostgreSQL (and fails in CI without it).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from billing import invoices, payments
from billing.choices import InvoiceStatus
from billing.models import GatewayEvent, Payment, balance_of
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import ServiceRenewal
from tests.billing.gateway_helpers import (
    deliver,
    intent_succeeded,
    session_completed,
    turn_on_stripe,
)
from tests.factories import CustomerFactory, FakeServerFactory, ServiceFactory

CONFIRMATIONS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_confirmations_of_a_renewal_invoice_renew_once():
    turn_on_stripe()
    service = ServiceFactory(
        customer=CustomerFactory(),
        module="test",
        server=FakeServerFactory(),
        status=ServiceStatus.ACTIVE,
        billing_cycle=BillingCycle.WEEKLY,
        price=Decimal("10.00"),
    )
    old_expiration = service.expires_at
    invoice = invoices.renewal_invoice(service, actor=None)
    # Three kinds of confirmation of the one payment intent, many times each: the session's
    # event, the intent's event, and a direct call (as a retried task would make).
    events = [session_completed(invoice), intent_succeeded(invoice)]
    errors: list[BaseException] = []
    answers: list[int] = []
    start = threading.Barrier(CONFIRMATIONS)

    def confirm(n: int) -> None:
        try:
            start.wait(timeout=30)
            if n % 3 == 2:
                payments.record_payment(
                    invoice.pk, gateway="stripe", amount=invoice.total, reference="pi_test_0001"
                )
            else:
                answers.append(deliver(Client(), events[n % 3]).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(CONFIRMATIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert answers == [200] * len(answers)
    invoice.refresh_from_db()
    service.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.count() == 1
    assert GatewayEvent.objects.count() == 2
    renewal = ServiceRenewal.objects.get(service=service)
    assert renewal.old_expires_at == old_expiration
    assert service.expires_at == old_expiration + timedelta(days=7)
    assert service.renewal_count == 1
    assert balance_of(service.customer) == Decimal("0.00")
