"""Staff pages around invoices: orders, payments, a customer's balance, the company's
details, tax rates, and what billing shows on the customer and service pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from billing import payments
from billing.choices import InvoiceStatus, LineKind, OrderStatus
from billing.invoices import LineSpec, create_draft, issue, renewal_invoice
from billing.models import BalanceEntry, CompanyProfile, Invoice, Order, TaxRate, balance_of
from services.choices import ServiceStatus
from tests.factories import ProductFactory, ServiceFactory, StaffFactory


@pytest.fixture
def agent_client(client, billing_agent, seller):
    client.force_login(billing_agent)
    return client


# Orders and payments.


def test_an_order_shows_its_items_invoice_and_services(agent_client, customer, seller):
    service = ServiceFactory(customer=customer, name="Bob's VPS")
    draft = create_draft(
        customer,
        actor=None,
        lines=[LineSpec(description="VPS", unit_price=Decimal("5"), service=service)],
    )
    invoice = issue(draft, actor=None, notify=False)
    order = Order.objects.create(customer=customer, invoice=invoice)
    item = order.items.create(
        product=ProductFactory(name="VPS S"), billing_cycle="monthly", price=Decimal("5")
    )
    invoice.lines.update(order_item=item)

    response = agent_client.get(reverse("admin:order_detail", args=[order.pk]))

    assert response.status_code == 200
    assert "VPS S" in response.text
    assert invoice.number in response.text
    assert [s.pk for s in response.context["services"]] == [service.pk]


def test_cancelling_a_pending_order_cancels_its_invoice(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)
    order = Order.objects.create(customer=customer, invoice=invoice)

    agent_client.post(reverse("admin:order_cancel", args=[order.pk]))

    order.refresh_from_db()
    invoice.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert invoice.status == InvoiceStatus.CANCELLED


def test_the_order_list_filters_by_status(agent_client, customer):
    pending = Order.objects.create(customer=customer)
    Order.objects.create(customer=customer, status=OrderStatus.CANCELLED)

    response = agent_client.get(reverse("admin:order_list"), {"status": "pending"})

    assert [order.pk for order in response.context["orders"]] == [pending.pk]


def test_the_payment_list_filters_by_gateway(agent_client, customer, make_invoice):
    first, second = make_invoice(customer), make_invoice(customer)
    payments.record_payment(first, gateway="bank_transfer", amount=first.total, reference="T-1")
    payments.record_payment(second, gateway="balance", amount=second.total, reference="")

    response = agent_client.get(reverse("admin:payment_list"), {"gateway": "bank_transfer"})

    assert [p.reference for p in response.context["payments"]] == ["T-1"]
    assert "Bank transfer" in response.text


# The balance.


def test_staff_add_and_remove_credit_with_a_reason(agent_client, billing_agent, customer):
    url = reverse("admin:customer_balance", args=[customer.pk])

    agent_client.post(url, {"amount": "20.00", "reason": "Goodwill"})
    agent_client.post(url, {"amount": "-5.00", "reason": "Correction"})

    assert balance_of(customer) == Decimal("15.00")
    entry = BalanceEntry.objects.get(reason="Goodwill")
    assert (entry.actor, entry.amount) == (billing_agent, Decimal("20.00"))


def test_removing_more_credit_than_there_is_is_refused(agent_client, customer):
    response = agent_client.post(
        reverse("admin:customer_balance", args=[customer.pk]),
        {"amount": "-1.00", "reason": "Oops"},
    )

    assert response.status_code == 400
    assert "cannot be removed" in response.text
    assert not BalanceEntry.objects.exists()


def test_the_support_agent_reads_the_ledger_without_the_form(client, support_user, customer):
    client.force_login(support_user)

    response = client.get(reverse("admin:customer_balance", args=[customer.pk]))

    assert response.status_code == 200
    assert 'id="balance-adjust-form"' not in response.text


# Company and taxes.


def test_staff_edit_the_company_details(agent_client):
    data = {
        "name": "Nimbus SARL",
        "address": "2 place du Cloud",
        "country": "FR",
        "vat_number": "FR99",
        "legal_identifier": "SIREN 999",
        "legal_identifier_scheme": "",
        "bank_details": "IBAN FR00",
        "invoice_prefix": "FAC",
        "credit_note_prefix": "AV",
        "payment_terms_days": "30",
        "facturx_profile": "basic",
    }

    response = agent_client.post(reverse("admin:billing_company"), data)

    company = CompanyProfile.current()
    assert response.status_code == 302
    assert (
        company.name,
        company.invoice_prefix,
        company.payment_terms_days,
        company.facturx_profile,
    ) == ("Nimbus SARL", "FAC", 30, "basic")


def test_staff_add_edit_and_delete_a_tax_rate(agent_client):
    agent_client.post(reverse("admin:tax_create"), {"country": "DE", "name": "MwSt", "rate": "19"})
    rate = TaxRate.objects.get()
    agent_client.post(
        reverse("admin:tax_edit", args=[rate.pk]), {"country": "DE", "name": "MwSt", "rate": "7"}
    )
    rate.refresh_from_db()
    assert rate.rate == Decimal("7.00")

    agent_client.post(reverse("admin:tax_delete", args=[rate.pk]))

    assert not TaxRate.objects.exists()


def test_a_rate_above_100_percent_is_refused(agent_client):
    response = agent_client.post(
        reverse("admin:tax_create"), {"country": "FR", "name": "VAT", "rate": "120"}
    )

    assert response.status_code == 200
    assert not TaxRate.objects.exists()


# Panels on the customer and service pages.


def test_the_customer_page_shows_their_invoices_orders_and_balance(
    agent_client, customer, make_invoice
):
    invoice = make_invoice(customer)
    order = Order.objects.create(customer=customer)
    BalanceEntry.objects.create(customer=customer, kind="staff_credit", amount=Decimal("7.50"))

    response = agent_client.get(reverse("admin:customer_detail", args=[customer.pk]))

    assert 'id="customer-invoices"' in response.text
    assert invoice.number in response.text
    assert reverse("admin:order_detail", args=[order.pk]) in response.text
    assert "<span data-balance>7.50</span>" in response.text


def test_staff_without_billing_permissions_see_no_billing_panel(client, customer, make_invoice):
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    make_invoice(customer)
    client.force_login(staff)

    response = client.get(reverse("admin:customer_detail", args=[customer.pk]))

    assert response.status_code == 200
    assert 'id="customer-invoices"' not in response.text
    assert 'id="customer-balance-panel"' not in response.text


def test_the_service_page_shows_its_invoices_and_renews_with_an_invoice(
    agent_client, customer, make_service, make_invoice
):
    service = make_service(ServiceStatus.ACTIVE)
    other = make_invoice(customer)
    page = agent_client.get(reverse("admin:service_detail", args=[service.pk]))
    assert 'id="service-invoices"' in page.text
    assert other.number not in page.text

    response = agent_client.post(
        reverse("admin:service_renewal_invoice", args=[service.pk]), {"cycles": "2"}
    )

    invoice = Invoice.objects.get(lines__service=service)
    line = invoice.lines.get()
    assert response.url == reverse("admin:invoice_detail", args=[invoice.pk])
    assert invoice.status == InvoiceStatus.UNPAID
    assert (line.kind, line.cycles) == (LineKind.RENEWAL, 2)
    page = agent_client.get(reverse("admin:service_detail", args=[service.pk]))
    assert invoice.number in page.text


def test_a_second_open_renewal_invoice_is_refused_with_a_message(agent_client, make_service):
    service = make_service(ServiceStatus.ACTIVE)
    url = reverse("admin:service_renewal_invoice", args=[service.pk])
    agent_client.post(url, {"cycles": "1"})

    response = agent_client.post(url, {"cycles": "1"}, follow=True)

    assert Invoice.objects.filter(lines__service=service).count() == 1
    assert response.redirect_chain[-1][0] == reverse("admin:service_detail", args=[service.pk])
    assert 'class="alert' in response.text


def test_a_renewal_on_the_service_page_links_to_the_invoice_that_paid_it(
    agent_client, make_service, seller
):
    service = make_service(ServiceStatus.ACTIVE)
    invoice = renewal_invoice(service, actor=None)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="R")

    page = agent_client.get(reverse("admin:service_detail", args=[service.pk])).text

    assert f'<a href="#invoice-{invoice.number}">{invoice.number}</a>' in page
    assert f'id="invoice-{invoice.number}"' in page
    assert reverse("admin:invoice_detail", args=[invoice.pk]) in page
