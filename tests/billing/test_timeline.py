"""Billing's timeline (billing/timeline.py): renewal invoices before the expiration, paid
from the balance when it covers them; payment reminders at their offsets, each once;
unpaid new orders cancelled. Each step makes what it should, a second run makes nothing,
and one failing row neither stops nor undoes the others."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from automation import registry
from billing import balance, invoices, orders, payments, tasks, timeline
from billing.choices import InvoiceStatus, LineKind, OrderStatus
from billing.models import BalanceEntry, Invoice, InvoiceLine, Order, Payment, balance_of
from customers.models import EmailLog, EmailStatus
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service, ServiceRenewal
from tests.billing.renewals import fail_renewal_line_of, monthly_services_expiring
from tests.billing.shop import on_sale
from tests.factories import CustomerFactory, ProductFactory, ServiceFactory

PRICE = Decimal("9.99")
T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The invoices whose "invoice issued" e-mail was queued, instead of a broker."""
    handed: list[int] = []
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", handed.append)
    # A batch's invoices, a hundred per task (billing.renewal_batches).
    monkeypatch.setattr(tasks.send_invoice_issued_emails, "delay", handed.extend)
    monkeypatch.setattr(tasks.send_payment_received_email, "delay", lambda pk: None)
    return handed


def active(customer, *, cycle: str = BillingCycle.MONTHLY, expires_in: timedelta, **fields):
    fields.setdefault("status", ServiceStatus.ACTIVE)
    return ServiceFactory(
        customer=customer,
        billing_cycle=cycle,
        price=PRICE,
        expires_at=timezone.now() + expires_in,
        **fields,
    )


def renewal_lines(service: Service) -> list[InvoiceLine]:
    return list(InvoiceLine.objects.filter(service=service, kind=LineKind.RENEWAL))


def run_registered(key: str) -> dict[str, int]:
    """What the automation's runner does: the task registered as ``key``, run now."""
    return registry.find(key).run(timezone.now()).counts()


# Renewal invoices ----------------------------------------------------------------------


def test_a_due_service_is_invoiced_once_for_the_period_starting_at_its_expiration(
    customer, queued, django_capture_on_commit_callbacks
):
    service = active(customer, expires_in=timedelta(days=5))

    with django_capture_on_commit_callbacks(execute=True):
        first = timeline.make_renewal_invoices(timezone.now())
    second = timeline.make_renewal_invoices(timezone.now())

    assert (first.done, first.failed) == (1, [])
    assert (second.done, second.skipped, second.failed) == (0, 0, [])
    [line] = renewal_lines(service)
    assert line.period_start == service.expires_at
    assert line.period_end == service.expires_at + timedelta(days=31)  # March has 31 days
    invoice = line.invoice
    assert invoice.status == InvoiceStatus.UNPAID
    assert invoice.total == PRICE
    assert invoice.due_at == service.expires_at  # due when the paid period ends
    assert queued == [invoice.pk]  # the "invoice issued" e-mail, after commit


@pytest.mark.parametrize(
    ("cycle", "days_before", "invoiced"),
    [
        (BillingCycle.WEEKLY, 2.9, True),
        (BillingCycle.WEEKLY, 3.1, False),
        (BillingCycle.MONTHLY, 6.9, True),
        (BillingCycle.MONTHLY, 7.1, False),
        (BillingCycle.ANNUALLY, 29.9, True),
        (BillingCycle.ANNUALLY, 30.1, False),
    ],
)
def test_the_lead_time_depends_on_the_billing_cycle(customer, queued, cycle, days_before, invoiced):
    service = active(customer, cycle=cycle, expires_in=timedelta(days=days_before))

    result = timeline.make_renewal_invoices(timezone.now())

    assert result.done == int(invoiced)
    assert len(renewal_lines(service)) == int(invoiced)


@override_settings(RENEWAL_INVOICE_DAYS={"monthly": 10})
def test_the_default_lead_time_is_read_from_the_settings_when_asked(customer, queued):
    monthly = active(customer, expires_in=timedelta(days=9))
    weekly = active(customer, cycle=BillingCycle.WEEKLY, expires_in=timedelta(days=1))
    weekly_ending = active(customer, cycle=BillingCycle.WEEKLY, expires_in=timedelta(hours=-1))

    timeline.make_renewal_invoices(timezone.now())

    assert len(renewal_lines(monthly)) == 1
    # No default for weekly: a lead time of 0, invoiced on the day it expires.
    assert renewal_lines(weekly) == []
    assert len(renewal_lines(weekly_ending)) == 1


