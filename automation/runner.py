"""Running one periodic task and recording the run: counts, duration, failures.

A run is a ``TaskRun`` row, made queued by the tick (or by staff, or the command) and
started here only from queued, so a message delivered twice by the broker runs once. The
task's own failures (a service whose module raised) are counted and listed with their
reasons and links, the first ``FAILURES_KEPT`` of them; the others went on. An error that
stops the whole task marks the run crashed with its message, redacted like the logs.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from clientxcms.redaction import redact

from . import registry
from .models import RunState, RunTrigger, TaskRun

logger = logging.getLogger(__name__)
#: Failures listed on a run's page; the count includes every one.
FAILURES_KEPT = 100


def execute(run_id: int) -> TaskRun:
    """Carry out the queued run ``run_id``; a run already started is left as it is."""
    started = timezone.now()
    if not TaskRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=started
    ):
        return TaskRun.objects.get(pk=run_id)
    run = TaskRun.objects.get(pk=run_id)
    task = registry.find(run.task)
    try:
        result = task.run(started)
    except Exception as exc:
        logger.exception("periodic task %s crashed", task.key)
        run.state = RunState.CRASHED
        run.error = redact(f"{type(exc).__name__}: {exc}")
    else:
        run.state = RunState.FINISHED
        run.done = result.done
        run.skipped = result.skipped
        run.failed = len(result.failed)
        run.failures = [
            {
                "pk": pk,
                "message": redact(message),
                "link": task.link(pk) if task.link is not None else "",
            }
            for pk, message in result.failed[:FAILURES_KEPT]
        ]
    run.finished_at = timezone.now()
    run.save()
    return run


def run_now(key: str, *, trigger: str = RunTrigger.COMMAND) -> TaskRun:
    """Run task ``key`` here and now, recorded like a scheduled run."""
    registry.find(key)
    run = TaskRun.objects.create(task=key, trigger=trigger)
    return execute(run.pk)


def queue(key: str, *, trigger: str = RunTrigger.STAFF) -> TaskRun:
    """Queue task ``key`` for a worker (staff's "Run now")."""
    from .tasks import run_task

    registry.find(key)
    run = TaskRun.objects.create(task=key, trigger=trigger)
    transaction.on_commit(lambda: run_task.delay(run.pk))
    return run
