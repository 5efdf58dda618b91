"""The customer's orders in the client area: the list, one order's items, invoice and
services, paying an unpaid order later or cancelling it, and who may see what."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import orders, payments
from billing.choices import InvoiceStatus, OrderStatus
from billing.models import Order
from products.choices import BillingCycle
from services.models import Service
from tests.billing.shop import french_company, on_sale

ORDERS = "/client/orders/"


@pytest.fixture
def company(db):
    return french_company()


@pytest.fixture
def bob(client, customer, company):
    client.force_login(customer.user)
    return client


@pytest.fixture
def charlie(client, other_customer, company):
    client.force_login(other_customer.user)
    return client


def placed(customer, name: str = "Web hosting") -> Order:
    product = on_sale(name)
    return orders.place_order(
        customer,
        items=[orders.ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)],
        actor=None,
        notify=False,
    )


def paid(customer) -> Order:
    order = placed(customer)
    invoice = order.invoice
    assert invoice is not None
    payments.record_payment(
        invoice, gateway="bank_transfer", amount=invoice.total, reference=f"T-{invoice.pk}"
    )
    order.refresh_from_db()
    return order


def detail(order: Order) -> str:
    return reverse("client:order_detail", args=[order.pk])


def cancel(order: Order) -> str:
    return reverse("client:order_cancel", args=[order.pk])


# Who may see what -------------------------------------------------------------------------


def test_the_orders_live_under_client_orders(db):
    assert reverse("client:order_list") == ORDERS
    assert reverse("client:order_detail", args=[7]) == "/client/orders/7/"


def test_anonymous_visitors_are_sent_to_the_client_login(client, customer, company):
    order = placed(customer)
    login = reverse("client:login")

    for method, url in (("get", ORDERS), ("get", detail(order)), ("post", cancel(order))):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login}?next="), url
    assert Order.objects.get().status == OrderStatus.PENDING


def test_staff_are_refused_like_on_every_client_page(client, admin_user, customer, company):
    order = placed(customer)
    client.force_login(admin_user)

    assert client.get(ORDERS).status_code == 403
    assert client.get(detail(order)).status_code == 403
    assert client.post(cancel(order)).status_code == 403
    assert Order.objects.get().status == OrderStatus.PENDING


def test_charlie_gets_a_404_for_bobs_order_and_cannot_cancel_it(charlie, customer):
    order = placed(customer)

    assert charlie.get(detail(order)).status_code == 404
    assert charlie.post(cancel(order)).status_code == 404
    assert list(charlie.get(ORDERS).context["orders"]) == []
    assert Order.objects.get().status == OrderStatus.PENDING


def test_cancelling_is_a_post_only(bob, customer):
    order = placed(customer)

    assert bob.get(cancel(order)).status_code == 405
    assert Order.objects.get().status == OrderStatus.PENDING


# The list and the details ------------------------------------------------------------------


def test_the_list_shows_bobs_orders_newest_first_with_their_total(bob, customer, other_customer):
    first = placed(customer, "Web hosting")
    second = placed(customer, "VPS S")
    placed(other_customer, "Charlie's VPS")

    response = bob.get(ORDERS)

    assert [o.pk for o in response.context["orders"]] == [second.pk, first.pk]
    html = response.content.decode()
    assert "Charlie&#x27;s VPS" not in html
    assert "12.00 EUR" in html  # 10.00 + 20% VAT


@pytest.mark.parametrize("count", [2, 20])
def test_the_list_costs_the_same_queries_for_2_and_20_orders(bob, customer, count):
    for n in range(count):
        placed(customer, f"Product {n}")

    with CaptureQueriesContext(connection) as queries:
        response = bob.get(ORDERS)

    assert len(response.context["orders"]) == count
    # User (the session is read from the cache), customer, the count, the orders with
    # their invoice, their items.
    assert len(queries) == 5, [q["sql"] for q in queries.captured_queries]


def test_an_unpaid_order_shows_its_items_a_pay_link_to_its_invoice_and_a_cancel_button(
    bob, customer
):
    order = placed(customer, "Web hosting")

    html = bob.get(detail(order)).content.decode()

    assert "Web hosting" in html
    invoice_url = reverse("client:invoice_detail", args=[order.invoice.pk])
    assert f'href="{invoice_url}" id="order-pay"' in html
    assert f'action="{cancel(order)}"' in html


def test_a_paid_order_shows_its_services_and_can_no_longer_be_cancelled(bob, customer):
    order = paid(customer)
    service = Service.objects.get()

    html = bob.get(detail(order)).content.decode()

    assert reverse("client:service_detail", args=[service.pk]) in html
    assert 'id="order-pay"' not in html
    assert 'id="order-cancel"' not in html


# Cancelling ----------------------------------------------------------------------------------


def test_bob_cancels_his_unpaid_order_and_its_invoice(bob, customer):
    order = placed(customer)

    response = bob.post(cancel(order))

    assert response.status_code == 302
    assert response["Location"] == detail(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.invoice.status == InvoiceStatus.CANCELLED


def test_a_paid_order_is_not_cancelled_and_bob_is_told_why(bob, customer):
    order = paid(customer)

    response = bob.post(cancel(order))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.invoice.status == InvoiceStatus.PAID
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{order} is paid: refund its invoice instead."
    ]
