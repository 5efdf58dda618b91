"""Twenty new services at once against two servers with five places each, on PostgreSQL:
ten placed, ten refused, no server over its maximum — through ``placement.create_placed``,
the function paying an order uses, and through paying twenty orders at once.

SQLite has no row locks, so this runs on PostgreSQL (and fails in CI without it).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from billing import orders, payments
from billing.choices import InvoiceStatus
from billing.models import Invoice
from delivery.models import ServerGroup
from products.choices import BillingCycle
from products.models import ProductPrice
from services import placement
from services.choices import EventSource
from services.models import Service
from tests.factories import CustomerFactory, FakeServerFactory, ProductFactory

AT_ONCE = 20
PLACES = 5


def at_once(work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    """Run ``work(n)`` in AT_ONCE threads released together; their results and errors."""
    results: list[object] = []
    errors: list[BaseException] = []
    start = threading.Barrier(AT_ONCE)

    def run(n: int) -> None:
        try:
            start.wait(timeout=30)
            results.append(work(n))
        except BaseException as exc:  # noqa: BLE001 - sorted by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


@pytest.fixture
def two_servers(transactional_db):
    group = ServerGroup.objects.create(name="Paris", module="test")
    return [FakeServerFactory(group=group, max_accounts=PLACES) for _ in range(2)]


@pytest.fixture
def vps(two_servers):
    product = ProductFactory(
        name="VPS S",
        module="test",
        module_config={"memory_mb": 512},
        server_group=two_servers[0].group,
    )
    ProductPrice.objects.create(product=product, cycle=BillingCycle.MONTHLY, price=Decimal(5))
    return product


@pytest.mark.postgres
def test_twenty_placements_at_once_fill_two_servers_of_five_and_refuse_the_rest(two_servers, vps):
    customers = [CustomerFactory() for _ in range(AT_ONCE)]

    def create(n: int) -> Service:
        return placement.create_placed(
            product=vps,
            actor=None,
            source=EventSource.AUTOMATION,
            customer=customers[n],
            name=f"VPS {n}",
            billing_cycle=BillingCycle.MONTHLY,
            price=Decimal(5),
            initial_price=Decimal(5),
            module_data={"hostname": f"vps{n}.example.net"},
        )

    placed, refused = at_once(create)

    assert len(placed) == 10
    assert len(refused) == 10
    assert {type(exc) for exc in refused} == {placement.NoRoom}
    assert {str(exc) for exc in refused} == {"No server has room for VPS S right now."}
    per_server = Counter(Service.objects.values_list("server_id", flat=True))
    assert per_server == {two_servers[0].pk: PLACES, two_servers[1].pk: PLACES}


@pytest.mark.postgres
def test_twenty_orders_paid_at_once_place_ten_and_keep_the_money_of_the_others(two_servers, vps):
    invoices = [
        orders.place_order(
            CustomerFactory(),
            items=[
                orders.ItemSpec(
                    product=vps,
                    billing_cycle=BillingCycle.MONTHLY,
                    module_options={"hostname": "vps.example.net"},
                )
            ],
            actor=None,
            notify=False,
        ).invoice
        for _ in range(AT_ONCE)
    ]

    def pay(n: int) -> Invoice:
        invoice = invoices[n]
        return payments.record_payment(
            invoice.pk, gateway="bank_transfer", amount=invoice.total, reference=f"T{n}"
        ).invoice

    paid, errors = at_once(pay)

    assert errors == []
    assert {invoice.status for invoice in paid} == {InvoiceStatus.PAID}
    # Ten placed, five on each server; ten paid and waiting for staff on no server.
    per_server = Counter(Service.objects.values_list("server_id", flat=True))
    assert per_server == {two_servers[0].pk: PLACES, two_servers[1].pk: PLACES, None: 10}
    assert Invoice.objects.filter(notes__contains="no server had room").count() == 10
