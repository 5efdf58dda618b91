"""The notice that a service expires soon: once per paid period, by its periodic task."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from automation import options
from customers.models import EmailLog, EmailStatus
from services import lifecycle, sweeps
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service

S = ServiceStatus


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


def notify():
    """The expiry notices' task, run now."""
    return sweeps.notify_expiring(timezone.now())


def notices():
    return list(EmailLog.objects.filter(kind="expiring_soon").order_by("pk"))


def test_a_service_expiring_within_the_notice_days_is_told_once(make_service, settings):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    soon = make_service(S.ACTIVE, expires_at=in_days(2))
    suspended = make_service(S.SUSPENDED, expires_at=in_days(1))
    later = make_service(S.ACTIVE, expires_at=in_days(5))
    pending = make_service(S.PENDING, expires_at=in_days(2))

    first = notify()
    second = notify()

    assert (first.done, second.done) == (2, 0)
    assert [log.reference for log in notices()] == [
        f"service:{soon.pk}:period:0",
        f"service:{suspended.pk}:period:0",
    ]
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.subject.startswith(f"Your service {soon.name} expires on ")
    assert message.to == [soon.customer.user.email]
    assert message.alternatives  # the HTML version
    assert later.pk not in {int(log.reference.split(":")[1]) for log in notices()}
    assert pending.pk not in {int(log.reference.split(":")[1]) for log in notices()}


def test_a_service_whose_end_is_scheduled_or_one_time_is_not_told(make_service, customer):
    ending = make_service(S.ACTIVE, expires_at=in_days(2))
    lifecycle.cancel(
        ending, actor=customer.user, source=EventSource.CLIENT, when=CancelWhen.END_OF_PERIOD
    )
    make_service(S.ACTIVE, expires_at=None, billing_cycle="onetime")

    assert notify().done == 0
    assert notices() == []


def test_a_renewal_makes_the_next_periods_notice_due(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=in_days(2), billing_cycle="weekly")
    notify()
    lifecycle.renew(service.pk, actor=admin_user, source=EventSource.ADMIN)
    assert notify().done == 0  # nine days left: not yet

    with time_machine.travel(in_days(7), tick=False):
        result = notify()

    assert result.done == 1
    assert [log.reference for log in notices()] == [
        f"service:{service.pk}:period:0",
        f"service:{service.pk}:period:1",
    ]


def test_moving_the_expiration_by_a_few_days_sends_no_second_notice(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=in_days(2))
    notify()
    lifecycle.shift_expiration(service.pk, days=-1, actor=admin_user, source=EventSource.ADMIN)

    assert notify().done == 0
    assert len(notices()) == 1


def test_a_failed_send_is_tried_again_by_the_next_sweep(make_service):
    service = make_service(S.ACTIVE, expires_at=in_days(2))

    with override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend"):
        failed = notify()
    [log] = notices()
    assert (failed.done, len(failed.failed), log.status) == (0, 1, EmailStatus.FAILED)

    retried = notify()

    log.refresh_from_db()
    assert (retried.done, log.status) == (1, EmailStatus.SENT)
    assert len(mail.outbox) == 1
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


def test_a_notice_found_already_sent_when_claimed_counts_as_skipped(make_service, monkeypatch):
    make_service(S.ACTIVE, expires_at=in_days(2))
    monkeypatch.setattr(sweeps.notices, "send_expiry_notice", lambda service: False)

    assert notify().counts() == {"done": 0, "skipped": 1, "failed": 0}


def test_the_notice_days_staff_set_replace_the_environments(make_service, settings):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    service = make_service(S.ACTIVE, expires_at=in_days(5))
    assert list(sweeps.notify_expiring_due(timezone.now())) == []

    options.change("services.expiry_notice_days", 7, actor=None)

    assert list(sweeps.notify_expiring_due(timezone.now())) == [service]
    assert notify().done == 1


def test_the_due_query_answers_for_the_moment_asked(make_service, settings):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    service = make_service(S.ACTIVE, expires_at=in_days(10))

    assert list(sweeps.notify_expiring_due(timezone.now())) == []
    assert list(sweeps.notify_expiring_due(in_days(8))) == [service]
    assert list(sweeps.notify_expiring_due(in_days(11))) == []  # expired by then
