"""Beat's tick: due tasks queued once, at their interval or the daily hour; switches;
runs that did not finish; the heartbeat."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from automation import options, schedule
from automation.models import Heartbeat, RunState, TaskRun, TaskSchedule

from .conftest import DAILY, RENAMES

pytestmark = pytest.mark.usefixtures("fake_timeline")

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2027, 3, day, hour, minute, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"
    settings.AUTOMATION_DAILY_HOUR = 6


@pytest.mark.django_db
def test_a_tick_queues_each_due_task_once_and_a_second_tick_nothing(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as queued:
        first = schedule.tick(at(10, 9))
        second = schedule.tick(at(10, 9, 1))

    assert sorted(run.task for run in first) == ["tests.daily", "tests.renames"]
    assert second == []
    assert len(queued) == 2  # one message to the workers per run
    assert TaskRun.objects.filter(state=RunState.QUEUED).count() == 2


@pytest.mark.django_db
def test_an_interval_task_is_due_again_one_interval_later_a_daily_one_at_the_hour():
    schedule.tick(at(10, 9))
    TaskRun.objects.update(state=RunState.FINISHED)

    nexts = dict(TaskSchedule.objects.values_list("task", "next_run_at"))
    assert nexts[RENAMES.key] == at(10, 9, 5)
    assert nexts[DAILY.key] == at(11, 6)  # 09:00 is past today's 06:00: tomorrow's
    assert [run.task for run in schedule.tick(at(10, 9, 4))] == []
    assert [run.task for run in schedule.tick(at(10, 9, 5))] == [RENAMES.key]
    TaskRun.objects.update(state=RunState.FINISHED)
    assert [run.task for run in schedule.tick(at(11, 5, 59))] == [RENAMES.key]
    TaskRun.objects.update(state=RunState.FINISHED)
    assert [run.task for run in schedule.tick(at(11, 6))] == [DAILY.key]


@pytest.mark.django_db
def test_the_daily_work_runs_once_a_day_at_the_hour_staff_set():
    schedule.tick(at(10, 5))  # first tick ever: every task is due
    TaskRun.objects.update(state=RunState.FINISHED)
    assert TaskSchedule.objects.get(task=DAILY.key).next_run_at == at(10, 6)

    options.change(schedule.DAILY_HOUR, 9, actor=None)
    schedule.reschedule_daily(at(10, 5, 30))
    assert TaskSchedule.objects.get(task=DAILY.key).next_run_at == at(10, 9)

    daily_runs = []
    for hour in range(6, 24):
        daily_runs += [run for run in schedule.tick(at(10, hour)) if run.task == DAILY.key]
        TaskRun.objects.update(state=RunState.FINISHED)
    assert [run.queued_at.astimezone(PARIS).hour for run in daily_runs] == [9]


@pytest.mark.django_db
def test_a_task_switched_off_is_not_queued_and_runs_again_once_switched_on():
    options.change(RENAMES.enabled_option, False, actor=None)
    assert [run.task for run in schedule.tick(at(10, 9))] == [DAILY.key]

    options.change(RENAMES.enabled_option, True, actor=None)
    assert [run.task for run in schedule.tick(at(10, 9, 1))] == [RENAMES.key]


@pytest.mark.django_db
def test_a_run_still_at_work_is_not_queued_twice_until_its_worker_is_taken_for_dead():
    first = next(run for run in schedule.tick(at(10, 9)) if run.task == RENAMES.key)
    TaskRun.objects.filter(pk=first.pk).update(state=RunState.RUNNING)

    assert schedule.tick(at(10, 9, 10)) == []  # due, but its last run is running

    later = at(10, 9) + schedule.STALE_AFTER + dt.timedelta(minutes=1)
    TaskRun.objects.filter(pk=first.pk).update(queued_at=at(10, 9))
    again = [run.task for run in schedule.tick(later)]
    first.refresh_from_db()

    assert RENAMES.key in again
    assert first.state == RunState.CRASHED
    assert "worker stopped" in first.error


@pytest.mark.django_db
def test_the_tick_records_the_heartbeat_and_beat_is_late_after_two_intervals(settings):
    settings.AUTOMATION_TICK_SECONDS = 60
    assert schedule.pulse(at(10, 9)).late  # never ticked
    assert schedule.pulse(at(10, 9)).last_beat is None

    schedule.tick(at(10, 9))

    assert Heartbeat.objects.get().beat_at == at(10, 9)
    assert not schedule.pulse(at(10, 9, 2)).late
    assert schedule.pulse(at(10, 9, 2) + dt.timedelta(seconds=1)).late
