"""Each operation writes one audit row; a repeat does nothing; module failures are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from delivery.modules.base import ModuleError
from services import lifecycle, tasks
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import ServiceEvent

S = ServiceStatus


@pytest.mark.parametrize(
    ("status", "operation", "kwargs", "to_status"),
    [
        (S.PENDING, lifecycle.deliver, {}, S.ACTIVE),
        (S.PENDING, lifecycle.import_existing, {"resource_id": "vm-2"}, S.ACTIVE),
        (S.ACTIVE, lifecycle.suspend, {"reason": "unpaid"}, S.SUSPENDED),
        (S.SUSPENDED, lifecycle.unsuspend, {"reason": "paid"}, S.ACTIVE),
        (S.ACTIVE, lifecycle.terminate, {"reason": "abuse"}, S.TERMINATED),
        (S.ACTIVE, lifecycle.cancel, {"reason": "moving", "when": CancelWhen.NOW}, S.CANCELLED),
        (S.ACTIVE, lifecycle.renew, {"cycles": 2}, S.ACTIVE),
    ],
)
def test_each_operation_records_who_what_and_the_field_changes(
    status, operation, kwargs, to_status, make_service, admin_user
):
    service = make_service(status)

    operation(service, actor=admin_user, source=EventSource.ADMIN, **kwargs)

    event = ServiceEvent.objects.get(service=service)
    assert event.actor == admin_user
    assert event.source == EventSource.ADMIN
    assert event.from_status == status
    assert event.to_status == to_status
    assert event.reason == kwargs.get("reason", "")
    assert event.error == ""
    if operation is lifecycle.renew:
        assert event.module_result == {}  # an active service's renewal asks nothing of the panel
    else:
        assert event.module_result["message"].endswith("done")
    if status != to_status:
        assert event.changes["status"] == [status, to_status]
    else:
        assert "expires_at" in event.changes


def test_expire_is_recorded_as_automation_without_an_actor(make_service):
    service = make_service(S.ACTIVE, expires_at=timezone.now() - timedelta(hours=1))

    lifecycle.expire(service)

    event = ServiceEvent.objects.get(service=service)
    assert (event.actor, event.source, event.action) == (None, EventSource.AUTOMATION, "expire")


def test_a_repeated_suspend_does_nothing_and_calls_no_module(make_service, admin_user, monkeypatch):
    service = make_service(S.ACTIVE)
    lifecycle.suspend(service, actor=admin_user, source=EventSource.ADMIN, reason="first")
    calls = []
    monkeypatch.setattr(
        "tests.fakes.modules.FakeModule.suspend", lambda self, svc: calls.append(svc)
    )

    again = lifecycle.suspend(
        service, actor=admin_user, source=EventSource.ADMIN, reason="second"
    ).service

    assert again.status == S.SUSPENDED
    assert again.suspend_reason == "first"
    assert calls == []
    assert ServiceEvent.objects.filter(service=service).count() == 1


def test_a_module_failure_keeps_the_status_and_records_the_error(make_service, admin_user):
    service = make_service(S.ACTIVE, fail_retryable="suspend")

    with pytest.raises(ModuleError, match="refused to suspend") as raised:
        lifecycle.suspend(service, actor=admin_user, source=EventSource.ADMIN, reason="unpaid")

    assert raised.value.retryable
    service.refresh_from_db()
    assert service.status == S.ACTIVE
    assert service.suspended_at is None
    assert service.last_delivery_error == "The test panel refused to suspend."
    event = ServiceEvent.objects.get(service=service)
    assert (event.action, event.from_status, event.to_status) == ("suspend", S.ACTIVE, S.ACTIVE)
    assert event.error == "The test panel refused to suspend."
    assert event.module_result["retryable"] is True
    assert event.module_result["attempt"] == 1
    # Retryable: the suspension stays in flight, to be tried again once due.
    assert (service.operation, service.operation_state) == ("suspend", "retrying")
    next_try = service.operation_due_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert event.module_result["next_try"].startswith(next_try)


def test_a_failed_delivery_stays_pending_counts_the_attempt_and_a_retry_clears_the_error(
    make_service, admin_user
):
    service = make_service(S.PENDING, fail="create")

    with pytest.raises(ModuleError):
        lifecycle.deliver(service, actor=admin_user, source=EventSource.ADMIN)

    service.refresh_from_db()
    assert (service.status, service.delivery_attempts) == (S.PENDING, 1)
    assert service.last_delivery_error == "The test panel refused to create."

    service.server.credentials = {"api_key": "k", "fail": ""}
    service.server.save()
    delivered = lifecycle.deliver(service, actor=admin_user, source=EventSource.ADMIN).service

    assert (delivered.status, delivered.delivery_attempts) == (S.ACTIVE, 2)
    assert delivered.last_delivery_error == ""
    assert [e.error != "" for e in ServiceEvent.objects.filter(service=service).order_by("id")] == [
        True,
        False,
    ]


def test_the_customer_is_notified_after_commit_and_only_when_asked(
    make_service, admin_user, django_capture_on_commit_callbacks
):
    notified, silent = make_service(S.ACTIVE), make_service(S.ACTIVE)

    with django_capture_on_commit_callbacks() as callbacks:
        lifecycle.suspend(notified, actor=admin_user, source=EventSource.ADMIN, reason="unpaid")
    with django_capture_on_commit_callbacks() as silent_callbacks:
        lifecycle.suspend(
            silent, actor=admin_user, source=EventSource.ADMIN, reason="check", notify=False
        )

    assert len(callbacks) == 1
    assert silent_callbacks == []
    event = ServiceEvent.objects.get(service=notified)
    assert tasks.send_service_notification(event.pk) is True
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["bob@example.com"]
    assert mail.outbox[0].subject == f"Your service {notified.name} has been suspended"
    assert "Reason: unpaid" in mail.outbox[0].body


def test_nothing_is_notified_when_the_operation_is_refused(
    make_service, admin_user, django_capture_on_commit_callbacks
):
    service = make_service(S.TERMINATED)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(lifecycle.LifecycleError):
        lifecycle.suspend(service, actor=admin_user, source=EventSource.ADMIN)

    assert callbacks == []
