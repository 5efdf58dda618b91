"""Billing's part of the automation (billing/automation.py): the timeline's three daily
tasks as the runner and the dry run use them (``run(now)``, ``due(now)``, ``describe``,
``link``), and the settings staff change replacing the environment's defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from automation import options, registry
from billing import automation, invoices, orders, tasks, timeline
from billing.choices import InvoiceStatus, LineKind, OrderStatus
from billing.models import Invoice, InvoiceLine, Order
from clientxcms import claims
from customers.models import EmailLog
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service
from tests.billing.shop import on_sale
from tests.factories import ServiceFactory

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
RENEWALS = "billing.renewal_invoices"
REMINDERS = "billing.invoice_reminders"
UNPAID_ORDERS = "billing.unpaid_orders"
NOTHING = {"done": 0, "skipped": 0, "failed": 0}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch) -> None:
    """The "invoice issued" and receipt e-mails are queued on commit: no broker here."""
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.send_invoice_issued_emails, "delay", lambda pks: None)
    monkeypatch.setattr(tasks.send_payment_received_email, "delay", lambda pk: None)


def monthly(customer, *, expires_at: datetime, **fields):
    fields.setdefault("status", ServiceStatus.ACTIVE)
    return ServiceFactory(
        customer=customer,
        name="Minecraft",
        billing_cycle=BillingCycle.MONTHLY,
        price=Decimal("9.99"),
        expires_at=expires_at,
        **fields,
    )


def renewal_lines(service) -> list[InvoiceLine]:
    return list(InvoiceLine.objects.filter(service=service, kind=LineKind.RENEWAL))


@pytest.fixture
def unpaid(customer, make_invoice) -> Invoice:
    """An invoice issued at T0, due 14 days later."""
    with time_machine.travel(T0, tick=False):
        invoice = make_invoice(customer, Decimal("20.00"))
    assert invoice.due_at == T0 + timedelta(days=14)
    return invoice


def reminder_references() -> list[str]:
    return sorted(
        EmailLog.objects.filter(kind=timeline.REMINDER_KIND).values_list("reference", flat=True)
    )


# The registrations ---------------------------------------------------------------------


def test_billing_registers_its_three_daily_tasks_with_their_staff_pages(db):
    found = {key: registry.find(key) for key in (RENEWALS, REMINDERS, UNPAID_ORDERS)}

    assert all(task.daily for task in found.values())
    assert [registry.enabled(task) for task in found.values()] == [True, True, True]
    links = {key: task.link(12) for key, task in found.items() if task.link is not None}
    assert links == {
        RENEWALS: "/admin/services/12/",
        REMINDERS: "/admin/invoices/12/",
        UNPAID_ORDERS: "/admin/orders/12/",
    }


def test_every_cycle_that_renews_has_a_lead_time_and_one_time_has_none():
    keys = {option.key for option in options.registered() if option.group == "Billing"}

    assert keys == {
        "billing.invoice_reminder_days",
        "billing.order_unpaid_cancel_days",
        *(f"billing.renewal_invoice_days.{cycle}" for cycle in BillingCycle if cycle != "onetime"),
    }
    # Shorter than the cycle's shortest period: longer would invoice the next period at once.
    assert options.find("billing.renewal_invoice_days.weekly").maximum == 6
    assert options.find("billing.renewal_invoice_days.monthly").maximum == 27


# Renewal invoices ----------------------------------------------------------------------


def test_the_task_makes_what_is_due_at_its_now_and_a_second_run_nothing(customer):
    task = registry.find(RENEWALS)
    service = monthly(customer, expires_at=timezone.now() + timedelta(days=20))

    assert task.run(timezone.now()).counts() == NOTHING  # 20 days away: not yet
    later = timezone.now() + timedelta(days=14)
    first = task.run(later)
    second = task.run(later)

    assert first.counts() == {"done": 1, "skipped": 0, "failed": 0}
    assert second.counts() == NOTHING  # not even found due
    [line] = renewal_lines(service)
    assert line.period_start == service.expires_at


def test_a_service_invoiced_by_another_worker_meanwhile_is_counted_skipped(customer, monkeypatch):
    """The row is read as due, then, before it is claimed, another worker invoices it:
    the claim finds it no longer due and counts it skipped, making nothing."""
    service = monthly(customer, expires_at=timezone.now() + timedelta(days=3))
    real_batches = claims.Claimer.batches

    def batches(self):
        for keys in real_batches(self):
            invoices.renewal_invoice(service, actor=None)  # the other worker
            yield keys

    monkeypatch.setattr(claims.Claimer, "batches", batches)

    result = registry.find(RENEWALS).run(timezone.now())

    assert result.counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert len(renewal_lines(service)) == 1


def test_a_line_found_once_claimed_makes_the_handler_skip(customer, monkeypatch):
    """The handler reads the period's line again once the service is claimed: one
    committed in between by another worker makes it return ``SKIPPED``, counted as such."""
    service = monthly(customer, expires_at=timezone.now() + timedelta(days=3))
    invoiced = invoices.renewal_invoice(service, actor=None)
    # The claim's query read before that invoice was committed: it still finds the row due.
    monkeypatch.setattr(timeline, "due_renewals", lambda now: Service.objects.filter(pk=service.pk))

    result = timeline.make_renewal_invoices(timezone.now())

    assert result.counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert [line.invoice_id for line in renewal_lines(service)] == [invoiced.pk]


def test_a_lead_time_staff_set_makes_the_invoice_due_earlier(customer):
    service = monthly(customer, expires_at=timezone.now() + timedelta(days=10))
    task = registry.find(RENEWALS)
    assert task.run(timezone.now()).done == 0  # the environment's 7 days

    options.change("billing.renewal_invoice_days.monthly", 12, actor=None)

    assert automation.renewal_invoice_days(BillingCycle.MONTHLY) == 12
    assert task.run(timezone.now()).done == 1
    assert len(renewal_lines(service)) == 1
    assert automation.renewal_invoice_days(BillingCycle.WEEKLY) == 3  # the others unchanged


def test_a_lead_time_of_zero_invoices_on_the_expiry_date(customer):
    tomorrow = monthly(customer, expires_at=timezone.now() + timedelta(days=1))
    today = monthly(customer, expires_at=timezone.now() - timedelta(hours=1))

    options.change("billing.renewal_invoice_days.monthly", 0, actor=None)
    registry.find(RENEWALS).run(timezone.now())

    assert renewal_lines(tomorrow) == []
    assert len(renewal_lines(today)) == 1


@override_settings(RENEWAL_INVOICE_DAYS={"monthly": 10})
def test_a_lead_time_nobody_set_follows_the_environment_when_asked(db):
    """The default is read at each call: the override above is seen though the option
    was registered when the app started."""
    assert automation.renewal_invoice_days(BillingCycle.MONTHLY) == 10
    assert automation.renewal_invoice_days(BillingCycle.WEEKLY) == 0  # none in the environment

    options.change("billing.renewal_invoice_days.monthly", 4, actor=None)

    assert automation.renewal_invoice_days(BillingCycle.MONTHLY) == 4


# Payment reminders ---------------------------------------------------------------------


def test_reminder_days_staff_set_replace_the_environments(unpaid, mailoutbox):
    options.change("billing.invoice_reminder_days", [2, -10, 2], actor=None)
    task = registry.find(REMINDERS)
    due = unpaid.due_at

    assert automation.invoice_reminder_days() == [2, -10]
    assert task.run(due - timedelta(days=10, hours=1)).done == 0
    assert task.run(due - timedelta(days=10) + timedelta(hours=1)).done == 1
    assert task.run(due - timedelta(days=7) + timedelta(hours=1)).done == 0  # -7 is gone
    first = task.run(due + timedelta(days=2, hours=1))
    second = task.run(due + timedelta(days=2, hours=1))

    assert (first.done, second.counts()) == (1, NOTHING)
    assert reminder_references() == [
        f"invoice:{unpaid.number}:-10",
        f"invoice:{unpaid.number}:2",
    ]
    assert len(mailoutbox) == 2


def test_no_reminder_day_sends_no_reminder(unpaid, mailoutbox):
    options.change("billing.invoice_reminder_days", [], actor=None)

    assert registry.find(REMINDERS).run(unpaid.due_at + timedelta(days=1, hours=1)).done == 0
    assert mailoutbox == []


# Unpaid new orders ---------------------------------------------------------------------


def test_the_days_before_an_unpaid_order_is_cancelled_come_from_the_option(customer):
    item = orders.ItemSpec(product=on_sale(), billing_cycle=BillingCycle.MONTHLY)
    with time_machine.travel(T0, tick=False):
        order = orders.place_order(customer, items=[item], actor=None, notify=False)
    options.change("billing.order_unpaid_cancel_days", 3, actor=None)
    task = registry.find(UNPAID_ORDERS)

    assert task.run(T0 + timedelta(days=2, hours=23)).done == 0
    assert task.run(T0 + timedelta(days=3, hours=1)).counts() == {
        "done": 1,
        "skipped": 0,
        "failed": 0,
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert Invoice.objects.get(pk=order.invoice_id).status == InvoiceStatus.CANCELLED


# The dry run ---------------------------------------------------------------------------


def test_the_dry_run_at_a_later_date_lists_what_will_be_due_and_writes_nothing(
    customer, make_invoice, django_assert_num_queries
):
    now = timezone.now()
    expires_at = now + timedelta(days=20)
    service = monthly(customer, expires_at=expires_at)
    invoice = make_invoice(customer, Decimal("20.00"))
    assert invoice.due_at is not None
    item = orders.ItemSpec(product=on_sale(), billing_cycle=BillingCycle.MONTHLY)
    order = orders.place_order(customer, items=[item], actor=None, notify=False)
    assert order.invoice is not None
    # 17 days on: the service is within its 7 days, both invoices (the order's too) 3 days
    # overdue, and the order unpaid for more than 14 days.
    at = invoice.due_at + timedelta(days=3, hours=1)
    assert at > now + timedelta(days=14)
    tasks_ = [registry.find(key) for key in (RENEWALS, REMINDERS, UNPAID_ORDERS)]
    assert [task.due(now).count() for task in tasks_] == [0, 0, 0]
    written = (Invoice.objects.count(), EmailLog.objects.count(), InvoiceLine.objects.count())

    rows = [list(task.due(at)) for task in tasks_]
    with django_assert_num_queries(0):  # what describe reads came with the rows
        renewals, reminders, cancellations = (
            sorted(task.describe(row) for row in found)
            for task, found in zip(tasks_, rows, strict=True)
        )

    day = timezone.localdate(expires_at).isoformat()
    placed = timezone.localdate(order.created_at).isoformat()
    assert renewals == [
        f"Renewal invoice for service #{service.pk} 'Minecraft' (bob@example.com), "
        f"monthly, expires {day}"
    ]
    assert reminders == sorted(
        f"Reminder 3 days after due of invoice {number} to bob@example.com"
        for number in (invoice.number, order.invoice.number)
    )
    assert cancellations == [
        f"Order #{order.pk} of bob@example.com placed {placed} cancelled, "
        f"invoice {order.invoice.number} cancelled"
    ]
    written_after = (Invoice.objects.count(), EmailLog.objects.count(), InvoiceLine.objects.count())
    assert written_after == written
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


def test_a_reminder_before_the_due_date_is_described_so(unpaid):
    [row] = registry.find(REMINDERS).due(unpaid.due_at - timedelta(days=1) + timedelta(hours=1))

    assert registry.find(REMINDERS).describe(row) == (
        f"Reminder 1 day before due of invoice {unpaid.number} to bob@example.com"
    )
