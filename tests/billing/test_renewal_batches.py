"""Renewal invoices in batches (billing/renewal_batches.py): the invoices a batch makes are
the ones the one-by-one path makes, field by field, with the same e-mails; the queries are
per batch, not per service; each service period is invoiced once, however many workers
run; numbers have no gap and follow the services' order; a service the batch cannot
handle (a balance that pays, a failure) goes one by one, and one that fails undoes no
other."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing import balance, invoices, notifications, payments, renewal_batches, tasks, timeline
from billing.choices import InvoiceStatus, LineKind
from billing.models import (
    BalanceEntry,
    CompanyProfile,
    Invoice,
    InvoiceLine,
    Payment,
    TaxRate,
    balance_of,
)
from products.choices import BillingCycle
from products.cycles import add_cycles
from services.choices import ServiceStatus
from services.models import Service
from tests.at_once import run_at_once
from tests.billing.renewals import fail_renewal_line_of, monthly_services_expiring
from tests.factories import CustomerFactory, ProductFactory, ServiceFactory

PRICE = Decimal("9.99")
GERMAN_VAT = "DE136695976"  # format and check digit right (VIES off)


@pytest.fixture
def queued(monkeypatch) -> list[list[int]]:
    """The "invoice issued" e-mails queued, one list per push to the queue."""
    pushes: list[list[int]] = []
    monkeypatch.setattr(tasks.send_invoice_issued_emails, "delay", pushes.append)
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", lambda pk: pushes.append([pk]))
    monkeypatch.setattr(tasks.send_payment_received_email, "delay", lambda pk: None)
    return pushes


def due(customer, *, days: float = 2, cycle: str = BillingCycle.MONTHLY, **fields) -> Service:
    """An active service of ``customer`` expiring in ``days``: due (7 days' lead time for
    a month, 3 for a week, 30 for a year)."""
    fields.setdefault("price", PRICE)
    service: Service = ServiceFactory.create(
        customer=customer,
        status=ServiceStatus.ACTIVE,
        billing_cycle=cycle,
        expires_at=timezone.now() + timedelta(days=days),
        **fields,
    )
    return service


def run_batches() -> Any:
    return timeline.make_renewal_invoices(timezone.now())


def run_one_by_one() -> Any:
    return timeline._invoice_renewals_one_by_one(timeline.due_renewals(timezone.now()))


# What a batch makes is what one by one makes ----------------------------------------------

#: What differs between two runs however they are made: keys and the clock.
UNCOMPARED = {"id", "invoice", "created_at", "updated_at", "issued_at"}


def _fields(row: Any) -> dict[str, Any]:
    return {
        f.attname: getattr(row, f.attname)
        for f in type(row)._meta.concrete_fields
        if f.name not in UNCOMPARED
    }


def made(run, queued: list[list[int]], capture) -> dict[str, Any]:
    """Run ``run`` in a transaction rolled back afterwards (the number series with it):
    every invoice and line it made, field by field, by service, and the e-mails they
    send."""
    mail.outbox.clear()
    queued.clear()
    with transaction.atomic():
        with capture(execute=True):
            result = run()
        lines = {line.service_id: line for line in InvoiceLine.objects.all()}
        seen = {
            "result": result.counts(),
            "invoices": {s: _fields(line.invoice) for s, line in lines.items()},
            "lines": {s: _fields(line) for s, line in lines.items()},
            "issued": all(line.invoice.issued_at is not None for line in lines.values()),
            "queued": sorted(str(Invoice.objects.get(pk=pk)) for push in queued for pk in push),
        }
        for push in queued:
            tasks.send_invoice_issued_emails(push)
        seen["emails"] = sorted(
            (m.to[0], m.subject, m.body, [name for name, *_ in m.attachments]) for m in mail.outbox
        )
        transaction.set_rollback(True)
    return seen


@pytest.mark.parametrize("prices_include_tax", [False, True], ids=["net prices", "tax included"])
def test_a_batch_makes_the_invoices_one_by_one_makes(
    db, queued, django_capture_on_commit_callbacks, prices_include_tax
):
    CompanyProfile.objects.update(prices_include_tax=prices_include_tax)
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    french = CustomerFactory(
        company="Owner SARL", address_line1="2 place Bellecour", postcode="69002", city="Lyon"
    )
    in_french = CustomerFactory(language="fr", address_line1="1 rue X", city="Nantes")
    german = CustomerFactory(
        company="Kunde GmbH", city="Berlin", country="DE", vat_number=GERMAN_VAT
    )
    american = CustomerFactory(city="Austin", state="TX", country="US")
    with_some_credit = CustomerFactory()
    balance.adjust(with_some_credit, amount=Decimal("5.00"), actor=None, reason="Credit")
    due(french)
    due(
        french, cycle=BillingCycle.ANNUALLY, days=20, price=Decimal("119.90"), billing_anchor_day=31
    )
    due(in_french, cycle=BillingCycle.WEEKLY, days=1, price=Decimal("2.50"))
    due(german, price=Decimal("33.33"))
    due(american, currency="USD")
    due(with_some_credit)
    ServiceFactory(customer=french, status=ServiceStatus.ACTIVE)  # not due: 30 days away

    in_batches = made(run_batches, queued, django_capture_on_commit_callbacks)
    one_by_one = made(run_one_by_one, queued, django_capture_on_commit_callbacks)

    assert in_batches["result"] == one_by_one["result"] == {"done": 6, "skipped": 0, "failed": 0}
    assert len(in_batches["invoices"]) == 6
    assert in_batches["invoices"] == one_by_one["invoices"]
    assert in_batches["lines"] == one_by_one["lines"]
    assert in_batches["issued"]
    assert one_by_one["issued"]
    assert in_batches["queued"] == one_by_one["queued"]
    assert len(in_batches["emails"]) == 6
    assert in_batches["emails"] == one_by_one["emails"]
    # What was compared: the taxes of each kind of customer, the language, the numbers.
    invoices_made = in_batches["invoices"].values()
    assert {i["reverse_charge"] for i in invoices_made} == {False, True}
    year = timezone.localdate().year
    assert {i["number"] for i in invoices_made} == {f"INV-{year}-{n:06d}" for n in range(1, 7)}
    descriptions = {line["description"] for line in in_batches["lines"].values()}
    assert any(d.startswith("Renouvellement") for d in descriptions), descriptions


def test_numbers_follow_the_services_order_without_a_gap(customer, queued):
    services = [due(customer, days=1 + n / 10) for n in range(5)]
    before = invoices.renewal_invoice(  # an invoice issued earlier: the series goes on
        ServiceFactory(customer=customer, status=ServiceStatus.ACTIVE), actor=None
    )

    run_batches()

    made_in_order = [
        InvoiceLine.objects.get(service=s, kind=LineKind.RENEWAL).invoice for s in services
    ]
    assert [i.sequence for i in made_in_order] == [before.sequence + n for n in range(1, 6)]
    assert [i.issued_at for i in made_in_order] == sorted(i.issued_at for i in made_in_order)
    assert all(i.issued_at >= before.issued_at for i in made_in_order)


# Queries per batch ----------------------------------------------------------------------


def count_queries(django_assert_max_num_queries, run) -> int:
    with django_assert_max_num_queries(100) as context:
        run()
    return len(context.captured_queries)


def test_a_batch_asks_the_same_queries_for_5_services_as_for_40(
    db, queued, django_assert_max_num_queries
):
    customers = CustomerFactory.create_batch(8)
    invoices.renewal_invoice(due(customers[0], days=60), actor=None)  # the year's series
    run_batches()  # the settings read once, and cached
    counts = []
    for size in (5, 40):
        for n in range(size):
            due(customers[n % len(customers)])
        counts.append(count_queries(django_assert_max_num_queries, run_batches))

    assert Invoice.objects.filter(status=InvoiceStatus.UNPAID).count() == 46
    assert counts[0] == counts[1]
    # The due keys; the batch's transaction (savepoint and release here); its lock of the
    # due services; their renewal lines; their customers' credit; the company; the tax
    # rates; the series (read, locked, moved by the block); on PostgreSQL the invoices'
    # keys from their sequence; one INSERT (PostgreSQL: COPY) of the invoices, one of
    # their lines.
    assert counts[0] == (14 if connection.vendor == "postgresql" else 13)


def test_the_emails_are_queued_a_hundred_per_task_after_the_commit(
    customer, queued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(notifications, "ENQUEUED_TOGETHER", 2)
    for _ in range(5):
        due(customer)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_batches()
    assert queued == []  # not before the commit
    for callback in callbacks:
        callback()

    made_ids = sorted(Invoice.objects.values_list("pk", flat=True))
    assert [len(push) for push in queued] == [2, 2, 1]
    assert sorted(pk for push in queued for pk in push) == made_ids


def test_the_emails_task_sends_each_invoice_once(customer, mailoutbox):
    invoice = invoices.renewal_invoice(due(customer), actor=None)
    other = invoices.renewal_invoice(due(customer), actor=None)

    assert tasks.send_invoice_issued_emails([invoice.pk, other.pk]) == 2
    assert tasks.send_invoice_issued_emails([invoice.pk, other.pk]) == 0  # run twice

    assert len(mailoutbox) == 2
    assert {m.attachments[0][0] for m in mailoutbox} == {
        f"{invoice.number}.pdf",
        f"{other.number}.pdf",
    }


# Balances, refusals and failures go one by one -------------------------------------------


def test_a_customer_whose_credit_covers_the_invoice_is_paid_as_before(customer, queued):
    rich = CustomerFactory()
    balance.adjust(rich, amount=Decimal("25.00"), actor=None, reason="Credit")
    paid = [due(rich, days=1), due(rich, days=1.5)]
    old_expirations = [s.expires_at for s in paid]
    unpaid = [due(customer, days=1.2), due(customer, days=1.7)]

    result = run_batches()

    assert result.counts() == {"done": 4, "skipped": 0, "failed": 0}
    for service, expired in zip(paid, old_expirations, strict=True):
        invoice = InvoiceLine.objects.get(service=service).invoice
        assert invoice.status == InvoiceStatus.PAID
        assert Payment.objects.filter(invoice=invoice, gateway="balance").count() == 1
        service.refresh_from_db()
        assert service.expires_at == add_cycles(expired, BillingCycle.MONTHLY)  # renewed
    assert balance_of(rich) == Decimal("25.00") - 2 * PRICE
    assert BalanceEntry.objects.filter(customer=rich, amount=-PRICE).count() == 2
    assert {InvoiceLine.objects.get(service=s).invoice.status for s in unpaid} == {
        InvoiceStatus.UNPAID
    }
    # Numbered together: the batch's first, then those paid one by one; no gap.
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2, 3, 4]
    assert timeline.make_renewal_invoices(timezone.now()).counts() == {
        "done": 0,
        "skipped": 0,
        "failed": 0,
    }


def test_a_service_the_batch_cannot_invoice_fails_alone(customer, queued, monkeypatch):
    services = [due(customer, days=1 + n / 10) for n in range(4)]
    broken = services[2]
    fail_renewal_line_of(monkeypatch, broken)

    result = run_batches()

    assert result.done == 3
    assert result.failed == [(broken.pk, "RuntimeError: the tax service is down")]
    assert not InvoiceLine.objects.filter(service=broken).exists()
    assert InvoiceLine.objects.filter(service__in=services).count() == 3
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2, 3]


def test_a_failure_after_the_invoice_was_made_one_by_one_undoes_only_that_one(
    customer, queued, monkeypatch
):
    rich = CustomerFactory()
    balance.adjust(rich, amount=Decimal("25.00"), actor=None, reason="Credit")
    broken = due(rich, days=1)
    fine = [due(customer, days=1.5), due(customer, days=2)]

    def pay_from_balance(invoice, **kwargs):
        raise RuntimeError("the ledger is away")

    monkeypatch.setattr(payments, "pay_from_balance", pay_from_balance)

    result = run_batches()

    assert (result.done, result.failed) == (2, [(broken.pk, "RuntimeError: the ledger is away")])
    assert not InvoiceLine.objects.filter(service=broken).exists()  # its invoice rolled back
    assert InvoiceLine.objects.filter(service__in=fine).count() == 2
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2]
    assert balance_of(rich) == Decimal("25.00")


def test_a_refusal_of_the_e_invoice_is_that_service_s_failure(customer, queued):
    fine = due(customer)
    nameless = CustomerFactory(first_name="", last_name="", company="")
    refused = due(nameless)

    result = run_batches()

    assert result.done == 1
    [(pk, message)] = result.failed
    assert pk == refused.pk
    assert "cannot be issued" in message
    assert InvoiceLine.objects.filter(service=fine).exists()
    assert not Invoice.objects.filter(customer=nameless).exists()


def test_a_batch_whose_writes_fail_is_run_again_one_by_one(
    customer, queued, monkeypatch, django_capture_on_commit_callbacks
):
    services = [due(customer, days=1 + n / 10) for n in range(3)]
    issue = renewal_batches._issue
    failures: list[int] = []

    def fail_once(made, company):
        if not failures:
            failures.append(len(made))
            issue(made, company)  # written, then refused: all of it is rolled back
            raise DatabaseError("deadlock detected")
        issue(made, company)

    monkeypatch.setattr(renewal_batches, "_issue", fail_once)

    with django_capture_on_commit_callbacks(execute=True):
        result = run_batches()

    assert failures == [3]
    assert result.counts() == {"done": 3, "skipped": 0, "failed": 0}
    assert InvoiceLine.objects.filter(service__in=services).count() == 3
    # The failed batch's numbers were given back: one by one took them again.
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2, 3]
    assert sum(len(push) for push in queued) == 3  # the e-mails of the failed batch dropped


def test_the_database_refuses_a_second_invoice_of_a_period_the_batch_did_not_see(
    customer, queued, monkeypatch
):
    """The constraint has the last word: a line the batch missed (its read patched away)
    makes the batch's INSERT fail, and the services go one by one, which skip that one."""
    invoiced = due(customer, days=1)
    by_hand = invoices.renewal_invoice(invoiced, actor=None)
    others = [due(customer, days=1.5), due(customer, days=2)]
    everything = Service.objects.filter(pk__in=[invoiced.pk, *(s.pk for s in others)])
    monkeypatch.setattr(timeline, "due_renewals", lambda now: everything)
    read = renewal_batches._Batch.read

    def blind(services):
        batch = read(services)
        batch.periods.clear()
        batch.open_renewal.clear()
        return batch

    monkeypatch.setattr(renewal_batches._Batch, "read", staticmethod(blind))

    result = run_batches()

    assert result.counts() == {"done": 2, "skipped": 1, "failed": 0}
    assert [line.invoice_id for line in InvoiceLine.objects.filter(service=invoiced)] == [
        by_hand.pk
    ]
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2, 3]


