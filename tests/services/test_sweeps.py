"""The periodic sweeps: each changes what is due through the lifecycle, once."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from services import lifecycle, sweeps, tasks
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service, ServiceEvent

S = ServiceStatus


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_services_past_their_expiration_are_expired_by_automation(make_service):
    due = [
        make_service(S.ACTIVE, expires_at=ago(0.1)),
        make_service(S.SUSPENDED, expires_at=ago(2)),
    ]
    not_yet = make_service(S.ACTIVE, expires_at=ago(-1))

    result = sweeps.expire_due()

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

    result = sweeps.terminate_after_grace()

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

    results = sweeps.run_all()

    service.refresh_from_db()
    assert service.status == S.CANCELLED
    assert service.cancel_reason == "moving"
    assert (results["scheduled cancellations"].done, results["expirations"].done) == (1, 0)


def test_a_second_run_does_nothing(make_service):
    make_service(S.ACTIVE, expires_at=ago(1))
    sweeps.run_all()
    events = ServiceEvent.objects.count()

    results = sweeps.run_all()

    assert all(result.done == 0 for result in results.values())
    assert ServiceEvent.objects.count() == events


def test_a_module_failure_is_recorded_and_the_sweep_goes_on(make_service):
    broken = make_service(S.ACTIVE, expires_at=ago(1), fail="suspend")
    fine = make_service(S.ACTIVE, expires_at=ago(1))

    result = sweeps.expire_due()

    assert result.done == 1
    assert result.failed == [(broken.pk, "The test panel refused to suspend.")]
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.status, fine.status) == (S.ACTIVE, S.EXPIRED)
    assert broken.last_delivery_error == "The test panel refused to suspend."


def test_the_task_and_the_command_run_every_sweep(make_service):
    make_service(S.ACTIVE, expires_at=ago(1))
    make_service(S.EXPIRED, expires_at=ago(30))
    out = StringIO()

    assert tasks.run_sweeps() == {
        "scheduled cancellations": 0,
        "expirations": 1,
        "terminations": 1,
        "expiry notices": 0,
    }
    call_command("run_sweeps", stdout=out)

    assert "expirations: 0 done" in out.getvalue()


def test_beat_runs_the_sweeps_periodically(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["service-lifecycle-sweeps"]

    assert entry["task"] == tasks.run_sweeps.name
    assert entry["schedule"] == settings.SERVICE_SWEEP_MINUTES * 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_service_locked_by_another_worker_is_skipped_not_waited_for(make_service):
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
        result = sweeps.expire_due()
    finally:
        release.set()
        thread.join(timeout=30)

    assert result.done == 1
    held.refresh_from_db()
    free.refresh_from_db()
    assert (held.status, free.status) == (S.ACTIVE, S.EXPIRED)
