"""Orders and the room on servers: an order no server has room for is refused before any
invoice or payment; a paid order places its service on its product's servers; a paid
order whose room went meanwhile keeps the money and leaves the service for staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing import orders, payments
from billing.choices import InvoiceStatus
from billing.invoices import BillingError
from billing.models import Invoice, Order, Payment
from delivery.choices import PlacementStrategy
from delivery.models import ServerGroup
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service
from services.tasks import deliver_service
from tests.billing.shop import french_company, on_sale, order_data
from tests.factories import FakeServerFactory, ServiceFactory

CHECKOUT = "/client/checkout/"


@pytest.fixture
def company(db):
    return french_company()


@pytest.fixture
def bob(client, customer, company):
    client.force_login(customer.user)
    return client


def item(product, quantity: int = 1) -> orders.ItemSpec:
    return orders.ItemSpec(
        product=product,
        billing_cycle=BillingCycle.MONTHLY,
        quantity=quantity,
        module_options={"hostname": "mc.example.net"},
    )


def pay(invoice: Invoice) -> Invoice:
    return payments.record_payment(
        invoice, gateway="bank_transfer", amount=invoice.total, reference=f"T-{invoice.pk}"
    ).invoice


def fill(server, count: int) -> None:
    ServiceFactory.create_batch(count, module="test", server=server, status=ServiceStatus.ACTIVE)


# Refused before anything is paid.


def test_an_order_no_server_has_room_for_is_refused_with_that_reason_and_nothing_kept(
    customer, company
):
    fill(FakeServerFactory(max_accounts=1), 1)
    product = on_sale("Minecraft", module="test")

    with pytest.raises(BillingError, match="No server has room for Minecraft right now."):
        orders.place_order(customer, items=[item(product)], actor=None)

    assert not Order.objects.exists()
    assert not Invoice.objects.exists()


def test_an_order_of_more_services_than_the_room_left_is_refused(customer, company):
    FakeServerFactory(max_accounts=2)
    product = on_sale("Minecraft", module="test")

    with pytest.raises(BillingError, match="No server has room"):
        orders.place_order(customer, items=[item(product, quantity=3)], actor=None)
    order = orders.place_order(customer, items=[item(product, quantity=2)], actor=None)

    assert order.invoice.lines.count() == 2


def test_the_customer_is_told_at_checkout_and_no_order_invoice_or_payment_is_made(bob, company):
    fill(FakeServerFactory(max_accounts=1), 1)
    product = on_sale("Minecraft", module="test")

    response = bob.post(CHECKOUT, order_data(product, **{"options-hostname": "mc.example.net"}))

    assert response.status_code == 302
    page = bob.get(response["Location"])
    assert "No server has room for Minecraft right now. It cannot be ordered." in page.text
    assert not Order.objects.exists()
    assert not Invoice.objects.exists()
    assert not Payment.objects.exists()


def test_the_checkout_asks_again_when_the_room_goes_between_the_page_and_the_order(
    bob, company, monkeypatch
):
    """The page found room; the order, placed a moment later, finds none: a form error."""
    server = FakeServerFactory(max_accounts=1)
    product = on_sale("Minecraft", module="test")
    real_check = orders._check_room

    def taken_meanwhile(items):
        fill(server, 1)
        real_check(items)

    monkeypatch.setattr(orders, "_check_room", taken_meanwhile)

    response = bob.post(CHECKOUT, order_data(product, **{"options-hostname": "mc.example.net"}))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "No server has room for Minecraft right now."
    ]
    assert not Order.objects.exists()


# Paid: placed on the product's servers.


def test_a_paid_order_places_its_services_by_the_group_s_strategy(
    customer, company, django_capture_on_commit_callbacks
):
    group = ServerGroup.objects.create(
        name="Packed", module="test", strategy=PlacementStrategy.FILL_UNTIL_FULL
    )
    first = FakeServerFactory(group=group, max_accounts=2)
    second = FakeServerFactory(group=group, max_accounts=2)
    FakeServerFactory(max_accounts=10)  # not in the group
    product = on_sale("Minecraft", module="test", server_group=group)
    order = orders.place_order(customer, items=[item(product, quantity=3)], actor=None)

    with django_capture_on_commit_callbacks() as queued:
        pay(order.invoice)

    services = list(Service.objects.order_by("pk"))
    assert [s.server for s in services] == [first, first, second]
    delivered = [c.args for c in queued if getattr(c, "func", None) == deliver_service.delay]
    assert delivered == [(s.pk,) for s in services]


# Paid when the room has gone meanwhile.


def test_a_paid_order_whose_room_went_keeps_the_money_and_waits_for_staff(
    customer, company, django_capture_on_commit_callbacks
):
    server = FakeServerFactory(max_accounts=1)
    product = on_sale("Minecraft", module="test")
    order = orders.place_order(customer, items=[item(product)], actor=None)
    fill(server, 1)  # another order took the last place before this one was paid

    with django_capture_on_commit_callbacks() as queued:
        invoice = pay(order.invoice)

    assert invoice.status == InvoiceStatus.PAID
    service = Service.objects.get(customer=customer)
    assert (service.status, service.server) == (ServiceStatus.PENDING, None)
    assert "no server has room for Minecraft right now" in service.notes
    assert "Choose a server, then deliver it." in service.notes
    assert f"no server had room for service #{service.pk}" in invoice.notes
    assert invoice.lines.filter(service=service).exists()
    assert not [c for c in queued if getattr(c, "func", None) == deliver_service.delay]
    assert Service.objects.filter(server=server).count() == 1  # not overfilled


def test_the_invoice_page_links_the_waiting_service(bob, customer, company):
    server = FakeServerFactory(max_accounts=1)
    product = on_sale("Minecraft", module="test")
    order = orders.place_order(customer, items=[item(product)], actor=None)
    fill(server, 1)

    pay(order.invoice)

    html = bob.get(reverse("client:invoice_detail", args=[order.invoice.pk])).text
    assert f'data-new-service="{Service.objects.get(customer=customer).pk}"' in html
