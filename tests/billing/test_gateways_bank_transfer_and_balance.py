"""Paying by bank transfer (instructions; staff confirm) and from the account balance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from billing import balance, payments
from billing.choices import InvoiceStatus
from billing.models import BalanceEntry, CompanyProfile, Payment, balance_of
from tests.billing.gateway_helpers import issued_invoice

IBAN = "IBAN FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def bank_details(db):
    profile = CompanyProfile.current()
    profile.name = "Hostico SAS"
    profile.bank_details = f"{IBAN}\nBIC AGRIFRPP"
    profile.save()
    return profile


def pay_url(invoice, key: str) -> str:
    return f"/client/invoices/{invoice.pk}/pay/{key}/"


# Bank transfer ---------------------------------------------------------------------------


def test_the_bank_transfer_page_shows_the_bank_details_and_the_invoice_number_as_reference(
    client, customer, bank_details
):
    invoice = issued_invoice(customer, Decimal("42.50"))
    client.force_login(customer.user)

    response = client.get(pay_url(invoice, "bank_transfer"))

    assert response.status_code == 200
    html = response.text
    assert f'<code class="fs-6" id="transfer-reference">{invoice.number}</code>' in html
    assert IBAN in html
    assert "Hostico SAS" in html
    assert f"42.50 {invoice.currency}" in html
    assert not Payment.objects.exists()


def test_another_customer_never_reaches_the_bank_transfer_page_of_an_invoice(
    client, customer, other_customer, bank_details
):
    invoice = issued_invoice(customer)
    client.force_login(other_customer.user)

    assert client.get(pay_url(invoice, "bank_transfer")).status_code == 404


def test_bank_transfer_is_not_offered_without_the_companys_bank_details(client, customer):
    invoice = issued_invoice(customer)
    client.force_login(customer.user)

    assert client.get(pay_url(invoice, "bank_transfer")).status_code == 404


def test_staff_confirm_a_transfer_by_its_reference_once(customer, bank_details):
    invoice = issued_invoice(customer)

    for _ in range(2):
        payments.record_payment(
            invoice, gateway="bank_transfer", amount=invoice.total, reference="VIR-2026-0042"
        )

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(gateway="bank_transfer").count() == 1


# Balance ---------------------------------------------------------------------------------


def test_the_balance_pays_an_invoice_in_full_and_says_so(client, customer):
    invoice = issued_invoice(customer, Decimal("10.00"))
    balance.adjust(customer, amount=Decimal("25.00"), actor=None, reason="Goodwill")
    client.force_login(customer.user)

    response = client.post(pay_url(invoice, "balance"), follow=True)

    invoice.refresh_from_db()
    assert response.redirect_chain[0] == (f"/client/invoices/{invoice.pk}/", 302)
    assert invoice.status == InvoiceStatus.PAID
    assert balance_of(customer) == Decimal("15.00")
    assert f"Paid {invoice.number} from your balance." in response.text
    assert Payment.objects.get(invoice=invoice).actor == customer.user


def test_the_balance_pays_what_it_can_and_the_rest_stays_due(client, customer):
    invoice = issued_invoice(customer, Decimal("10.00"))
    balance.adjust(customer, amount=Decimal("4.00"), actor=None, reason="Goodwill")
    client.force_login(customer.user)

    response = client.post(pay_url(invoice, "balance"), follow=True)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNPAID
    assert invoice.amount_paid() == Decimal("4.00")
    assert balance_of(customer) == Decimal("0.00")
    assert f"6.00 {invoice.currency} remain to pay" in response.text
    # With no credit left the balance is not offered any more.
    assert client.post(pay_url(invoice, "balance")).status_code == 404


def test_paying_from_the_balance_needs_a_post(client, customer):
    invoice = issued_invoice(customer)
    balance.adjust(customer, amount=Decimal("25.00"), actor=None, reason="Goodwill")
    client.force_login(customer.user)

    response = client.get(pay_url(invoice, "balance"))

    assert response.status_code == 405
    assert not BalanceEntry.objects.filter(kind="payment").exists()


def test_paying_from_the_balance_checks_the_csrf_token(customer):
    invoice = issued_invoice(customer)
    balance.adjust(customer, amount=Decimal("25.00"), actor=None, reason="Goodwill")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer.user)

    response = strict.post(pay_url(invoice, "balance"))

    assert response.status_code == 403
    assert not Payment.objects.exists()
