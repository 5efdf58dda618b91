"""The customer's invoices in the client area: the list, the details page, the PDF, the
pay buttons offered per gateway, paying, the home panel, and who may see what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import balance, invoices, payments
from billing.choices import InvoiceStatus
from billing.invoices import LineSpec
from billing.models import CompanyProfile, GatewaySettings, Invoice, TaxRate, balance_of
from billing.taxes import REVERSE_CHARGE_NOTE
from tests.factories import CustomerFactory

TEN = Decimal("10.00")
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def company(db) -> CompanyProfile:
    """A French company with bank details, charging 20% VAT in France."""
    profile = CompanyProfile.current()
    profile.name = "Hosting Co"
    profile.country = "FR"
    profile.bank_details = f"IBAN {IBAN}\nBIC AGRIFRPP"
    profile.save()
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    return profile


@pytest.fixture
def bob(client, customer, company):
    """The test client signed in as Bob."""
    client.force_login(customer.user)
    return client


@pytest.fixture
def charlie(client, other_customer, company):
    """The test client signed in as Charlie."""
    client.force_login(other_customer.user)
    return client


def draft(customer, amount: Decimal = TEN, description: str = "Managed backups") -> Invoice:
    return invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description=description, unit_price=amount)]
    )


def issued(customer, amount: Decimal = TEN, **kwargs) -> Invoice:
    return invoices.issue(draft(customer, amount, **kwargs), actor=None, notify=False)


def paid(customer, amount: Decimal = TEN) -> Invoice:
    invoice = issued(customer, amount)
    return payments.record_payment(
        invoice, gateway="bank_transfer", amount=invoice.total, reference=f"T-{invoice.pk}"
    ).invoice


def detail(invoice: Invoice) -> str:
    return reverse("client:invoice_detail", args=[invoice.pk])


def pdf(invoice: Invoice) -> str:
    return reverse("client:invoice_pdf", args=[invoice.pk])


def pay(invoice: Invoice, gateway: str) -> str:
    return reverse("client:invoice_pay", args=[invoice.pk, gateway])


def offered(response) -> list[str]:
    return [gateway.key for gateway in response.context["gateways"]]


# Who may see what -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_client_login(client, customer, company):
    invoice = issued(customer)
    login = reverse("client:login")

    for url in (reverse("client:invoice_list"), detail(invoice), pdf(invoice)):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login}?next="), url
    response = client.post(pay(invoice, "bank_transfer"))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{login}?next=")


def test_staff_are_refused_like_on_every_client_page(client, admin_user, customer, company):
    invoice = issued(customer)
    client.force_login(admin_user)

    for url in (reverse("client:invoice_list"), detail(invoice), pdf(invoice)):
        assert client.get(url).status_code == 403, url
    assert client.get(pay(invoice, "bank_transfer")).status_code == 403


def test_charlie_gets_a_404_for_bobs_invoice_its_pdf_and_its_pay_urls(
    charlie, customer, other_customer
):
    invoice = issued(customer)
    balance.adjust(other_customer, amount=Decimal("50.00"), actor=None, reason="Gift")

    assert charlie.get(detail(invoice)).status_code == 404
    assert charlie.get(pdf(invoice)).status_code == 404
    assert charlie.get(pay(invoice, "bank_transfer")).status_code == 404
    assert charlie.post(pay(invoice, "balance")).status_code == 404
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.UNPAID
    assert balance_of(other_customer) == Decimal("50.00")


def test_a_draft_is_a_404_everywhere_even_for_its_customer(bob, customer):
    invoice = draft(customer)

    assert bob.get(detail(invoice)).status_code == 404
    assert bob.get(pdf(invoice)).status_code == 404
    assert bob.get(pay(invoice, "bank_transfer")).status_code == 404
    assert invoice.pk not in [
        i.pk for i in bob.get(reverse("client:invoice_list")).context["invoices"]
    ]


# The list ----------------------------------------------------------------------------------


def test_the_list_shows_bobs_invoices_and_credit_notes_newest_first_and_nothing_else(
    bob, customer, other_customer
):
    refunded = paid(customer)
    note = invoices.refund(refunded, actor=None, to_balance=True)
    unpaid = issued(customer)
    draft(customer)
    charlies = issued(other_customer)

    response = bob.get(reverse("client:invoice_list"))

    assert [i.pk for i in response.context["invoices"]] == [unpaid.pk, note.pk, refunded.pk]
    assert charlies.number not in response.text
    assert 'data-status="unpaid"' in response.text
    assert 'data-status="refunded"' in response.text
    assert "Credit note" in response.text
    assert 'Account balance: <strong class="text-body">12.00 EUR' in response.text


def test_the_list_marks_an_overdue_invoice(bob, customer):
    invoices.issue(
        invoices.create_draft(
            customer, actor=None, lines=[LineSpec(description="Late", unit_price=TEN)], due_days=-3
        ),
        actor=None,
        notify=False,
    )

    response = bob.get(reverse("client:invoice_list"))

    assert "data-overdue" in response.text


def test_the_list_is_paginated_by_25(bob, customer):
    for _ in range(26):
        issued(customer)

    first = bob.get(reverse("client:invoice_list"))
    second = bob.get(reverse("client:invoice_list"), {"page": 2})

    assert len(first.context["invoices"]) == 25
    assert len(second.context["invoices"]) == 1


@pytest.mark.parametrize("rows", [2, 50])
def test_the_list_query_count_does_not_grow_with_the_invoices(
    bob, customer, django_assert_num_queries, rows
):
    for _ in range(rows):
        issued(customer)

    # 1. the user (the session is read from the cache); 2. the customer; 3. the
    # paginator's count; 4. the page of invoices with what is paid of each; 5. the
    # balance; 6. its latest movements.
    with django_assert_num_queries(6):
        response = bob.get(reverse("client:invoice_list"))

    assert len(response.context["invoices"]) == min(rows, 25)


# The details page ------------------------------------------------------------------------


def test_the_details_show_lines_taxes_totals_and_payments(bob, customer):
    invoice = issued(customer, Decimal("25.00"), description="VPS SSD 2 (monthly)")
    payments.record_payment(
        invoice, gateway="bank_transfer", amount=Decimal("10.00"), reference="WIRE-42"
    )

    response = bob.get(detail(invoice))

    text = response.text
    assert "VPS SSD 2 (monthly)" in text
    assert "20.00 %" in text
    assert 'id="invoice-subtotal">25.00 EUR' in text
    assert 'id="invoice-tax">5.00 EUR' in text
    assert 'id="invoice-total">30.00 EUR' in text
    assert "WIRE-42" in text
    assert "Bank transfer" in text  # the gateway's label, not its key
    assert response.context["amount_due"] == Decimal("20.00")
    assert 'id="amount-due">20.00 EUR' in text
    assert REVERSE_CHARGE_NOTE not in text


def test_a_reverse_charge_invoice_carries_the_mention(client, company):
    german_business = CustomerFactory(country="DE", vat_number="DE136695976", company="GmbH")
    invoice = issued(german_business)
    client.force_login(german_business.user)

    response = client.get(detail(invoice))

    assert REVERSE_CHARGE_NOTE in response.text
    assert "VAT number: DE136695976" in response.text
    assert 'id="invoice-total">10.00 EUR' in response.text


def test_a_refunded_invoice_links_its_credit_note_and_offers_no_payment(bob, customer):
    invoice = paid(customer)
    note = invoices.refund(invoice, actor=None, to_balance=False)

    response = bob.get(detail(invoice))
    note_page = bob.get(detail(note))

    assert detail(note) in response.text
    assert response.context["gateways"] == []
    assert 'id="invoice-pay"' not in response.text
    assert note_page.status_code == 200
    assert detail(invoice) in note_page.text  # "for invoice INV-…"


# Paying ------------------------------------------------------------------------------------


def test_bank_transfer_alone_is_offered_without_credit_and_stripe_never_without_keys(bob, customer):
    GatewaySettings.objects.create(key="stripe", enabled=True, settings={})
    invoice = issued(customer)

    response = bob.get(detail(invoice))

    assert offered(response) == ["bank_transfer"]
    assert f'href="{pay(invoice, "bank_transfer")}"' in response.text
    assert pay(invoice, "stripe") not in response.text
    assert bob.post(pay(invoice, "stripe")).status_code == 404


def test_the_balance_is_offered_once_bob_has_credit_as_a_post_button(bob, customer):
    balance.adjust(customer, amount=Decimal("5.00"), actor=None, reason="Goodwill")
    invoice = issued(customer)

    response = bob.get(detail(invoice))

    assert offered(response) == ["balance", "bank_transfer"]  # by label
    assert f'<form method="post" action="{pay(invoice, "balance")}">' in response.text


def test_a_gateway_turned_off_or_unconfigured_is_neither_offered_nor_reachable(
    bob, customer, company
):
    company.bank_details = ""
    company.save()
    invoice = issued(customer)

    response = bob.get(detail(invoice))

    assert offered(response) == []
    assert 'id="no-gateway"' in response.text
    assert bob.get(pay(invoice, "bank_transfer")).status_code == 404
    assert bob.get(pay(invoice, "no-such-gateway")).status_code == 404


def test_bank_transfer_shows_the_bank_details_and_the_invoice_number(bob, customer):
    invoice = issued(customer)

    response = bob.get(pay(invoice, "bank_transfer"))

    assert response.status_code == 200
    assert IBAN in response.text
    assert f'id="transfer-reference">{invoice.number}' in response.text
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.UNPAID


def test_paying_from_the_balance_takes_a_post_and_pays_the_invoice(bob, customer):
    balance.adjust(customer, amount=Decimal("50.00"), actor=None, reason="Goodwill")
    invoice = issued(customer)

    assert bob.get(pay(invoice, "balance")).status_code == 405
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.UNPAID

    response = bob.post(pay(invoice, "balance"))

    assert response.status_code == 302
    assert response["Location"] == detail(invoice)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert balance_of(customer) == Decimal("38.00")


def test_a_paid_invoice_cannot_be_paid_again(bob, customer):
    balance.adjust(customer, amount=Decimal("50.00"), actor=None, reason="Goodwill")
    invoice = paid(customer)

    assert bob.post(pay(invoice, "balance")).status_code == 404
    assert bob.get(pay(invoice, "bank_transfer")).status_code == 404
    assert balance_of(customer) == Decimal("50.00")


# The PDF -----------------------------------------------------------------------------------


def test_the_pdf_is_shown_inline_under_the_invoice_number(bob, customer):
    invoice = issued(customer)

    response = bob.get(pdf(invoice))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")


# The client home ---------------------------------------------------------------------------


def test_the_client_home_shows_the_balance_and_the_unpaid_and_overdue_invoices(bob, customer):
    balance.adjust(customer, amount=Decimal("7.50"), actor=None, reason="Goodwill")
    issued(customer)
    late = invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description="Late", unit_price=TEN)], due_days=-1
    )
    invoices.issue(late, actor=None, notify=False)
    paid(customer)
    draft(customer)
    issued(CustomerFactory())  # someone else's

    response = bob.get(reverse("client:home"))

    assert 'id="home-balance">7.50 EUR' in response.text
    assert 'id="home-unpaid">2</span>' in response.text
    assert 'id="home-overdue">1 overdue' in response.text
    assert reverse("client:invoice_list") in response.text


def test_the_client_navigation_links_to_the_invoices(bob):
    response = bob.get(reverse("client:invoice_list"))

    assert f'aria-current="page" href="{reverse("client:invoice_list")}">Invoices' in response.text


def test_overdue_means_past_its_due_date(customer, company):
    invoice = issued(customer)

    assert not invoice.is_overdue
    invoice.due_at = timezone.now() - timedelta(minutes=1)
    assert invoice.is_overdue
