"""Bulk operations run by their task function: done, skipped and failed items, retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from services import bulk, tasks
from services.choices import BulkAction, BulkItemState, BulkStatus, CancelWhen, ServiceStatus
from services.models import BulkOperation, Service, ServiceEvent
from tests.fakes.modules import FakeModule

S = ServiceStatus


@pytest.fixture(autouse=True, params=["one by one", "in batches"])
def module_calls(request, monkeypatch):
    """Every test twice: with the test module calling its panel (items one by one), and
    made in place as ``manual`` is (items in batches, services.batches)."""
    if request.param == "in batches":
        monkeypatch.setattr(FakeModule, "calls_panel", False)
    return request.param


def run(action, services, admin_user, **params):
    operation = BulkOperation.objects.create(
        action=action, params=params, service_ids=[s.pk for s in services], created_by=admin_user
    )
    tasks.run_bulk_operation(operation.pk)
    operation.refresh_from_db()
    return operation


def outcomes(operation):
    return {item.service_ref: (item.state, item.message) for item in operation.items.all()}


def test_a_bulk_suspend_reports_done_skipped_and_failed_items(make_service, admin_user):
    active = make_service(S.ACTIVE)
    already = make_service(S.SUSPENDED)
    pending = make_service(S.PENDING)
    broken = make_service(S.ACTIVE, fail="suspend")

    operation = run(
        BulkAction.SUSPEND, [active, already, pending, broken], admin_user, reason="unpaid"
    )

    assert operation.status == BulkStatus.DONE
    assert operation.finished_at is not None
    assert outcomes(operation) == {
        active.pk: (BulkItemState.DONE, ""),
        already.pk: (BulkItemState.SKIPPED, "it is already suspended"),
        pending.pk: (BulkItemState.SKIPPED, "it is pending"),
        broken.pk: (BulkItemState.FAILED, "The test panel refused to suspend."),
    }
    statuses = dict(Service.objects.values_list("pk", "status"))
    assert statuses[active.pk] == S.SUSPENDED
    assert statuses[broken.pk] == S.ACTIVE
    assert ServiceEvent.objects.get(service=active).reason == "unpaid"
    assert bulk.progress(operation) == {
        "pending": 0,
        "running": 0,
        "done": 1,
        "skipped": 2,
        "failed": 1,
        "total": 4,
        "finished": 4,
        "percent": 100,
    }


@pytest.mark.parametrize(
    ("action", "params", "status", "check"),
    [
        (BulkAction.UNSUSPEND, {}, S.SUSPENDED, lambda s: s.status == S.ACTIVE),
        (BulkAction.CANCEL, {"when": CancelWhen.NOW}, S.ACTIVE, lambda s: s.status == S.CANCELLED),
        (
            BulkAction.CANCEL,
            {"when": CancelWhen.END_OF_PERIOD},
            S.ACTIVE,
            lambda s: s.cancel_at is not None,
        ),
        (BulkAction.TERMINATE, {}, S.SUSPENDED, lambda s: s.status == S.TERMINATED),
        (BulkAction.RENEW, {"cycles": 2}, S.ACTIVE, lambda s: s.renewal_count == 2),
        (
            BulkAction.ADD_DAYS,
            {"days": 10},
            S.ACTIVE,
            lambda s: s.expires_at.date() == (timezone.now() + timedelta(days=40)).date(),
        ),
        (
            BulkAction.SUBTRACT_DAYS,
            {"days": 10},
            S.ACTIVE,
            lambda s: s.expires_at.date() == (timezone.now() + timedelta(days=20)).date(),
        ),
    ],
)
def test_each_bulk_action_goes_through_the_lifecycle(
    action, params, status, check, make_service, admin_user
):
    service = make_service(status)

    operation = run(action, [service], admin_user, **params)

    assert outcomes(operation) == {service.pk: (BulkItemState.DONE, "")}
    service.refresh_from_db()
    assert check(service)
    assert ServiceEvent.objects.filter(service=service, actor=admin_user).count() == 1


def test_a_bulk_delete_removes_only_what_is_gone_from_the_server(make_service, admin_user):
    gone = make_service(S.TERMINATED)
    live = make_service(S.ACTIVE)

    operation = run(BulkAction.DELETE, [gone, live], admin_user)

    assert outcomes(operation) == {
        gone.pk: (BulkItemState.DONE, ""),
        live.pk: (
            BulkItemState.SKIPPED,
            "it is active and its resource is still on the server: terminate or cancel it first",
        ),
    }
    assert list(Service.objects.values_list("pk", flat=True)) == [live.pk]


def test_a_bulk_renew_skips_services_at_their_maximum(make_service, admin_user):
    capped = make_service(S.ACTIVE, max_renewals=1, renewal_count=1)
    one_time = make_service(S.ACTIVE, billing_cycle="onetime", expires_at=None)

    operation = run(BulkAction.RENEW, [capped, one_time], admin_user, cycles=1)

    assert outcomes(operation) == {
        capped.pk: (BulkItemState.SKIPPED, "its maximum number of renewals would be passed"),
        one_time.pk: (BulkItemState.SKIPPED, "it is a one-time service and never expires"),
    }


def test_retrying_runs_only_the_failed_items_again(make_service, admin_user):
    fine = make_service(S.ACTIVE)
    broken = make_service(S.ACTIVE, fail="suspend")
    operation = run(BulkAction.SUSPEND, [fine, broken], admin_user)
    broken.server.credentials = {"api_key": "k", "fail": ""}
    broken.server.save()

    assert bulk.retry_failed(operation) == 1
    tasks.run_bulk_operation(operation.pk)

    assert outcomes(operation) == {
        fine.pk: (BulkItemState.DONE, ""),
        broken.pk: (BulkItemState.DONE, ""),
    }
    items = {item.service_ref: item.attempts for item in operation.items.all()}
    assert items == {fine.pk: 1, broken.pk: 2}
    assert ServiceEvent.objects.filter(service=fine).count() == 1


def test_a_task_run_twice_never_applies_an_item_twice(make_service, admin_user):
    service = make_service(S.ACTIVE)
    operation = run(BulkAction.RENEW, [service], admin_user, cycles=1)

    BulkOperation.objects.filter(pk=operation.pk).update(status=BulkStatus.RUNNING)
    tasks.run_bulk_operation(operation.pk)

    service.refresh_from_db()
    assert service.renewal_count == 1
    assert operation.items.count() == 1


def test_preparing_twice_writes_each_item_once_with_its_reason(make_service, admin_user):
    """The items are written by one INSERT … SELECT; run again (a retried task that
    died before ``prepared`` was saved), the unique constraint keeps one per service."""
    active, already = make_service(S.ACTIVE), make_service(S.SUSPENDED, name="a <b>")
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND, service_ids=[active.pk, already.pk], created_by=admin_user
    )

    bulk.prepare(operation)
    bulk.prepare(operation)

    items = {item.service_ref: item for item in operation.items.all()}
    assert {pk: (item.state, item.message) for pk, item in items.items()} == {
        active.pk: (BulkItemState.PENDING, ""),
        already.pk: (BulkItemState.SKIPPED, "it is already suspended"),
    }
    assert (items[already.pk].service_id, items[already.pk].service_name) == (already.pk, "a <b>")
    assert {item.attempts for item in items.values()} == {0}
    assert BulkOperation.objects.get(pk=operation.pk).prepared


def test_a_task_that_died_midway_resumes_with_the_untouched_items(make_service, admin_user):
    first, second = make_service(S.ACTIVE), make_service(S.ACTIVE)
    operation = BulkOperation.objects.create(
        action=BulkAction.RENEW,
        params={"cycles": 1},
        service_ids=[first.pk, second.pk],
        created_by=admin_user,
    )
    bulk.prepare(operation)
    operation.refresh_from_db()
    bulk.run_item(operation, operation.items.get(service_ref=first.pk).pk)
    BulkOperation.objects.filter(pk=operation.pk).update(status=BulkStatus.RUNNING)

    tasks.run_bulk_operation(operation.pk)

    assert sorted(Service.objects.values_list("renewal_count", flat=True)) == [1, 1]
    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}


def test_a_finished_operation_is_not_run_again(make_service, admin_user):
    service = make_service(S.ACTIVE)
    operation = run(BulkAction.RENEW, [service], admin_user, cycles=1)

    tasks.run_bulk_operation(operation.pk)

    service.refresh_from_db()
    assert service.renewal_count == 1


def test_a_service_deleted_after_the_confirmation_is_skipped(make_service, admin_user):
    service = make_service(S.TERMINATED)
    operation = BulkOperation.objects.create(
        action=BulkAction.DELETE, service_ids=[service.pk], created_by=admin_user
    )
    bulk.prepare(operation)
    Service.objects.filter(pk=service.pk).delete()

    tasks.run_bulk_operation(operation.pk)

    assert outcomes(operation) == {
        service.pk: (BulkItemState.SKIPPED, "the service no longer exists")
    }


def test_the_plan_counts_changes_and_skips_in_one_query(
    make_service, admin_user, django_assert_num_queries
):
    services = [
        make_service(S.ACTIVE),
        make_service(S.ACTIVE),
        make_service(S.SUSPENDED),
        make_service(S.PENDING),
    ]
    selection = Service.objects.filter(pk__in=[s.pk for s in services])

    with django_assert_num_queries(1):
        plan = bulk.plan(selection, BulkAction.SUSPEND, {})

    assert (plan.total, plan.changing, plan.skipping) == (4, 2, 2)
    assert sorted(plan.skipped) == [("it is already suspended", 1), ("it is pending", 1)]


def test_every_matching_service_is_found_again_by_the_filters_on_the_server(
    make_service, admin_user
):
    suspended = [make_service(S.SUSPENDED), make_service(S.SUSPENDED)]
    active = make_service(S.ACTIVE)
    operation = BulkOperation.objects.create(
        action=BulkAction.UNSUSPEND, query="status=suspended", created_by=admin_user
    )

    tasks.run_bulk_operation(operation.pk)

    assert outcomes(operation) == {s.pk: (BulkItemState.DONE, "") for s in suspended}
    active.refresh_from_db()
    assert active.status == S.ACTIVE
    assert Service.objects.filter(status=S.SUSPENDED).count() == 0


def test_filters_that_no_longer_validate_end_the_operation_with_the_reason(
    make_service, admin_user
):
    make_service(S.ACTIVE)
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND, query="product=999999", created_by=admin_user
    )

    tasks.run_bulk_operation(operation.pk)

    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert "product" in operation.error
    assert not operation.items.exists()
    assert not Service.objects.filter(status=S.SUSPENDED).exists()
