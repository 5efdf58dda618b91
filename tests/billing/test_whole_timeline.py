"""A time machine over the whole timeline of one monthly service, run the way beat runs it:
every periodic task, every six hours, from ten days before the expiration T to fifteen days
after. Renewal invoice at T-7, reminders at their offsets, the "expires soon" notice at T-3,
expired at T; then either paid at T+3 (renewed from the old expiration, one month on) or
left unpaid and terminated at T+14 — and each e-mail sent once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from automation import registry
from billing import payments
from billing.choices import InvoiceStatus, LineKind
from billing.models import InvoiceLine
from clientxcms.celery import app as celery_app
from customers.models import EmailLog
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service, ServiceEvent

T = dt.datetime(2030, 3, 4, 12, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(hours=6)


def days(n: float) -> dt.datetime:
    return T + dt.timedelta(days=n)


@pytest.fixture
def service(make_service, settings) -> Service:
    settings.TIME_ZONE = "UTC"
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    settings.SERVICE_TERMINATION_DAYS = 14
    settings.RENEWAL_INVOICE_DAYS = {"monthly": 7}
    settings.INVOICE_REMINDER_DAYS = [-7, -3, -1, 1, 3]
    with time_machine.travel(days(-30), tick=False):
        return make_service(
            ServiceStatus.ACTIVE,
            billing_cycle=BillingCycle.MONTHLY,
            price=Decimal("9.99"),
            expires_at=T,
        )


@pytest.fixture(autouse=True)
def tasks_in_process(monkeypatch):
    """What the workers would do after each commit (the e-mails, the panel's call after a
    payment's renewal) done at once, in this process."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


class Beat:
    """Runs every registered task at each moment, and notes what each moment did."""

    def __init__(self, capture) -> None:
        self.capture = capture
        self.log: dict[dt.datetime, list[str]] = {}

    def run(self, moment: dt.datetime) -> None:
        sent_before = EmailLog.objects.count()
        events_before = ServiceEvent.objects.count()
        with time_machine.travel(moment, tick=False):
            for task in registry.tasks():
                with self.capture(execute=True):
                    task.run(timezone.now())
        kinds = [f"mail:{log.kind}" for log in EmailLog.objects.order_by("pk")[sent_before:]]
        actions = [
            f"event:{event.action}" for event in ServiceEvent.objects.order_by("pk")[events_before:]
        ]
        if kinds or actions:
            self.log[moment] = actions + kinds

    def moments(self, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
        moment = start
        while moment <= end:
            yield moment
            moment += STEP

    def between(self, start: dt.datetime, end: dt.datetime) -> None:
        for moment in self.moments(start, end):
            self.run(moment)


@pytest.fixture
def beat(django_capture_on_commit_callbacks) -> Beat:
    return Beat(django_capture_on_commit_callbacks)


def when(log: dict[dt.datetime, list[str]], what: str) -> list[dt.datetime]:
    return [moment for moment, happened in log.items() if what in happened]


def test_the_timeline_up_to_the_expiration(service, beat):
    beat.between(days(-10), T)

    assert when(beat.log, "mail:invoice_issued") == [days(-7)]
    [line] = InvoiceLine.objects.filter(service=service, kind=LineKind.RENEWAL)
    assert line.invoice.due_at == T
    # The reminder 7 days before the due date fell when the invoice was issued: the
    # invoice's own e-mail said it. Then 3 days and 1 day before.
    assert when(beat.log, "mail:invoice_reminder") == [days(-3), days(-1)]
    assert when(beat.log, "mail:expiring_soon") == [days(-3)]
    assert when(beat.log, "event:expire") == [T]
    assert when(beat.log, "mail:expired") == [T]
    service.refresh_from_db()
    assert service.status == ServiceStatus.EXPIRED


def test_paid_at_t_plus_3_the_service_is_renewed_one_month_from_its_old_expiration(service, beat):
    beat.between(days(-10), days(3) - STEP)
    invoice = InvoiceLine.objects.get(service=service, kind=LineKind.RENEWAL).invoice
    with time_machine.travel(days(3), tick=False), beat.capture(execute=True):
        payments.record_payment(
            invoice, gateway="bank_transfer", amount=invoice.total, reference="wire-42"
        )
    beat.between(days(3), days(15))

    service.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert service.status == ServiceStatus.ACTIVE
    assert service.expires_at == dt.datetime(2030, 4, 4, 12, 0, tzinfo=dt.UTC)
    assert service.renewal_count == 1
    assert when(beat.log, "mail:invoice_reminder") == [days(-3), days(-1), days(1)]
    assert when(beat.log, "event:terminate") == []
    kinds = list(EmailLog.objects.values_list("kind", flat=True))
    assert sorted(kinds) == sorted(
        [
            "invoice_issued",
            "expiring_soon",
            "invoice_reminder",
            "invoice_reminder",
            "expired",
            "invoice_reminder",
            "payment_received",
            "renewed",  # one e-mail says it: back on the server comes with the renewal
        ]
    )
    assert len(mail.outbox) == len(kinds)  # each e-mail sent once


def test_left_unpaid_the_service_is_terminated_at_t_plus_14(service, beat):
    beat.between(days(-10), days(15))

    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    assert when(beat.log, "event:terminate") == [days(14)]
    assert when(beat.log, "mail:invoice_reminder") == [days(-3), days(-1), days(1), days(3)]
    invoice = InvoiceLine.objects.get(service=service, kind=LineKind.RENEWAL).invoice
    assert invoice.status == InvoiceStatus.CANCELLED
    kinds = sorted(EmailLog.objects.values_list("kind", flat=True))
    assert kinds == sorted(
        [
            "invoice_issued",
            "invoice_reminder",
            "invoice_reminder",
            "expiring_soon",
            "expired",
            "invoice_reminder",
            "invoice_reminder",
            "terminated",
        ]
    )
    assert len(mail.outbox) == len(kinds)  # each e-mail sent once, whatever ran how often
