"""Checkout: choosing a cycle and the module's options, the total with taxes before
ordering, the terms, placing the order (one order, one issued invoice), paying it into a
service, and what the new service's page says while it is delivered."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import payments
from billing.choices import InvoiceStatus, OrderStatus
from billing.models import Invoice, Order
from billing.taxes import REVERSE_CHARGE_NOTE
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service
from tests.billing.shop import french_company, game_server, on_sale, order_data
from tests.factories import CustomerFactory

CHECKOUT = "/client/checkout/"
HOSTILE = ["\x00", "a\x00b", "-1", "9" * 40, "x" * 10_000, "<script>alert(1)</script>", "²"]


@pytest.fixture
def company(db):
    return french_company()


@pytest.fixture
def bob(client, customer, company):
    client.force_login(customer.user)
    return client


@pytest.fixture
def product(company):
    """A game server: 10.00 a month plus 5.00 of setup, or 100.00 a year."""
    return game_server(
        "Minecraft 4 GB",
        prices={BillingCycle.MONTHLY: ("10.00", "5.00"), BillingCycle.ANNUALLY: ("100.00", "0")},
    )


def pay(invoice: Invoice) -> Invoice:
    return payments.record_payment(
        invoice, gateway="bank_transfer", amount=invoice.total, reference=f"T-{invoice.pk}"
    ).invoice


# The form's stable hooks ------------------------------------------------------------------


def test_the_product_page_has_the_order_form_the_end_to_end_test_uses(bob, product):
    html = bob.get(reverse("client:catalogue_product", args=[product.slug])).content.decode()

    assert f'action="{CHECKOUT}"' in html
    assert '<select name="billing_cycle"' in html
    assert 'id="id_billing_cycle"' in html
    assert 'type="checkbox" name="accept_terms"' in html
    assert 'id="id_accept_terms"' in html
    assert ">Order</button>" in html


def test_the_checkout_page_shows_the_chosen_cycles_net_tax_and_total(bob, product):
    response = bob.get(CHECKOUT, {"product": product.slug, "billing_cycle": "monthly"})

    assert response.status_code == 200
    chosen = response.context["chosen"]
    assert (chosen.net, chosen.tax, chosen.total) == (
        Decimal("15.00"),
        Decimal("3.00"),
        Decimal("18.00"),
    )
    html = response.content.decode()
    assert "15.00 EUR" in html
    assert "3.00 EUR" in html
    assert "18.00 EUR" in html
    assert 'id="reverse-charge"' not in html


def test_the_checkout_without_a_product_goes_back_to_the_catalogue(bob):
    response = bob.get(CHECKOUT)

    assert response.status_code == 302
    assert response["Location"] == reverse("client:catalogue")


# Placing the order ------------------------------------------------------------------------


def test_ordering_makes_one_order_and_one_issued_invoice_and_opens_the_invoice(
    bob, customer, product
):
    response = bob.post(CHECKOUT, order_data(product, **{"options-hostname": "mc.example.net"}))

    order = Order.objects.get()
    invoice = order.invoice
    assert response.status_code == 302
    assert response["Location"] == reverse("client:invoice_detail", args=[invoice.pk])
    assert order.customer == customer
    assert order.status == OrderStatus.PENDING
    (item,) = order.items.all()
    assert (item.product, item.billing_cycle) == (product, BillingCycle.MONTHLY)
    assert item.module_options == {"hostname": "mc.example.net"}
    assert Invoice.objects.count() == 1
    assert invoice.status == InvoiceStatus.UNPAID
    assert invoice.number


def test_the_invoice_says_what_the_checkout_showed_for_a_french_customer(bob, product):
    shown = bob.get(CHECKOUT, {"product": product.slug}).context["chosen"]

    bob.post(CHECKOUT, order_data(product))

    invoice = Order.objects.get().invoice
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("15.00"),
        Decimal("3.00"),
        Decimal("18.00"),
    )
    assert (shown.net, shown.tax, shown.total) == (
        invoice.subtotal,
        invoice.tax_total,
        invoice.total,
    )


def test_a_german_business_sees_the_reverse_charge_and_is_invoiced_without_vat(
    client, company, product
):
    german = CustomerFactory(country="DE", company="Spiele GmbH", vat_number="DE136695976")
    client.force_login(german.user)

    response = client.get(CHECKOUT, {"product": product.slug, "billing_cycle": "monthly"})

    chosen = response.context["chosen"]
    assert (chosen.net, chosen.tax, chosen.total) == (Decimal("15.00"), 0, Decimal("15.00"))
    assert REVERSE_CHARGE_NOTE in response.content.decode()
    client.post(CHECKOUT, order_data(product))
    invoice = Order.objects.get().invoice
    assert invoice.reverse_charge is True
    assert invoice.total == Decimal("15.00")


def test_the_product_page_mentions_the_reverse_charge_to_a_german_business(
    client, company, product
):
    german = CustomerFactory(country="DE", vat_number="DE136695976")
    client.force_login(german.user)

    html = client.get(reverse("client:catalogue_product", args=[product.slug])).content.decode()

    assert 'id="reverse-charge"' in html
    assert REVERSE_CHARGE_NOTE in html


# Refusals ------------------------------------------------------------------------------------


def test_it_refuses_an_order_whose_terms_are_not_accepted(bob, product):
    data = order_data(product)
    del data["accept_terms"]

    response = bob.post(CHECKOUT, data)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "accept_terms": ["Please accept the terms of service to order."]
    }
    assert not Order.objects.exists()


@pytest.mark.parametrize("cycle", ["quarterly", "forever", ""])
def test_it_refuses_a_cycle_the_product_is_not_sold_for(bob, product, cycle):
    response = bob.post(CHECKOUT, order_data(product, billing_cycle=cycle))

    assert response.status_code == 200
    assert "billing_cycle" in response.context["form"].errors
    assert not Order.objects.exists()


def test_it_refuses_module_options_the_module_rejects(bob, product):
    response = bob.post(CHECKOUT, order_data(product, **{"options-hostname": "Not A Host!"}))

    assert response.status_code == 200
    assert response.context["form"].options.errors == {
        "hostname": ["Letters, digits, dots and dashes only."]
    }
    assert b"Letters, digits, dots and dashes only." in response.content
    assert not Order.objects.exists()


def test_an_inactive_product_cannot_be_checked_out(bob, product):
    product.is_active = False
    product.save()

    assert bob.post(CHECKOUT, order_data(product)).status_code == 404
    assert bob.get(CHECKOUT, {"product": product.slug}).status_code == 404
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_product_is_a_404_without_an_order(bob, product, value):
    assert bob.post(CHECKOUT, order_data(product, product=value)).status_code == 404
    assert bob.get(CHECKOUT, {"product": value}).status_code == 404
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_cycle_is_a_form_error_without_an_order(bob, product, value):
    response = bob.post(CHECKOUT, order_data(product, billing_cycle=value))

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["billing_cycle"]
    assert bob.get(CHECKOUT, {"product": product.slug, "billing_cycle": value}).status_code == 200
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "<script>alert(1)</script>", "²", "A B"])
def test_a_hostile_module_option_is_a_form_error_without_an_order(bob, product, value):
    response = bob.post(CHECKOUT, order_data(product, **{"options-hostname": value}))

    assert response.status_code == 200
    assert list(response.context["form"].options.errors) == ["hostname"]
    assert not Order.objects.exists()


# Paying, and the new service ------------------------------------------------------------------


def test_paying_the_order_creates_the_service_linked_from_the_invoice(bob, customer, product):
    bob.post(CHECKOUT, order_data(product))
    order = Order.objects.get()

    pay(order.invoice)

    service = Service.objects.get()
    assert service.customer == customer
    assert service.product == product
    assert service.status == ServiceStatus.PENDING
    assert service.server is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    html = bob.get(reverse("client:invoice_detail", args=[order.invoice.pk])).content.decode()
    assert f'data-new-service="{service.pk}"' in html
    assert reverse("client:service_detail", args=[service.pk]) in html


def test_a_new_service_of_an_automatic_module_says_it_is_being_delivered(bob, product):
    bob.post(CHECKOUT, order_data(product))
    pay(Order.objects.get().invoice)

    html = bob.get(reverse("client:service_detail", args=[Service.objects.get().pk])).content

    assert b"Being delivered" in html
    assert b"Awaiting setup" not in html


def test_a_new_service_delivered_by_hand_says_it_is_awaiting_setup(bob, company):
    manual = on_sale("Consulting hour")
    bob.post(CHECKOUT, order_data(manual))
    pay(Order.objects.get().invoice)

    html = bob.get(reverse("client:service_detail", args=[Service.objects.get().pk])).content

    assert b"Awaiting setup" in html
    assert b"Being delivered" not in html


def test_an_active_service_says_neither(bob, make_service):
    html = bob.get(reverse("client:service_detail", args=[make_service().pk])).content

    assert b"Being delivered" not in html
    assert b"Awaiting setup" not in html
