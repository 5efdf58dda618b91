"""Beat's tick: which periodic tasks are due, each queued once (DESIGN.md, "Background work").

Beat runs one task, ``automation.tasks.tick``, every ``AUTOMATION_TICK_SECONDS``; the tick
records the heartbeat that the dashboard watches and queues every enabled task whose time
has come, as a ``TaskRun`` handed to a worker. So the schedule follows the settings staff
change in the panel (a task switched off, the hour of the daily work) without restarting
beat, and two ticks at once (two beats by mistake, a tick retried) queue a task once: its
schedule row is claimed with ``skip_locked`` and moved on in the same transaction.

A task whose previous run is still queued or running is not queued again (a slow run
does not pile up copies of itself) until that run is ``STALE_AFTER`` old: then its worker
is taken for dead, the run marked crashed, and the task queued again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import options, registry
from .models import Heartbeat, RunState, RunTrigger, TaskRun, TaskSchedule

logger = logging.getLogger(__name__)
DAILY_HOUR = "automation.daily_hour"
#: A run still queued or running after this long belonged to a worker that died.
STALE_AFTER = dt.timedelta(hours=2)


def tick_interval() -> dt.timedelta:
    return dt.timedelta(seconds=settings.AUTOMATION_TICK_SECONDS)


def daily_hour() -> int:
    return int(options.get(DAILY_HOUR))


def next_run(task: registry.PeriodicTask, after: dt.datetime) -> dt.datetime:
    """When ``task`` is due after ``after``: one interval later, or the next daily hour."""
    if task.every is not None:
        return after + task.every
    local = timezone.localtime(after)
    zone = local.tzinfo
    day = local.date()
    moment = dt.datetime.combine(day, dt.time(daily_hour()), tzinfo=zone)
    if moment <= local:
        moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(daily_hour()), tzinfo=zone)
    return moment


def beat(now: dt.datetime) -> None:
    """Record that the tick ran."""
    Heartbeat.objects.update_or_create(pk=1, defaults={"beat_at": now})


@dataclass(frozen=True)
class Pulse:
    """Beat's heartbeat as the pages show it: when it last ticked, and whether that is
    longer ago than twice its interval (or never), which means beat or every worker is
    down."""

    last_beat: dt.datetime | None
    late: bool
    tick_seconds: int


def pulse(now: dt.datetime | None = None) -> Pulse:
    last = Heartbeat.objects.filter(pk=1).values_list("beat_at", flat=True).first()
    now = now or timezone.now()
    return Pulse(
        last_beat=last,
        late=last is None or now - last > 2 * tick_interval(),
        tick_seconds=int(tick_interval().total_seconds()),
    )


def tick(now: dt.datetime | None = None) -> list[TaskRun]:
    """Record the heartbeat and queue every enabled task that is due; the runs queued."""
    now = now or timezone.now()
    beat(now)
    queued = []
    for task in registry.tasks():
        if not registry.enabled(task):
            continue
        TaskSchedule.objects.get_or_create(task=task.key)
        run = _queue_if_due(task, now)
        if run is not None:
            queued.append(run)
    return queued


def _queue_if_due(task: registry.PeriodicTask, now: dt.datetime) -> TaskRun | None:
    from .tasks import run_task

    with transaction.atomic():
        schedule = (
            TaskSchedule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("last_run")
            .filter(task=task.key)
            .first()
        )
        if schedule is None:
            return None  # another tick is queueing it
        if schedule.next_run_at is not None and schedule.next_run_at > now:
            return None
        previous = schedule.last_run
        if previous is not None and previous.state in (RunState.QUEUED, RunState.RUNNING):
            if now - previous.queued_at < STALE_AFTER:
                return None  # still at work: not queued twice
            previous.state = RunState.CRASHED
            previous.finished_at = now
            previous.error = "Its worker stopped before it finished; the task was queued again."
            previous.save(update_fields=["state", "finished_at", "error"])
            logger.warning("%s: run %s taken for dead", task.key, previous.pk)
        run = TaskRun.objects.create(task=task.key, trigger=RunTrigger.SCHEDULE, queued_at=now)
        schedule.last_run = run
        schedule.next_run_at = next_run(task, now)
        schedule.save(update_fields=["last_run", "next_run_at"])
        transaction.on_commit(lambda: run_task.delay(run.pk))
    return run


def reschedule_daily(now: dt.datetime | None = None) -> None:
    """Move the daily tasks' next run to the daily hour (staff changed it)."""
    now = now or timezone.now()
    for task in registry.tasks():
        if task.daily:
            TaskSchedule.objects.filter(task=task.key, next_run_at__isnull=False).update(
                next_run_at=next_run(task, now)
            )
