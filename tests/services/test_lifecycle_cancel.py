"""Cancelling now, at the end of the paid period, and undoing a scheduled cancellation."""

from __future__ import annotations

import pytest

from services import lifecycle
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import ServiceEvent

S = ServiceStatus
END = CancelWhen.END_OF_PERIOD


def test_an_end_of_period_cancellation_keeps_the_service_active_until_its_expiration(
    make_service, customer
):
    service = make_service(S.ACTIVE)

    scheduled = lifecycle.cancel(
        service, actor=customer.user, source=EventSource.CLIENT, when=END, reason="too expensive"
    ).service

    assert scheduled.status == S.ACTIVE
    assert scheduled.cancel_at == service.expires_at
    assert scheduled.cancel_reason == "too expensive"
    event = ServiceEvent.objects.get(service=service)
    assert event.action == "schedule_cancel"
    assert event.changes["cancel_at"][0] is None


def test_scheduling_the_same_cancellation_twice_does_nothing(make_service, customer):
    service = make_service(S.ACTIVE)
    lifecycle.cancel(service, actor=customer.user, source=EventSource.CLIENT, when=END)

    lifecycle.cancel(service, actor=customer.user, source=EventSource.CLIENT, when=END)

    assert ServiceEvent.objects.filter(service=service).count() == 1


def test_a_scheduled_cancellation_can_be_undone(make_service, customer):
    service = make_service(S.ACTIVE)
    lifecycle.cancel(service, actor=customer.user, source=EventSource.CLIENT, when=END, reason="x")

    restored = lifecycle.uncancel(service, actor=customer.user, source=EventSource.CLIENT).service

    assert restored.cancel_at is None
    assert restored.cancel_reason == ""
    assert ServiceEvent.objects.filter(service=service, action="uncancel").count() == 1


def test_undoing_when_nothing_is_scheduled_does_nothing(make_service, admin_user):
    service = make_service(S.ACTIVE)

    lifecycle.uncancel(service, actor=admin_user, source=EventSource.ADMIN)

    assert not ServiceEvent.objects.filter(service=service).exists()


def test_a_cancelled_service_cannot_be_brought_back(make_service, admin_user):
    with pytest.raises(LifecycleError, match="already cancelled"):
        lifecycle.uncancel(make_service(S.CANCELLED), actor=admin_user, source=EventSource.ADMIN)


@pytest.mark.parametrize(
    ("status", "fields", "message"),
    [
        (S.PENDING, {}, "cancel it now"),
        (S.EXPIRED, {}, "already over"),
        (S.ACTIVE, {"billing_cycle": "onetime", "expires_at": None}, "never expires"),
        (S.TERMINATED, {}, "it is terminated"),
    ],
)
def test_an_end_of_period_cancellation_is_refused_without_a_period_to_end(
    status, fields, message, make_service, admin_user
):
    service = make_service(status, **fields)

    with pytest.raises(LifecycleError, match=message):
        lifecycle.cancel(service, actor=admin_user, source=EventSource.ADMIN, when=END)


def test_cancelling_now_clears_a_scheduled_cancellation(make_service, admin_user):
    service = make_service(S.ACTIVE)
    lifecycle.cancel(service, actor=admin_user, source=EventSource.ADMIN, when=END, reason="later")

    cancelled = lifecycle.cancel(service, actor=None, source=EventSource.AUTOMATION).service

    assert cancelled.status == S.CANCELLED
    assert cancelled.cancel_at is None
    assert cancelled.cancelled_at is not None
    assert cancelled.cancel_reason == "later"


def test_cancelling_an_undelivered_service_calls_no_module(make_service, admin_user):
    service = make_service(S.PENDING, fail="terminate")

    cancelled = lifecycle.cancel(service, actor=admin_user, source=EventSource.ADMIN).service

    assert cancelled.status == S.CANCELLED
