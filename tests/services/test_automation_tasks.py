"""The services' periodic tasks and settings as the automation sees them: the delivery
retries' counts, and the days staff set in the panel overriding the environment's."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from automation import options, registry
from delivery.modules.base import ModuleError, ModuleResult
from services import lifecycle, periods, retries, sweeps
from services.choices import EventSource, OperationState, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import Service

S = ServiceStatus
MODULE = "tests.fakes.modules.FakeModule"


def days(n: float):
    return timezone.now() + timedelta(days=n)


# Delivery retries -----------------------------------------------------------------------


def test_the_delivery_retries_are_a_periodic_task(settings):
    task = registry.find("services.resume_operations")

    assert task.run == retries.resume_due
    assert task.every == timedelta(seconds=settings.OPERATION_RESUME_CHECK_SECONDS)
    assert task.link(3) == reverse("admin:service_detail", args=[3])


def test_a_retry_counts_finished_waiting_and_failed_operations(
    make_service, admin_user, monkeypatch
):
    finished = make_service(S.ACTIVE)
    failing = make_service(S.ACTIVE, fail_retryable="suspend")
    waiting = make_service(S.PENDING)
    monkeypatch.setattr(
        f"{MODULE}.create", lambda self, svc: ModuleResult(external_id="srv-1", waiting=True)
    )
    monkeypatch.setattr(f"{MODULE}.follow", lambda self, svc, action: ModuleResult(waiting=True))
    lifecycle.deliver(waiting.pk, actor=admin_user, source=EventSource.ADMIN)
    # A claim whose process died, and a retryable failure waiting for its next try.
    Service.objects.filter(pk=finished.pk).update(
        operation="suspend",
        operation_state=OperationState.CALLING,
        operation_started_at=timezone.now(),
        operation_due_at=timezone.now(),
        operation_attempts=1,
        operation_params={"source": EventSource.ADMIN},
    )
    with pytest.raises(ModuleError):  # retryable: tried again when due
        lifecycle.suspend(failing.pk, actor=admin_user, source=EventSource.ADMIN)

    with time_machine.travel(days(0.01), tick=False):
        due = retries.due(timezone.now())
        assert set(due) == {finished, failing, waiting}
        result = registry.find("services.resume_operations").run(timezone.now())

    assert (result.done, result.skipped) == (1, 1)
    assert result.failed == [(failing.pk, "The test panel refused to suspend.")]
    assert Service.objects.get(pk=finished.pk).status == S.SUSPENDED


def test_the_retries_due_answer_for_the_moment_asked(make_service):
    service = make_service(S.ACTIVE)
    Service.objects.filter(pk=service.pk).update(
        operation="suspend", operation_due_at=timezone.now() + timedelta(minutes=5)
    )

    assert list(retries.due(timezone.now())) == []
    assert list(retries.due(timezone.now() + timedelta(minutes=6))) == [service]


# The settings staff change --------------------------------------------------------------


def test_the_days_are_settings_in_the_services_group_with_the_environments_defaults(db, settings):
    settings.SERVICE_TERMINATION_DAYS = 21
    settings.SERVICE_EXPIRY_NOTICE_DAYS = 4
    settings.SERVICE_RENEWAL_GRACE_DAYS = 9

    assert (
        periods.termination_days(),
        periods.expiry_notice_days(),
        periods.renewal_grace_days(),
    ) == (21, 4, 9)
    for key in (periods.TERMINATION_DAYS, periods.EXPIRY_NOTICE_DAYS, periods.RENEWAL_GRACE_DAYS):
        option = options.find(key)
        assert option.group == "Services"
        assert option.minimum <= options.get(key) <= option.maximum


def test_the_termination_days_staff_set_replace_the_environments(make_service, settings):
    settings.SERVICE_TERMINATION_DAYS = 14
    service = make_service(S.EXPIRED, expires_at=days(-10))
    assert list(sweeps.terminate_due(timezone.now())) == []

    options.change(periods.TERMINATION_DAYS, 7, actor=None)

    assert list(sweeps.terminate_due(timezone.now())) == [service]
    assert sweeps.terminate(timezone.now()).done == 1
    event = service.events.get(action="terminate")
    assert event.reason == "Not renewed within 7 days of its expiration."


def test_the_renewal_grace_days_staff_set_replace_the_environments(
    make_service, admin_user, settings
):
    settings.SERVICE_RENEWAL_GRACE_DAYS = 7
    service = make_service(S.EXPIRED, expires_at=days(-5))

    options.change(periods.RENEWAL_GRACE_DAYS, 3, actor=None)

    with pytest.raises(LifecycleError, match="it expired more than 3 days ago"):
        lifecycle.renew(service.pk, actor=admin_user, source=EventSource.ADMIN)