# Two workers at once, on PostgreSQL ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_invoice_each_period_once_without_a_gap(monkeypatch):
    monkeypatch.setattr(tasks.send_invoice_issued_emails, "delay", lambda pks: None)
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.send_payment_received_email, "delay", lambda pk: None)
    monkeypatch.setattr(renewal_batches, "BATCH_SIZE", 7)  # many batches, interleaved
    customers = CustomerFactory.create_batch(6)
    rich = customers[0]  # paid from the balance, one by one, beside the batches
    balance.adjust(rich, amount=Decimal("100.00"), actor=None, reason="Credit")
    product = ProductFactory()
    soon = timezone.now() + timedelta(days=2)
    count = 60
    monthly_services_expiring(customers, product, count, from_=soon, price=PRICE)
    results = run_at_once(run_batches, timeout=120)

    assert all(not isinstance(r, BaseException) for r in results), results
    assert sum(r.done for r in results) == count
    assert all(not r.failed for r in results)
    lines = InvoiceLine.objects.filter(kind=LineKind.RENEWAL)
    assert lines.count() == lines.values("service").distinct().count() == count
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, count + 1))
    # Ten services of the rich customer, each paid once from the balance.
    assert Payment.objects.filter(gateway="balance").count() == count // len(customers)
    assert balance_of(rich) == Decimal("100.00") - 10 * PRICE
    assert run_batches().counts() == {"done": 0, "skipped": 0, "failed": 0}