def test_services_that_will_not_renew_are_not_invoiced(customer, queued):
    soon = timedelta(days=2)
    pending = ServiceFactory(customer=customer, expires_at=timezone.now() + soon)
    expired = active(customer, expires_in=-timedelta(days=1), status=ServiceStatus.EXPIRED)
    leaving = active(customer, expires_in=soon, cancel_at=timezone.now() + soon)
    at_max = active(customer, expires_in=soon, max_renewals=2, renewal_count=2)
    busy = active(customer, expires_in=soon, operation="suspend")
    suspended = active(customer, expires_in=soon, status=ServiceStatus.SUSPENDED)

    result = timeline.make_renewal_invoices(timezone.now())

    assert result.done == 1
    assert len(renewal_lines(suspended)) == 1
    for service in (pending, expired, leaving, at_max, busy):
        assert renewal_lines(service) == [], service


def test_a_service_with_an_unpaid_renewal_invoice_is_not_invoiced_again(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    by_hand = invoices.renewal_invoice(service, cycles=3, actor=None)

    result = timeline.make_renewal_invoices(timezone.now())

    assert (result.done, result.failed) == (0, [])
    assert [line.invoice_id for line in renewal_lines(service)] == [by_hand.pk]


def test_a_period_whose_invoice_staff_cancelled_is_not_invoiced_again(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    timeline.make_renewal_invoices(timezone.now())
    invoices.cancel(renewal_lines(service)[0].invoice, actor=None)

    # Not even found due (a row claimed only to be skipped would be counted as skipped).
    assert timeline.make_renewal_invoices(timezone.now()).counts() == {
        "done": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert len(renewal_lines(service)) == 1


def test_the_database_refuses_a_second_renewal_line_for_a_paid_period(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    period_start = service.expires_at
    invoice = invoices.renewal_invoice(service, actor=None)
    payments.record_payment(invoice, gateway="manual", amount=invoice.total, reference="r1")
    [paid_line] = renewal_lines(service)
    assert not paid_line.is_open  # paid: the "one open renewal" index no longer holds it

    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            invoice=Invoice.objects.create(customer=customer),
            kind=LineKind.RENEWAL,
            description="The same period again",
            unit_price=PRICE,
            service=service,
            period_start=period_start,
        )


def test_a_cancelled_invoice_frees_its_period_for_another(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    first = invoices.renewal_invoice(service, actor=None)
    invoices.cancel(first, actor=None)

    second = invoices.renewal_invoice(service, actor=None)

    assert InvoiceLine.objects.get(invoice=first).is_void
    line = InvoiceLine.objects.get(invoice=second)
    assert (line.is_void, line.period_start) == (False, service.expires_at)


def test_a_balance_that_covers_the_invoice_pays_it_once(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    old_expiration = service.expires_at
    balance.adjust(customer, amount=Decimal("25.00"), actor=None, reason="Credit")

    timeline.make_renewal_invoices(timezone.now())
    second = timeline.make_renewal_invoices(timezone.now())

    [line] = renewal_lines(service)
    assert line.invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=line.invoice).count() == 1
    assert BalanceEntry.objects.filter(invoice=line.invoice, amount=-PRICE).count() == 1
    assert balance_of(customer) == Decimal("25.00") - PRICE
    service.refresh_from_db()
    assert service.expires_at == old_expiration + timedelta(days=31)
    assert ServiceRenewal.objects.filter(service=service).count() == 1
    assert (second.done, second.failed) == (0, [])


def test_a_balance_that_does_not_cover_the_invoice_is_left_alone(customer, queued):
    service = active(customer, expires_in=timedelta(days=5))
    balance.adjust(customer, amount=Decimal("5.00"), actor=None, reason="Credit")

    timeline.make_renewal_invoices(timezone.now())

    [line] = renewal_lines(service)
    assert line.invoice.status == InvoiceStatus.UNPAID
    assert not Payment.objects.exists()
    assert balance_of(customer) == Decimal("5.00")


def test_one_service_that_fails_neither_stops_nor_undoes_the_others(customer, queued, monkeypatch):
    services = [active(customer, expires_in=timedelta(days=d)) for d in (1, 2, 3)]
    broken = services[1]
    # A failure after the invoice is made is in tests/billing/test_renewal_batches.py.
    fail_renewal_line_of(monkeypatch, broken)

    result = timeline.make_renewal_invoices(timezone.now())

    assert result.done == 2
    assert result.failed == [(broken.pk, "RuntimeError: the tax service is down")]
    assert len(renewal_lines(services[0])) == len(renewal_lines(services[2])) == 1
    assert renewal_lines(broken) == []  # nothing of its invoice was left
    assert Invoice.objects.count() == 2
    assert run_registered("billing.renewal_invoices") == {"done": 0, "skipped": 0, "failed": 1}


# Payment reminders ---------------------------------------------------------------------


def reminders() -> list[str]:
    return sorted(
        EmailLog.objects.filter(kind=timeline.REMINDER_KIND).values_list("reference", flat=True)
    )


@pytest.fixture
def unpaid(customer, make_invoice) -> Invoice:
    """An invoice issued at T0, due 14 days later (the company's payment terms)."""
    with time_machine.travel(T0, tick=False):
        invoice = make_invoice(customer, Decimal("20.00"))
    assert invoice.due_at == T0 + timedelta(days=14)
    return invoice


def test_a_reminder_is_sent_once_at_each_offset(unpaid, mailoutbox):
    due = unpaid.due_at
    expected: list[str] = []
    with time_machine.travel(T0, tick=False) as traveller:
        for offset in (-7, -3, -1, 1, 3):
            traveller.move_to(due + timedelta(days=offset) - timedelta(hours=1))
            assert timeline.send_invoice_reminders(timezone.now()).done == 0  # not yet
            traveller.move_to(due + timedelta(days=offset, hours=1))
            first = timeline.send_invoice_reminders(timezone.now())
            second = timeline.send_invoice_reminders(timezone.now())
            assert (first.done, first.failed, second.done) == (1, [], 0)
            expected.append(f"invoice:{unpaid.number}:{offset}")
            assert reminders() == sorted(expected)
        traveller.move_to(due + timedelta(days=30))
        assert timeline.send_invoice_reminders(timezone.now()).done == 0  # no offset past 3

    assert len(mailoutbox) == 5
    assert mailoutbox[0].subject == f"Reminder: invoice {unpaid.number} is due in 7 days"
    assert mailoutbox[2].subject == f"Reminder: invoice {unpaid.number} is due tomorrow"
    assert mailoutbox[3].subject == f"Overdue: invoice {unpaid.number}"
    assert "20.00 EUR" in mailoutbox[3].body
    assert mailoutbox[0].to == [unpaid.customer.email]


def test_reminders_missed_for_days_send_only_the_latest(unpaid, mailoutbox):
    with time_machine.travel(unpaid.due_at + timedelta(days=2), tick=False):
        result = timeline.send_invoice_reminders(timezone.now())
        again = timeline.send_invoice_reminders(timezone.now())

    assert (result.done, again.done) == (1, 0)
    assert reminders() == [f"invoice:{unpaid.number}:1"]
    assert len(mailoutbox) == 1


def test_no_reminder_for_a_paid_or_cancelled_invoice(customer, make_invoice, mailoutbox):
    with time_machine.travel(T0, tick=False):
        paid = make_invoice(customer)
        cancelled = make_invoice(customer)
    payments.record_payment(paid, gateway="manual", amount=paid.total, reference="p")
    invoices.cancel(cancelled, actor=None)

    with time_machine.travel(T0 + timedelta(days=15), tick=False):
        assert timeline.send_invoice_reminders(timezone.now()).done == 0
    assert mailoutbox == []


def test_no_reminder_for_a_moment_before_the_invoice_was_issued(customer, queued, mailoutbox):
    """A renewal invoice made 7 days before the expiration, due then: the "-7" reminder
    would repeat the "invoice issued" e-mail of the same hour."""
    service = active(customer, expires_in=timedelta(days=6, hours=23))
    timeline.make_renewal_invoices(timezone.now())
    [line] = renewal_lines(service)

    assert timeline.send_invoice_reminders(timezone.now()).done == 0
    with time_machine.travel(line.invoice.due_at - timedelta(days=3), tick=False):
        assert timeline.send_invoice_reminders(timezone.now()).done == 1
    assert reminders() == [f"invoice:{line.invoice.number}:-3"]


def test_a_failed_reminder_is_logged_and_sent_again_by_the_next_run(
    unpaid, mailoutbox, monkeypatch
):
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send

    def refused(self, fail_silently=False):
        raise OSError("mail server away")

    moment = unpaid.due_at - timedelta(days=3)
    with time_machine.travel(moment, tick=False):
        monkeypatch.setattr(EmailMultiAlternatives, "send", refused)
        failed = timeline.send_invoice_reminders(timezone.now())
        log = EmailLog.objects.get(kind=timeline.REMINDER_KIND)
        assert log.status == EmailStatus.FAILED
        monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
        retried = timeline.send_invoice_reminders(timezone.now())

    assert failed.done == 0
    assert failed.failed == [
        (unpaid.pk, "the reminder could not be sent: OSError: mail server away")
    ]
    assert (retried.done, retried.failed) == (1, [])
    log.refresh_from_db()
    assert log.status == EmailStatus.SENT
    assert len(mailoutbox) == 1


# Unpaid new orders ---------------------------------------------------------------------


def test_unpaid_orders_are_cancelled_after_the_delay_and_paid_ones_are_not(customer):
    product = on_sale()
    item = orders.ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)
    with time_machine.travel(T0, tick=False) as traveller:
        unpaid = orders.place_order(customer, items=[item], actor=None, notify=False)
        paid = orders.place_order(customer, items=[item], actor=None, notify=False)
        assert paid.invoice is not None
        payments.record_payment(
            paid.invoice, gateway="manual", amount=paid.invoice.total, reference="x", notify=False
        )
        traveller.move_to(T0 + timedelta(days=13, hours=23))
        assert timeline.cancel_unpaid_orders(timezone.now()).done == 0
        traveller.move_to(T0 + timedelta(days=14, hours=1))
        first = timeline.cancel_unpaid_orders(timezone.now())
        second = timeline.cancel_unpaid_orders(timezone.now())

    assert (first.done, first.failed, second.done) == (1, [], 0)
    unpaid.refresh_from_db()
    assert unpaid.status == OrderStatus.CANCELLED
    assert Invoice.objects.get(pk=unpaid.invoice_id).status == InvoiceStatus.CANCELLED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID


def test_a_partly_paid_order_is_left_for_staff(customer):
    product = on_sale()
    item = orders.ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)
    with time_machine.travel(T0, tick=False):
        order = orders.place_order(customer, items=[item], actor=None, notify=False)
        assert order.invoice is not None
        payments.record_payment(
            order.invoice, gateway="manual", amount=Decimal("1.00"), reference="x", notify=False
        )
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        assert timeline.cancel_unpaid_orders(timezone.now()).counts() == {
            "done": 0,
            "skipped": 0,
            "failed": 0,
        }
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


# Two workers at once, on PostgreSQL ----------------------------------------------------

SERVICES = 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_make_each_renewal_invoice_once(monkeypatch):
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.send_invoice_issued_emails, "delay", lambda pks: None)
    customers = CustomerFactory.create_batch(10)
    product = ProductFactory()
    soon = timezone.now() + timedelta(days=2)
    monthly_services_expiring(customers, product, SERVICES, from_=soon, price=PRICE)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work() -> None:
        try:
            start.wait(timeout=30)
            results.append(run_registered("billing.renewal_invoices"))
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert sum(r["done"] for r in results) == SERVICES
    assert sum(r["failed"] for r in results) == 0
    lines = InvoiceLine.objects.filter(kind=LineKind.RENEWAL)
    assert lines.count() == SERVICES
    assert lines.values("service").distinct().count() == SERVICES
    assert Invoice.objects.count() == SERVICES
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.UNPAID}
    numbers = list(Invoice.objects.values_list("sequence", flat=True))
    assert sorted(numbers) == list(range(1, SERVICES + 1))  # no gap, no repeat
    assert run_registered("billing.renewal_invoices") == {"done": 0, "skipped": 0, "failed": 0}
