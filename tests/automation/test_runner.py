"""One run of a periodic task: counts, failures with reasons and links, a crash, and a run
delivered twice by the broker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from automation import runner
from automation.models import RunState, RunTrigger, TaskRun
from automation.tasks import run_task
from services.models import Service
from tests.factories import ServiceFactory

from .conftest import DAILY, RENAMES

pytestmark = pytest.mark.usefixtures("fake_timeline")


def past() -> dt.datetime:
    return timezone.now() - dt.timedelta(days=1)


@pytest.mark.django_db
def test_a_run_records_what_it_did_and_lists_its_failures_with_their_reasons():
    ServiceFactory.create_batch(3, name="due one", expires_at=past())
    boom = ServiceFactory(name="due boom", expires_at=past())
    ServiceFactory(name="due later", expires_at=timezone.now() + dt.timedelta(days=1))

    run = runner.run_now(RENAMES.key)

    assert run.state == RunState.FINISHED
    assert (run.done, run.skipped, run.failed) == (3, 0, 1)
    assert run.duration is not None
    assert run.duration >= 0
    [failure] = run.failures
    assert failure["pk"] == boom.pk
    assert failure["link"] == f"/admin/services/{boom.pk}/"
    assert "refused" in failure["message"]
    assert "hunter2" not in failure["message"]  # redacted like the logs
    # The failing service did not stop or undo the others.
    assert Service.objects.filter(name="done due one").count() == 3
    assert Service.objects.filter(name="due boom").exists()


@pytest.mark.django_db
def test_a_second_run_finds_nothing_to_do():
    ServiceFactory.create_batch(2, name="due one", expires_at=past())
    runner.run_now(RENAMES.key)

    again = runner.run_now(RENAMES.key)

    assert (again.done, again.skipped, again.failed) == (0, 0, 0)


@pytest.mark.django_db
def test_a_task_that_stops_is_recorded_as_crashed_with_its_error_redacted():
    run = runner.run_now(DAILY.key)

    assert run.state == RunState.CRASHED
    assert run.error.startswith("RuntimeError: database gone")
    assert "abc123" not in run.error
    assert run.finished_at is not None


@pytest.mark.django_db
def test_a_run_delivered_twice_by_the_broker_runs_once():
    ServiceFactory(name="due one", expires_at=past())
    run = TaskRun.objects.create(task=RENAMES.key, trigger=RunTrigger.SCHEDULE)

    assert run_task(run.pk) == RunState.FINISHED
    assert run_task(run.pk) == RunState.FINISHED

    run.refresh_from_db()
    assert run.done == 1
    assert Service.objects.filter(name="done due one").count() == 1
    assert Service.objects.filter(name="done done due one").count() == 0


@pytest.mark.django_db
def test_queueing_a_run_hands_it_to_a_worker_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        run = runner.queue(RENAMES.key)

    assert run.state == RunState.QUEUED
    assert run.trigger == RunTrigger.STAFF
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_runs_past_their_keeping_are_deleted_by_the_daily_clean_up(settings):
    from automation import housekeeping

    settings.AUTOMATION_RUN_DAYS = 30
    now = timezone.now()
    old = TaskRun.objects.create(
        task="x", trigger=RunTrigger.SCHEDULE, queued_at=now - dt.timedelta(days=31)
    )
    kept = TaskRun.objects.create(
        task="x", trigger=RunTrigger.SCHEDULE, queued_at=now - dt.timedelta(days=29)
    )

    assert list(housekeeping.old_runs(now)) == [old]
    assert housekeeping.prune_runs(now).done == 1
    assert list(TaskRun.objects.all()) == [kept]
