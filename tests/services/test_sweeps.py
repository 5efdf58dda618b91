"""The periodic sweeps: each changes what is due through the lifecycle, once; each is a
periodic task of its own, registered with the automation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from automation import registry
from services import lifecycle, sweeps
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service, ServiceEvent
from tests.fakes.modules import FakeModule

S = ServiceStatus


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_services_past_their_expiration_are_expired_by_automation(make_service):
    due = [
        make_service(S.ACTIVE, expires_at=ago(0.1)),
        make_service(S.SUSPENDED, expires_at=ago(2)),
    ]
    not_yet = make_service(S.ACTIVE, expires_at=ago(-1))

    result = sweeps.expire(timezone.now())

    assert result.done == 2
    assert set(Service.objects.filter(status=S.EXPIRED).values_list("pk", flat=True)) == {
        s.pk for s in due
    }
    not_yet.refresh_from_db()
    assert not_yet.status == S.ACTIVE
    event = ServiceEvent.objects.filter(action="expire").first()
    assert (event.actor, event.source) == (None, EventSource.AUTOMATION)


def test_services_expired_beyond_the_grace_period_are_terminated(make_service, settings):
    settings.SERVICE_TERMINATION_DAYS = 14
    late = make_service(S.EXPIRED, expires_at=ago(15))
    within = make_service(S.EXPIRED, expires_at=ago(13))

    result = sweeps.terminate(timezone.now())

    assert result.done == 1
    late.refresh_from_db()
    within.refresh_from_db()
    assert (late.status, within.status) == (S.TERMINATED, S.EXPIRED)
    assert (
        ServiceEvent.objects.get(service=late).reason
        == "Not renewed within 14 days of its expiration."
    )


def test_a_scheduled_cancellation_coming_due_cancels_rather_than_expires(make_service, customer):
    service = make_service(S.ACTIVE, expires_at=ago(-1))
    lifecycle.cancel(
        service,
        actor=customer.user,
        source=EventSource.CLIENT,
        when=CancelWhen.END_OF_PERIOD,
        reason="moving",
    )
    Service.objects.filter(pk=service.pk).update(expires_at=ago(0.1), cancel_at=ago(0.1))

    now = timezone.now()

    # The tasks run independently, in any order: the expiration leaves it either way.
    assert list(sweeps.expire_due(now)) == []
    expired = sweeps.expire(now)
    cancelled = sweeps.cancel_scheduled(now)

    service.refresh_from_db()
    assert service.status == S.CANCELLED
    assert service.cancel_reason == "moving"
    assert (cancelled.done, expired.done) == (1, 0)
    assert ServiceEvent.objects.filter(service=service, action="expire").count() == 0


def test_a_cancellation_scheduled_for_later_does_not_keep_an_expiration(make_service):
    service = make_service(S.ACTIVE, expires_at=ago(0.1))
    Service.objects.filter(pk=service.pk).update(cancel_at=ago(-1))

    assert sweeps.expire(timezone.now()).done == 1
    assert Service.objects.get(pk=service.pk).status == S.EXPIRED


SWEEPS = [sweeps.cancel_scheduled, sweeps.expire, sweeps.terminate, sweeps.notify_expiring]


def test_a_second_run_does_nothing(make_service):
    make_service(S.ACTIVE, expires_at=ago(1))
    make_service(S.EXPIRED, expires_at=ago(30))
    for sweep in SWEEPS:
        sweep(timezone.now())
    events = ServiceEvent.objects.count()

    results = [sweep(timezone.now()) for sweep in SWEEPS]

    assert [result.counts() for result in results] == [
        {"done": 0, "skipped": 0, "failed": 0}
    ] * len(SWEEPS)
    assert ServiceEvent.objects.count() == events


def test_a_module_failure_is_recorded_and_the_sweep_goes_on(make_service):
    broken = make_service(S.ACTIVE, expires_at=ago(1), fail="suspend")
    fine = make_service(S.ACTIVE, expires_at=ago(1))

    result = sweeps.expire(timezone.now())

    assert result.done == 1
    assert result.failed == [(broken.pk, "The test panel refused to suspend.")]
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.status, fine.status) == (S.ACTIVE, S.EXPIRED)
    assert broken.last_delivery_error == "The test panel refused to suspend."


def test_the_due_queries_answer_for_the_moment_asked(make_service, settings):
    settings.SERVICE_TERMINATION_DAYS = 14
    expiring = make_service(S.ACTIVE, expires_at=ago(-2))
    expired = make_service(S.EXPIRED, expires_at=ago(10))
    ending = make_service(S.ACTIVE, expires_at=ago(-3))
    Service.objects.filter(pk=ending.pk).update(cancel_at=ago(-3))
    now, in_five_days = timezone.now(), ago(-5)

    assert list(sweeps.expire_due(now)) == []
    assert list(sweeps.expire_due(in_five_days)) == [expiring]
    assert list(sweeps.terminate_due(now)) == []
    assert list(sweeps.terminate_due(in_five_days)) == [expired]
    assert list(sweeps.cancel_scheduled_due(now)) == []
    assert list(sweeps.cancel_scheduled_due(in_five_days)) == [ending]
    # Asking changes nothing; running at the moment asked does.
    assert sweeps.expire(now).done == 0
    assert Service.objects.get(pk=expiring.pk).status == S.ACTIVE


def test_a_run_three_days_later_handles_what_is_due_then(make_service):
    service = make_service(S.ACTIVE, expires_at=ago(-2))

    assert sweeps.expire(timezone.now()).counts() == {"done": 0, "skipped": 0, "failed": 0}
    with time_machine.travel(ago(-3), tick=False):
        assert sweeps.expire(timezone.now()).counts() == {"done": 1, "skipped": 0, "failed": 0}
    assert Service.objects.get(pk=service.pk).status == S.EXPIRED


def test_a_service_the_lifecycle_leaves_unchanged_counts_as_skipped(make_service, monkeypatch):
    service = make_service(S.ACTIVE, expires_at=ago(1))
    monkeypatch.setattr(
        lifecycle,
        "expire",
        lambda pk, **kwargs: lifecycle.Outcome(Service.objects.get(pk=pk), changed=False),
    )

    result = sweeps.expire(timezone.now())

    assert result.counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


def test_a_service_another_worker_took_in_between_is_skipped_not_failed(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.ACTIVE, expires_at=ago(1))
    expire = lifecycle.expire

    def another_worker_first(pk, **kwargs):
        # Another worker claims the service between the due query and this claim.
        Service.objects.filter(pk=pk).update(operation="suspend", operation_state="calling")
        return expire(pk, **kwargs)

    monkeypatch.setattr(lifecycle, "expire", another_worker_first)

    result = sweeps.expire(timezone.now())

    assert result.counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE
    assert ServiceEvent.objects.filter(service=service, action="expire").count() == 0


def test_a_refusal_of_a_service_still_due_is_a_failure_with_its_reason(make_service):
    service = make_service(S.ACTIVE, expires_at=ago(1), module="no-such-module")

    result = sweeps.expire(timezone.now())

    assert result.done == 0
    [(pk, message)] = result.failed
    assert pk == service.pk
    assert message.startswith(f"Cannot expire service #{service.pk}: ")


TASKS = {
    "services.cancel_scheduled": (sweeps.cancel_scheduled, sweeps.cancel_scheduled_due),
    "services.expire": (sweeps.expire, sweeps.expire_due),
    "services.terminate": (sweeps.terminate, sweeps.terminate_due),
}


@pytest.mark.parametrize("key", sorted(TASKS))
def test_each_sweep_is_a_periodic_task_run_every_sweep_interval(key):
    task = registry.find(key)

    assert (task.run, task.due) == TASKS[key]
    assert task.every == timedelta(minutes=django_settings.SERVICE_SWEEP_MINUTES)
    assert task.link(12) == reverse("admin:service_detail", args=[12])


def test_the_expiry_notices_are_daily_work():
    task = registry.find("services.expiry_notices")

    assert (task.run, task.due, task.daily) == (
        sweeps.notify_expiring,
        sweeps.notify_expiring_due,
        True,
    )


def test_the_dry_run_names_each_service_and_why(make_service, customer, settings):
    settings.SERVICE_TERMINATION_DAYS = 14
    settings.TIME_ZONE = "UTC"
    expired = make_service(
        S.ACTIVE, name="Minecraft", expires_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    )
    now = datetime(2026, 12, 2, tzinfo=UTC)
    expire = registry.find("services.expire")

    [row] = expire.due(now)

    assert expire.describe(row) == (
        f"Service #{expired.pk} 'Minecraft' of {customer.email} expires "
        "(expiration date Dec. 1, 2026, 10:00)"
    )
    Service.objects.filter(pk=expired.pk).update(status=S.EXPIRED)
    [row] = registry.find("services.terminate").due(now + timedelta(days=14))
    assert registry.find("services.terminate").describe(row) == (
        f"Service #{expired.pk} 'Minecraft' of {customer.email} is terminated "
        "(expiration date Dec. 1, 2026, 10:00, not renewed within 14 days)"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("calls_panel", [True, False], ids=["one by one", "in batches"])
def test_a_service_locked_by_another_worker_is_skipped_not_waited_for(
    make_service, monkeypatch, calls_panel
):
    monkeypatch.setattr(FakeModule, "calls_panel", calls_panel)
    held = make_service(S.ACTIVE, expires_at=ago(1))
    free = make_service(S.ACTIVE, expires_at=ago(1))
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            Service.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(timeout=30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    locked.wait(timeout=10)
    try:
        result = sweeps.expire(timezone.now())
    finally:
        release.set()
        thread.join(timeout=30)

    assert result.counts() == {"done": 1, "skipped": 1, "failed": 0}
    held.refresh_from_db()
    free.refresh_from_db()
    assert (held.status, free.status) == (S.ACTIVE, S.EXPIRED)
