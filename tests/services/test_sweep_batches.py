"""The sweeps in batches (services.batches): services whose module calls no panel are
locked, changed and written together, with the same outcome as one by one: each applied
once, audited, its customer notified, a failure isolated; queries per batch, not per
service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from services import batches, lifecycle, notifications, sweeps
from services.choices import ServiceStatus
from services.lifecycle import LifecycleError
from services.models import Service, ServiceEvent
from tests.at_once import run_at_once
from tests.fakes.modules import FakeModule

S = ServiceStatus


def ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def in_place(monkeypatch):
    """The test module made in place, as ``manual`` is: its services go in batches."""
    monkeypatch.setattr(FakeModule, "calls_panel", False)


@pytest.fixture
def queued(monkeypatch):
    """The e-mails queued by the batches: a list per push to the queue."""
    pushes: list[list[int]] = []
    monkeypatch.setattr(notifications, "enqueue_many", pushes.append)
    return pushes


def test_each_due_service_is_expired_once_with_its_history_and_email(
    in_place, make_service, queued, django_capture_on_commit_callbacks
):
    due = [make_service(S.ACTIVE, expires_at=ago(1)) for _ in range(3)]
    later = make_service(S.ACTIVE, expires_at=ago(-5))

    with django_capture_on_commit_callbacks(execute=True):
        result = sweeps.expire(timezone.now())

    assert result.counts() == {"done": 3, "skipped": 0, "failed": 0}
    assert set(Service.objects.filter(status=S.EXPIRED).values_list("pk", flat=True)) == {
        s.pk for s in due
    }
    assert Service.objects.get(pk=later.pk).status == S.ACTIVE
    events = ServiceEvent.objects.filter(action="expire", error="")
    assert sorted(events.values_list("service_id", flat=True)) == sorted(s.pk for s in due)
    assert {(e.from_status, e.to_status, e.source) for e in events} == {
        (S.ACTIVE, S.EXPIRED, "automation")
    }
    # One push for the three e-mails, after the commit, naming each event once.
    assert [sorted(push) for push in queued] == [sorted(events.values_list("pk", flat=True))]
    assert sweeps.expire(timezone.now()).counts() == {"done": 0, "skipped": 0, "failed": 0}


def test_terminations_and_cancellations_write_their_dates_together(in_place, make_service, queued):
    old = make_service(S.EXPIRED, expires_at=ago(400))
    ending = make_service(S.ACTIVE, expires_at=ago(1))
    Service.objects.filter(pk=ending.pk).update(cancel_at=ago(1), cancel_reason="Moving out")

    assert sweeps.terminate(timezone.now()).counts()["done"] == 1
    assert sweeps.cancel_scheduled(timezone.now()).counts()["done"] == 1

    old.refresh_from_db()
    ending.refresh_from_db()
    assert (old.status, ending.status) == (S.TERMINATED, S.CANCELLED)
    assert old.terminated_at is not None
    assert ending.cancelled_at is not None
    assert (ending.cancel_at, ending.cancel_reason) == (None, "Moving out")
    assert old.updated_at > old.created_at


def count_queries(django_assert_max_num_queries, run) -> int:
    with django_assert_max_num_queries(100) as context:
        run()
    return len(context.captured_queries)


def test_a_batch_costs_the_same_queries_for_5_services_as_for_40(
    in_place, make_service, queued, django_assert_max_num_queries
):
    counts = []
    for size in (5, 40):
        for _ in range(size):
            make_service(S.ACTIVE, expires_at=ago(1))
        counts.append(
            count_queries(django_assert_max_num_queries, lambda: sweeps.expire(timezone.now()))
        )
    assert Service.objects.filter(status=S.EXPIRED).count() == 45
    assert counts[0] == counts[1]
    # The due keys, the lock, the customers and servers (one query each), one UPDATE, the
    # history's keys and its one INSERT (+ savepoint bookkeeping).
    assert counts[0] <= 10


def test_a_module_failure_fails_that_service_and_the_batch_goes_on(
    in_place, make_service, queued, caplog
):
    broken = make_service(S.ACTIVE, expires_at=ago(1), fail="suspend")
    fine = [make_service(S.ACTIVE, expires_at=ago(1)) for _ in range(2)]

    result = sweeps.expire(timezone.now())

    assert result.done == 2
    assert result.failed == [(broken.pk, "The test panel refused to suspend.")]
    # Logged as the one-by-one path logs it, for whoever reads the worker's log.
    assert f"Service {broken.pk} could not be handled" in caplog.text
    broken.refresh_from_db()
    assert broken.status == S.ACTIVE
    assert broken.last_delivery_error == "The test panel refused to suspend."
    assert ServiceEvent.objects.get(service=broken).error == "The test panel refused to suspend."
    assert {Service.objects.get(pk=s.pk).status for s in fine} == {S.EXPIRED}


def test_a_refusal_fails_that_service_and_leaves_the_others_writes(
    in_place, make_service, queued, monkeypatch
):
    refused = make_service(S.ACTIVE, expires_at=ago(1))
    fine = make_service(S.ACTIVE, expires_at=ago(1))
    expire = lifecycle.expire

    def refuse_one(pk, **kwargs):
        if pk == refused.pk:
            raise LifecycleError("Cannot expire this one.")
        return expire(pk, **kwargs)

    monkeypatch.setattr(lifecycle, "expire", refuse_one)

    result = sweeps.expire(timezone.now())

    assert (result.done, result.failed) == (1, [(refused.pk, "Cannot expire this one.")])
    assert Service.objects.get(pk=refused.pk).status == S.ACTIVE
    assert Service.objects.get(pk=fine.pk).status == S.EXPIRED
    assert not ServiceEvent.objects.filter(service=refused).exists()


def test_a_batch_whose_writes_fail_is_run_again_one_by_one(
    in_place, make_service, queued, monkeypatch
):
    services = [make_service(S.ACTIVE, expires_at=ago(1)) for _ in range(3)]
    flush = batches.Batch.flush
    failures = []

    def fail_once(batch):
        if not failures:
            failures.append(batch)
            raise DatabaseError("deadlock detected")
        flush(batch)

    monkeypatch.setattr(batches.Batch, "flush", fail_once)

    result = sweeps.expire(timezone.now())

    assert failures, "the batch's writes were never tried"
    assert result.counts() == {"done": 3, "skipped": 0, "failed": 0}
    assert {Service.objects.get(pk=s.pk).status for s in services} == {S.EXPIRED}
    # Applied once: the failed batch left nothing behind.
    assert ServiceEvent.objects.filter(action="expire").count() == 3


def test_services_on_a_panel_still_go_one_by_one_beside_the_batch(
    make_service, queued, monkeypatch
):
    on_a_panel = make_service(S.ACTIVE, expires_at=ago(1))
    in_batch = make_service(S.ACTIVE, expires_at=ago(1), module="manual", server=None)
    batched: list[list[int]] = []
    run_batch = batches._run_batch

    def spy(due, handle, size, result, expected):
        batched.append(sorted(due.values_list("pk", flat=True)))
        run_batch(due, handle, size, result, expected)

    monkeypatch.setattr(batches, "_run_batch", spy)

    result = sweeps.expire(timezone.now())

    assert result.counts() == {"done": 2, "skipped": 0, "failed": 0}
    assert batched == [[in_batch.pk]]
    assert {Service.objects.get(pk=s.pk).status for s in (on_a_panel, in_batch)} == {S.EXPIRED}


def test_a_batch_writes_each_row_its_own_values(make_service):
    """``update_rows``: one statement, each row its own values, NULL where every row has
    NULL, dates to the microsecond."""
    first, second = make_service(S.ACTIVE), make_service(S.SUSPENDED)
    first.status, second.status = S.SUSPENDED, S.ACTIVE
    first.suspended_at, second.suspended_at = ago(1).replace(microsecond=123456), None
    first.suspend_reason, second.suspend_reason = "Unpaid", ""
    first.cancel_at = second.cancel_at = None

    batches.update_rows([first, second], ["status", "suspended_at", "suspend_reason", "cancel_at"])

    for expected in (first, second):
        stored = Service.objects.get(pk=expected.pk)
        assert (stored.status, stored.suspended_at, stored.suspend_reason, stored.cancel_at) == (
            expected.status,
            expected.suspended_at,
            expected.suspend_reason,
            None,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_expire_each_service_once(in_place, make_service, queued, monkeypatch):
    """Two workers run the same sweep at the same moment: the batches' SKIP LOCKED and the
    due condition asked again under the lock share the services out, none twice."""
    services = [make_service(S.ACTIVE, expires_at=ago(1)) for _ in range(60)]
    monkeypatch.setattr(batches, "BATCH_SIZE", 7)  # many batches, so that the two interleave
    results = run_at_once(lambda: sweeps.expire(timezone.now()))

    assert all(not isinstance(result, BaseException) for result in results), results
    assert sum(result.done for result in results) == 60
    assert all(not result.failed for result in results)
    assert Service.objects.filter(status=S.EXPIRED).count() == len(services)
    assert ServiceEvent.objects.filter(action="expire").count() == 60
