"""The notice that a service expires soon: once per paid period, by the periodic sweep."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from customers.models import EmailLog, EmailStatus
from services import lifecycle, sweeps
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service

S = ServiceStatus


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


def notices():
    return list(EmailLog.objects.filter(kind="expiring_soon").order_by("pk"))


def test_a_service_expiring_within_the_notice_days_is_told_once(make_service, settings):
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 3
    soon = make_service(S.ACTIVE, expires_at=in_days(2))
    suspended = make_service(S.SUSPENDED, expires_at=in_days(1))
    later = make_service(S.ACTIVE, expires_at=in_days(5))
    pending = make_service(S.PENDING, expires_at=in_days(2))

    first = sweeps.notify_expiring()
    second = sweeps.notify_expiring()

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

    assert sweeps.notify_expiring().done == 0
    assert notices() == []


def test_a_renewal_makes_the_next_periods_notice_due(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=in_days(2), billing_cycle="weekly")
    sweeps.notify_expiring()
    lifecycle.renew(service.pk, actor=admin_user, source=EventSource.ADMIN)
    assert sweeps.notify_expiring().done == 0  # nine days left: not yet

    with time_machine.travel(in_days(7), tick=False):
        result = sweeps.notify_expiring()

    assert result.done == 1
    assert [log.reference for log in notices()] == [
        f"service:{service.pk}:period:0",
        f"service:{service.pk}:period:1",
    ]


def test_moving_the_expiration_by_a_few_days_sends_no_second_notice(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=in_days(2))
    sweeps.notify_expiring()
    lifecycle.shift_expiration(service.pk, days=-1, actor=admin_user, source=EventSource.ADMIN)

    assert sweeps.notify_expiring().done == 0
    assert len(notices()) == 1


def test_a_failed_send_is_tried_again_by_the_next_sweep(make_service):
    service = make_service(S.ACTIVE, expires_at=in_days(2))

    with override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend"):
        failed = sweeps.notify_expiring()
    [log] = notices()
    assert (failed.done, len(failed.failed), log.status) == (0, 1, EmailStatus.FAILED)

    retried = sweeps.notify_expiring()

    log.refresh_from_db()
    assert (retried.done, log.status) == (1, EmailStatus.SENT)
    assert len(mail.outbox) == 1
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE
