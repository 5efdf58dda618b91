"""Staff work on invoices: the list's filters, search and query count, the manual invoice,
and each action (issue, mark paid, cancel, refund to a credit note)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import payments
from billing.choices import BalanceEntryKind, InvoiceKind, InvoiceStatus
from billing.models import BalanceEntry, Invoice, InvoiceLine, Payment, balance_of
from tests.factories import CustomerFactory


@pytest.fixture
def agent_client(client, billing_agent, seller):
    client.force_login(billing_agent)
    return client


def listed(response) -> set[int]:
    return {invoice.pk for invoice in response.context["invoices"]}


# The list.


def test_the_list_filters_by_status_customer_and_overdue(
    agent_client, customer, other_customer, make_invoice
):
    draft = make_invoice(customer, issue=False)
    unpaid = make_invoice(customer)
    overdue = make_invoice(other_customer)
    Invoice.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(days=1))
    url = reverse("admin:invoice_list")

    assert listed(agent_client.get(url, {"status": "draft"})) == {draft.pk}
    assert listed(agent_client.get(url, {"customer": customer.pk})) == {draft.pk, unpaid.pk}
    assert listed(agent_client.get(url, {"overdue": "true"})) == {overdue.pk}


def test_the_list_filters_by_issue_dates(agent_client, customer, make_invoice):
    old, new = make_invoice(customer), make_invoice(customer)
    Invoice.objects.filter(pk=old.pk).update(issued_at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    url = reverse("admin:invoice_list")

    recent = agent_client.get(url, {"issued_after": (today - timedelta(days=7)).isoformat()})
    earlier = agent_client.get(url, {"issued_before": (today - timedelta(days=30)).isoformat()})

    assert listed(recent) == {new.pk}
    assert listed(earlier) == {old.pk}


def test_a_backwards_date_range_is_an_error_not_a_list(agent_client, customer, make_invoice):
    make_invoice(customer)

    response = agent_client.get(
        reverse("admin:invoice_list"), {"issued_after": "2026-02-01", "issued_before": "2026-01-01"}
    )

    assert response.status_code == 200
    assert listed(response) == set()
    assert "The date range ends before it starts." in response.text


def test_the_list_filters_by_the_gateway_of_its_payments(agent_client, customer, make_invoice):
    by_transfer, by_balance, unpaid = (make_invoice(customer) for _ in range(3))
    payments.record_payment(
        by_transfer, gateway="bank_transfer", amount=by_transfer.total, reference="T-9"
    )
    payments.record_payment(by_balance, gateway="balance", amount=by_balance.total, reference="")

    response = agent_client.get(reverse("admin:invoice_list"), {"gateway": "bank_transfer"})

    assert listed(response) == {by_transfer.pk}
    assert unpaid.pk not in listed(response)


@pytest.mark.parametrize(
    ("term", "who"),
    [("bob", "bob"), ("CHARLIE@example", "charlie"), ("charlie other", "charlie")],
)
def test_the_search_finds_the_customers_invoices_by_name_or_email(
    agent_client, customer, other_customer, make_invoice, term, who
):
    invoices = {"bob": make_invoice(customer), "charlie": make_invoice(other_customer)}

    response = agent_client.get(reverse("admin:invoice_list"), {"q": term})

    assert listed(response) == {invoices[who].pk}


def test_the_search_finds_an_invoice_by_its_number(agent_client, customer, make_invoice):
    first, second = make_invoice(customer), make_invoice(customer)

    response = agent_client.get(reverse("admin:invoice_list"), {"q": second.number})

    assert listed(response) == {second.pk}
    assert first.number != second.number


def test_the_search_survives_a_nul_byte(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)

    response = agent_client.get(reverse("admin:invoice_list"), {"q": "bob\x00"})

    assert response.status_code == 200
    assert listed(response) == {invoice.pk}


def test_the_list_shows_the_status_badge_colour(agent_client, customer, make_invoice):
    make_invoice(customer)

    response = agent_client.get(reverse("admin:invoice_list"))

    assert 'class="badge text-bg-warning" data-status="unpaid"' in response.text


@pytest.mark.parametrize("rows", [2, 30])
def test_the_list_costs_the_same_queries_for_2_or_30_rows(
    client, billing_agent, django_assert_num_queries, make_invoice, rows
):
    for _ in range(rows):
        make_invoice(CustomerFactory())
    client.force_login(billing_agent)
    # Warm the session (into the cache) and the permission cache.
    client.get(reverse("admin:invoice_list"))

    # 1 the user (the session is read from the cache), 2 the user's permissions (the
    # navigation and the list's permission), 3 its groups' permissions, 4 the company's
    # row (the warning while a detail invoices need is missing), 5 the page of invoices
    # with each customer and their login.
    with django_assert_num_queries(5):
        response = client.get(reverse("admin:invoice_list"), {"status": "unpaid"})

    assert len(response.context["invoices"]) == min(rows, 25)


# A manual invoice.


def test_staff_create_a_manual_draft_for_a_customer(agent_client, billing_agent, customer):
    response = agent_client.post(
        reverse("admin:invoice_create"),
        {
            "customer": customer.pk,
            "notes": "Thank you.",
            "due_days": "10",
            "lines-TOTAL_FORMS": "3",
            "lines-INITIAL_FORMS": "0",
            "lines-0-description": "Migration",
            "lines-0-quantity": "2",
            "lines-0-unit_price": "40.00",
            "lines-1-description": "Setup",
            "lines-1-quantity": "1",
            "lines-1-unit_price": "15.50",
            "lines-2-description": "",
            "lines-2-quantity": "1",
            "lines-2-unit_price": "",
        },
    )

    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:invoice_detail", args=[invoice.pk])
    assert (invoice.customer, invoice.status, invoice.notes) == (
        customer,
        InvoiceStatus.DRAFT,
        "Thank you.",
    )
    assert invoice.created_by == billing_agent
    lines = list(invoice.lines.values_list("description", "quantity", "unit_price"))
    assert lines == [("Migration", 2, Decimal("40.00")), ("Setup", 1, Decimal("15.50"))]


def test_a_manual_invoice_without_lines_is_refused(agent_client, customer):
    response = agent_client.post(
        reverse("admin:invoice_create"),
        {"customer": customer.pk, "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0"},
    )

    assert response.status_code == 400
    assert "Add at least one line." in response.text
    assert not Invoice.objects.exists()


def test_the_customer_search_offers_matching_customers(agent_client, customer, other_customer):
    response = agent_client.get(reverse("admin:invoice_customer_search"), {"q": "charlie"})

    assert f'value="{other_customer.pk}"' in response.text
    assert f'value="{customer.pk}"' not in response.text


# Actions.


def test_issuing_a_draft_numbers_it_and_freezes_it(agent_client, customer, make_invoice):
    draft = make_invoice(customer, issue=False)

    response = agent_client.post(reverse("admin:invoice_issue", args=[draft.pk]))

    draft.refresh_from_db()
    assert response.status_code == 302
    assert draft.status == InvoiceStatus.UNPAID
    assert draft.number.startswith("INV-")
    assert draft.billing_name == "Bob Owner"


def test_marking_paid_records_one_bank_transfer_and_pays_the_invoice(
    agent_client, billing_agent, customer, make_invoice
):
    invoice = make_invoice(customer, Decimal("25.00"))
    url = reverse("admin:invoice_mark_paid", args=[invoice.pk])

    agent_client.post(url, {"reference": "VIR-0042", "amount": "25.00"})
    again = agent_client.post(url, {"reference": "VIR-0042", "amount": "25.00"}, follow=True)

    invoice.refresh_from_db()
    payment = Payment.objects.get()
    assert invoice.status == InvoiceStatus.PAID
    assert (payment.gateway, payment.reference, payment.amount, payment.actor) == (
        "bank_transfer",
        "VIR-0042",
        Decimal("25.00"),
        billing_agent,
    )
    assert "already recorded" in again.text


def test_marking_paid_without_a_reference_is_refused(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)

    response = agent_client.post(
        reverse("admin:invoice_mark_paid", args=[invoice.pk]), {"reference": "", "amount": "10"}
    )

    invoice.refresh_from_db()
    assert response.status_code == 400
    assert invoice.status == InvoiceStatus.UNPAID
    assert not Payment.objects.exists()


def test_cancelling_an_unpaid_invoice_closes_it(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)

    agent_client.post(reverse("admin:invoice_cancel", args=[invoice.pk]), {"reason": "Typo"})

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.CANCELLED
    assert not InvoiceLine.objects.filter(invoice=invoice, is_open=True).exists()


def test_cancelling_a_paid_invoice_is_refused_with_the_reason(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")

    response = agent_client.post(
        reverse("admin:invoice_cancel", args=[invoice.pk]), {"reason": ""}, follow=True
    )

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "only an unpaid invoice can be cancelled" in response.text


def test_refunding_to_the_balance_makes_a_credit_note_and_credits_the_customer(
    agent_client, customer, make_invoice
):
    invoice = make_invoice(customer, Decimal("30.00"))
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")

    response = agent_client.post(
        reverse("admin:invoice_refund", args=[invoice.pk]),
        {"destination": "balance", "reason": "Unhappy"},
    )

    invoice.refresh_from_db()
    note = Invoice.objects.get(kind=InvoiceKind.CREDIT_NOTE)
    assert response.url == reverse("admin:invoice_detail", args=[note.pk])
    assert invoice.status == InvoiceStatus.REFUNDED
    assert note.credit_note_for == invoice
    assert note.number.startswith("CN-")
    assert balance_of(customer) == Decimal("30.00")
    assert BalanceEntry.objects.get().kind == BalanceEntryKind.REFUND


def test_refunding_outside_makes_a_credit_note_and_no_credit(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")

    agent_client.post(
        reverse("admin:invoice_refund", args=[invoice.pk]), {"destination": "outside"}
    )

    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE, credit_note_for=invoice).exists()
    assert not BalanceEntry.objects.exists()


def test_the_support_agent_sees_the_invoice_without_its_action_buttons(
    client, support_user, customer, make_invoice
):
    invoice = make_invoice(customer)
    client.force_login(support_user)

    response = client.get(reverse("admin:invoice_detail", args=[invoice.pk]))

    assert response.status_code == 200
    assert invoice.number in response.text
    assert reverse("admin:invoice_mark_paid", args=[invoice.pk]) not in response.text
    assert reverse("admin:invoice_cancel", args=[invoice.pk]) not in response.text


def test_the_agent_is_offered_the_actions_the_status_allows(agent_client, customer, make_invoice):
    invoice = make_invoice(customer)

    text = agent_client.get(reverse("admin:invoice_detail", args=[invoice.pk])).text

    assert reverse("admin:invoice_mark_paid", args=[invoice.pk]) in text
    assert reverse("admin:invoice_cancel", args=[invoice.pk]) in text
    assert reverse("admin:invoice_refund", args=[invoice.pk]) not in text
    assert reverse("admin:invoice_issue", args=[invoice.pk]) not in text
