"""Bulk items whose module calls no panel, applied in batches (services.batches): the
queries of a batch, not of each item; a worker lost in the middle applies nothing."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from services import batches, bulk, notifications, tasks
from services.choices import BulkAction, BulkItemState, ServiceStatus
from services.models import BulkOperation, Service, ServiceEvent
from tests.fakes.modules import FakeModule

S = ServiceStatus


@pytest.fixture(autouse=True)
def in_place(monkeypatch):
    monkeypatch.setattr(FakeModule, "calls_panel", False)
    monkeypatch.setattr(notifications, "enqueue_many", lambda ids: None)


def operation_for(services, admin_user, action=BulkAction.SUSPEND) -> BulkOperation:
    return BulkOperation.objects.create(
        action=action, params={}, service_ids=[s.pk for s in services], created_by=admin_user
    )


def test_a_bulk_suspend_asks_the_same_queries_for_5_services_as_for_40(
    make_service, admin_user, django_assert_max_num_queries
):
    counts = []
    for size in (5, 40):
        operation = operation_for([make_service(S.ACTIVE) for _ in range(size)], admin_user)
        with django_assert_max_num_queries(100) as context:
            tasks.run_bulk_operation(operation.pk)
        counts.append(len(context.captured_queries))
        assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert counts[0] == counts[1]
    assert Service.objects.filter(status=S.SUSPENDED).count() == 45


def test_each_item_is_recorded_once_with_its_reference(make_service, admin_user):
    services = [make_service(S.ACTIVE) for _ in range(3)]
    operation = operation_for(services, admin_user)

    tasks.run_bulk_operation(operation.pk)
    tasks.run_bulk_operation(operation.pk)  # the task ran twice

    items = {item.service_ref: item for item in operation.items.all()}
    for service in services:
        [event] = ServiceEvent.objects.filter(service=service, action="suspend")
        assert event.reference == f"bulk-item:{items[service.pk].pk}"
        assert items[service.pk].attempts == 1


def test_a_worker_lost_in_the_middle_of_a_batch_applies_nothing_of_it(
    make_service, admin_user, monkeypatch
):
    services = [make_service(S.ACTIVE) for _ in range(3)]
    operation = operation_for(services, admin_user)
    flush = batches.Batch.flush

    def lost(batch):
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(batches.Batch, "flush", lost)
    with pytest.raises(SystemExit):
        tasks.run_bulk_operation(operation.pk)

    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.PENDING}
    assert not Service.objects.filter(status=S.SUSPENDED).exists()
    assert not ServiceEvent.objects.filter(action="suspend").exists()

    monkeypatch.setattr(batches.Batch, "flush", flush)
    tasks.run_bulk_operation(operation.pk)

    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert ServiceEvent.objects.filter(action="suspend").count() == 3


def test_actions_that_write_more_than_the_service_go_one_item_at_a_time(
    make_service, admin_user, monkeypatch
):
    batched: list[list[int]] = []
    monkeypatch.setattr(bulk, "_run_in_place", lambda op, ids: batched.append(ids) or [])
    renewed = operation_for([make_service(S.ACTIVE)], admin_user, BulkAction.RENEW)
    suspended = operation_for([make_service(S.ACTIVE)], admin_user)

    tasks.run_bulk_operation(renewed.pk)
    tasks.run_bulk_operation(suspended.pk)

    assert batched == [[suspended.items.get().pk]]
    assert renewed.items.get().state == BulkItemState.DONE


def test_a_batch_whose_writes_fail_is_run_again_one_item_at_a_time(
    make_service, admin_user, monkeypatch
):
    services = [make_service(S.ACTIVE) for _ in range(3)]
    operation = operation_for(services, admin_user)

    def deadlock(batch):
        raise DatabaseError("deadlock detected")

    monkeypatch.setattr(batches.Batch, "flush", deadlock)
    tasks.run_bulk_operation(operation.pk)

    assert set(operation.items.values_list("state", flat=True)) == {BulkItemState.DONE}
    assert Service.objects.filter(status=S.SUSPENDED).count() == 3
    assert ServiceEvent.objects.filter(action="suspend").count() == 3
