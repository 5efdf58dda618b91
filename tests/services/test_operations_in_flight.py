"""Module calls outside the row lock: claim, call, finish (DESIGN.md, "The lifecycle layer").

The lifecycle claims an operation (committed), calls the module with no transaction
held, and finishes under the lock if its claim still holds. These tests show the claim
refusing a second operation, a process dying between claim and finish and the periodic
task finishing the work exactly once, retryable failures retried with backoff and given
up after the limit, a panel still working followed to its end, and a caller's transaction
deferring the call until after its commit.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from automation import registry
from delivery.modules.base import ModuleError, ModuleResult
from services import bulk, lifecycle, retries, sweeps, tasks
from services.choices import BulkAction, BulkItemState, EventSource, OperationState, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import BulkOperation, BulkOperationItem, Service, ServiceEvent

S = ServiceStatus
OS = OperationState
ADMIN = EventSource.ADMIN
MODULE = "tests.fakes.modules.FakeModule"


def suspend(service, admin_user, **kwargs):
    return lifecycle.suspend(service.pk, actor=admin_user, source=ADMIN, **kwargs)


def events(service, action="suspend"):
    return list(ServiceEvent.objects.filter(service=service, action=action).order_by("pk"))


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def test_the_claim_is_committed_before_the_call_and_refuses_a_second_operation(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.ACTIVE)
    seen = {}

    def suspend_and_try_to_terminate(self, svc):
        stored = Service.objects.get(pk=svc.pk)
        seen["claim"] = (stored.operation, stored.operation_state, stored.status)
        with pytest.raises(LifecycleError) as refused:
            lifecycle.terminate(svc.pk, actor=admin_user, source=ADMIN)
        seen["refusal"] = refused.value.message
        return ModuleResult(message="suspended")

    monkeypatch.setattr(f"{MODULE}.suspend", suspend_and_try_to_terminate)

    outcome = suspend(service, admin_user, reason="unpaid")

    assert seen["claim"] == ("suspend", OS.CALLING, S.ACTIVE)
    assert seen["refusal"].startswith(
        f"Cannot terminate service #{service.pk}: another operation is in progress on it "
        "(suspend, since "
    )
    assert outcome.changed
    service.refresh_from_db()
    assert (service.status, service.operation, service.operation_token) == (S.SUSPENDED, "", None)
    [event] = events(service)
    assert (event.from_status, event.to_status, event.reason) == (S.ACTIVE, S.SUSPENDED, "unpaid")
    assert events(service, "terminate") == []


@pytest.mark.django_db(transaction=True)
def test_the_module_is_called_with_no_transaction_and_no_lock_held(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.ACTIVE)
    held = []
    monkeypatch.setattr(
        f"{MODULE}.suspend",
        lambda self, svc: held.append(connection.in_atomic_block) or ModuleResult(),
    )

    suspend(service, admin_user)

    assert held == [False]
    assert Service.objects.get(pk=service.pk).status == S.SUSPENDED


def test_a_process_that_dies_after_the_call_is_finished_once_by_the_periodic_task(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.ACTIVE)
    calls = []
    monkeypatch.setattr(
        f"{MODULE}.suspend", lambda self, svc: calls.append(svc.pk) or ModuleResult(message="ok")
    )
    finish = lifecycle._finish

    def die(*args, **kwargs):
        raise RuntimeError("the worker was killed")

    monkeypatch.setattr(lifecycle, "_finish", die)
    with pytest.raises(RuntimeError):
        suspend(service, admin_user, reason="unpaid")
    monkeypatch.setattr(lifecycle, "_finish", finish)

    service.refresh_from_db()
    assert (service.status, service.operation, service.operation_state) == (
        S.ACTIVE,
        "suspend",
        OS.CALLING,
    )
    assert events(service) == []
    # Not stale yet: the call may still be under way, so nothing takes it over.
    assert retries.resume_due(timezone.now()).done == 0
    with pytest.raises(LifecycleError, match="being called right now"):
        lifecycle.abandon(service.pk, actor=admin_user)

    with later(6):
        resume_operations = registry.find("services.resume_operations")
        first = resume_operations.run(timezone.now())
        second = resume_operations.run(timezone.now())

    assert first.counts() == {"done": 1, "skipped": 0, "failed": 0}
    assert second.counts() == {"done": 0, "skipped": 0, "failed": 0}
    service.refresh_from_db()
    assert (service.status, service.operation, service.suspend_reason) == (
        S.SUSPENDED,
        "",
        "unpaid",
    )
    [event] = events(service)
    assert (event.actor, event.source, event.error) == (admin_user, ADMIN, "")
    assert calls == [service.pk, service.pk]  # called again: module operations are idempotent


def test_a_late_answer_after_a_takeover_is_discarded(make_service, admin_user, monkeypatch):
    service = make_service(S.ACTIVE)
    monkeypatch.setattr(f"{MODULE}.suspend", lambda self, svc: ModuleResult())
    with transaction.atomic():
        lifecycle.suspend(service.pk, actor=admin_user, source=ADMIN)  # claimed, deferred
    stale = Service.objects.get(pk=service.pk).operation_token
    with later(6):
        lifecycle.resume(service.pk)

    outcome = lifecycle._finish(service.pk, stale, ModuleResult())

    assert not outcome.changed
    assert outcome.message == "another run finished this operation"
    assert len(events(service)) == 1


def test_a_retryable_failure_is_retried_with_backoff_until_it_succeeds(
    make_service, admin_user, settings
):
    settings.OPERATION_RETRY_SECONDS = 60
    service = make_service(S.ACTIVE, fail_retryable="suspend")

    with pytest.raises(ModuleError):
        suspend(service, admin_user)
    service.refresh_from_db()
    first_due = service.operation_due_at
    assert (service.status, service.operation_state, service.operation_attempts) == (
        S.ACTIVE,
        OS.RETRYING,
        1,
    )
    assert timedelta(seconds=59) < first_due - timezone.now() <= timedelta(seconds=60)

    assert retries.resume_due(timezone.now()).failed == []  # not due yet: nothing tried
    with later(1.1):
        result = retries.resume_due(timezone.now())
    assert [pk for pk, _ in result.failed] == [service.pk]
    service.refresh_from_db()
    assert service.operation_attempts == 2
    # Doubled: two minutes after the second try.
    assert timedelta(seconds=119) < service.operation_due_at - (first_due + timedelta(seconds=6))

    server = service.server
    server.credentials = {**server.credentials, "fail_retryable": ""}
    server.save()
    with later(4):
        assert retries.resume_due(timezone.now()).done == 1
    service.refresh_from_db()
    assert (service.status, service.operation, service.last_delivery_error) == (S.SUSPENDED, "", "")
    failures = [e.error for e in events(service)]
    assert failures == ["The test panel refused to suspend."] * 2 + [""]


def test_a_failure_is_given_up_after_the_last_attempt(make_service, admin_user, settings):
    settings.OPERATION_MAX_ATTEMPTS = 2
    service = make_service(S.ACTIVE, fail_retryable="suspend")
    with pytest.raises(ModuleError):
        suspend(service, admin_user)
    with later(2), pytest.raises(ModuleError):
        lifecycle.resume(service.pk)

    service.refresh_from_db()
    assert (service.status, service.operation) == (S.ACTIVE, "")
    assert service.last_delivery_error == "The test panel refused to suspend."
    assert retries.needing_attention().filter(pk=service.pk).exists() is False
    # The rule book lets staff try again by hand.
    assert events(service)[-1].module_result["retryable"] is True


def test_a_panel_still_working_is_followed_until_it_is_done(make_service, admin_user, monkeypatch):
    service = make_service(S.PENDING)
    monkeypatch.setattr(
        f"{MODULE}.create",
        lambda self, svc: ModuleResult(external_id="srv-7", data={"ip": "10.0.0.7"}, waiting=True),
    )
    answers = [ModuleResult(waiting=True), ModuleResult(message="installed")]
    monkeypatch.setattr(f"{MODULE}.follow", lambda self, svc, action: answers.pop(0))

    outcome = lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert outcome.waiting
    service.refresh_from_db()
    assert (service.status, service.operation, service.operation_state) == (
        S.PENDING,
        "deliver",
        OS.WAITING,
    )
    assert (service.external_id, service.module_data["ip"]) == ("srv-7", "10.0.0.7")
    assert events(service, "deliver") == []

    tasks.follow_operation(service.pk)
    service.refresh_from_db()
    assert service.operation_state == OS.WAITING
    tasks.follow_operation(service.pk)

    service.refresh_from_db()
    assert (service.status, service.operation, service.external_id) == (S.ACTIVE, "", "srv-7")
    [event] = events(service, "deliver")
    assert (event.from_status, event.to_status, event.actor) == (S.PENDING, S.ACTIVE, admin_user)
    assert event.module_result["message"] == "installed"
    # What the panel said when it accepted the work is part of the delivery's record.
    assert event.changes["external_id"] == ["", "srv-7"]
    assert event.changes["status"] == [S.PENDING, S.ACTIVE]
    assert event.changes["delivery_attempts"] == [0, 1]


def test_an_install_that_fails_on_the_panel_is_recorded_and_released(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.PENDING)
    monkeypatch.setattr(
        f"{MODULE}.create", lambda self, svc: ModuleResult(external_id="srv-8", waiting=True)
    )

    def failed(self, svc, action):
        raise ModuleError("The install script failed.")

    monkeypatch.setattr(f"{MODULE}.follow", failed)
    lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert tasks.follow_operation(service.pk) == "failed: The install script failed."
    service.refresh_from_db()
    assert (service.status, service.operation) == (S.PENDING, "")
    assert service.last_delivery_error == "The install script failed."
    assert events(service, "deliver")[-1].error == "The install script failed."


def test_inside_a_callers_transaction_the_call_waits_for_the_commit(
    make_service, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    service = make_service(S.ACTIVE)
    calls = []
    monkeypatch.setattr(f"{MODULE}.suspend", lambda self, svc: calls.append(1) or ModuleResult())

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        outcome = suspend(service, admin_user)

    assert outcome.waiting
    assert calls == []
    assert len(callbacks) == 1
    service.refresh_from_db()
    assert (service.status, service.operation) == (S.ACTIVE, "suspend")
    tasks.continue_operation(service.pk, str(service.operation_token))
    service.refresh_from_db()
    assert (service.status, service.operation, calls) == (S.SUSPENDED, "", [1])


def test_sweeps_leave_a_service_with_an_operation_in_flight(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=timezone.now() - timedelta(hours=1))
    Service.objects.filter(pk=service.pk).update(
        operation="suspend", operation_state=OS.RETRYING, operation_started_at=timezone.now()
    )

    assert list(sweeps.expire_due(timezone.now())) == []
    assert sweeps.expire(timezone.now()).done == 0
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


def test_a_bulk_item_interrupted_after_it_was_applied_is_not_applied_again(
    make_service, admin_user
):
    service = make_service(S.ACTIVE)
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND, params={}, service_ids=[service.pk], created_by=admin_user
    )
    bulk.prepare(operation)
    item = operation.items.get()
    # The lost worker claimed the item and the suspension went through; then it died.
    BulkOperationItem.objects.filter(pk=item.pk).update(state=BulkItemState.RUNNING)
    lifecycle.perform(
        "suspend",
        service.pk,
        actor=admin_user,
        source=ADMIN,
        params={"reference": f"bulk-item:{item.pk}"},
    )

    tasks.run_bulk_operation(operation.pk)

    item.refresh_from_db()
    assert (item.state, item.attempts) == (BulkItemState.DONE, 1)
    assert len(events(service)) == 1


# Staff pages ---------------------------------------------------------------------------


@pytest.fixture
def retrying(make_service, admin_user):
    service = make_service(S.ACTIVE, fail_retryable="suspend")
    with pytest.raises(ModuleError):
        suspend(service, admin_user)
    return Service.objects.get(pk=service.pk)


def test_the_operations_page_lists_what_is_in_flight_with_its_next_try(
    client, admin_user, retrying, make_service
):
    failed = make_service(S.PENDING, last_delivery_error="No allocation left.")
    quiet = make_service(S.ACTIVE)
    client.force_login(admin_user)

    response = client.get(reverse("admin:service_operations"))

    assert [s.pk for s in response.context["services"]] == [retrying.pk, failed.pk]
    assert quiet.pk not in [s.pk for s in response.context["services"]]
    assert "Failed, will be retried" in response.text
    assert date_format(retrying.operation_due_at, "DATETIME_FORMAT") in response.text
    assert "No allocation left." in response.text
    detail = client.get(reverse("admin:service_detail", args=[retrying.pk]))
    assert 'id="operation-in-flight"' in detail.text
    assert "attempt 1 of 6" in detail.text


def test_retry_now_does_not_wait_for_the_next_try(client, admin_user, retrying):
    server = retrying.server
    server.credentials = {**server.credentials, "fail_retryable": ""}
    server.save()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:service_operation_retry", args=[retrying.pk]), {"back": "operations"}
    )

    assert response.url == reverse("admin:service_operations")
    retrying.refresh_from_db()
    assert (retrying.status, retrying.operation) == (S.SUSPENDED, "")


def test_giving_up_keeps_the_status_and_records_who(client, admin_user, retrying):
    client.force_login(admin_user)

    client.post(reverse("admin:service_operation_abandon", args=[retrying.pk]))

    retrying.refresh_from_db()
    assert (retrying.status, retrying.operation) == (S.ACTIVE, "")
    last = events(retrying)[-1]
    assert (last.actor, last.error) == (admin_user, "The suspend was given up by staff.")


def test_read_only_staff_see_the_page_but_cannot_retry(client, support_user, retrying):
    client.force_login(support_user)

    page = client.get(reverse("admin:service_operations"))
    refused = client.post(reverse("admin:service_operation_retry", args=[retrying.pk]))

    assert page.status_code == 200
    assert reverse("admin:service_operation_retry", args=[retrying.pk]) not in page.text
    assert refused.status_code == 403
    assert Service.objects.get(pk=retrying.pk).operation_attempts == 1


def test_the_customer_sees_the_operation_in_progress_on_their_service(client, customer, retrying):
    client.force_login(customer.user)

    response = client.get(reverse("client:service_detail", args=[retrying.pk]))

    assert 'id="operation-in-progress"' in response.text
    assert "suspend on the server, since" in response.text
    assert "refused to suspend" not in response.text  # the panel's error is for staff


def test_customers_never_reach_the_operations_pages(client, customer, retrying):
    client.force_login(customer.user)

    assert client.get(reverse("admin:service_operations")).status_code == 403
    client.post(reverse("admin:service_operation_abandon", args=[retrying.pk]))
    assert Service.objects.get(pk=retrying.pk).operation == "suspend"


# Bulk calls several at a time ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_calls_run_several_at_once_within_the_bound_per_server(
    make_service, admin_user, settings, monkeypatch
):
    import threading
    import time

    from tests.factories import FakeServerFactory

    settings.BULK_CALLS_PER_SERVER = 3
    servers = [FakeServerFactory(), FakeServerFactory()]
    services = [
        make_service(S.ACTIVE, server=servers[n % 2], external_id=f"res-{n}") for n in range(12)
    ]
    lock = threading.Lock()
    running: dict[int, int] = {server.pk: 0 for server in servers}
    peaks: dict[int, int] = {server.pk: 0 for server in servers}
    overall = {"now": 0, "peak": 0}

    def slow_suspend(self, svc):
        with lock:
            running[svc.server_id] += 1
            overall["now"] += 1
            peaks[svc.server_id] = max(peaks[svc.server_id], running[svc.server_id])
            overall["peak"] = max(overall["peak"], overall["now"])
        time.sleep(0.15)
        with lock:
            running[svc.server_id] -= 1
            overall["now"] -= 1
        return ModuleResult()

    monkeypatch.setattr(f"{MODULE}.suspend", slow_suspend)
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND,
        params={},
        service_ids=[s.pk for s in services],
        created_by=admin_user,
    )

    tasks.run_bulk_operation(operation.pk)

    assert peaks == {server.pk: 3 for server in servers}
    assert overall["peak"] == 6
    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert set(Service.objects.values_list("status", flat=True)) == {S.SUSPENDED}
    assert ServiceEvent.objects.filter(action="suspend", error="").count() == 12


def test_with_tasks_run_in_process_a_panel_still_working_is_asked_again_later_not_at_once(
    make_service, admin_user, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """``make run`` has no broker: eager Celery would ignore the countdown and ask the
    panel again and again at once; a timer thread asks it after the countdown instead."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OPERATION_FOLLOW_SECONDS = 10
    timers = []

    class FakeTimer:
        def __init__(self, interval, function, args):
            timers.append((interval, function, args))
            self.daemon = False

        def start(self):
            pass

    monkeypatch.setattr(lifecycle.threading, "Timer", FakeTimer)
    service = make_service(S.PENDING)
    monkeypatch.setattr(
        f"{MODULE}.create", lambda self, svc: ModuleResult(external_id="srv-9", waiting=True)
    )
    monkeypatch.setattr(f"{MODULE}.follow", lambda self, svc, action: ModuleResult(waiting=True))

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    [(interval, function, args)] = timers
    assert interval == 10
    assert args[1:] == (service.pk,)
    assert Service.objects.get(pk=service.pk).operation_state == OS.WAITING
