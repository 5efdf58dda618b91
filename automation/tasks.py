"""Celery tasks of the automation: beat's tick, and one run of a periodic task."""

from __future__ import annotations

from celery import shared_task

from . import runner, schedule


@shared_task
def tick() -> list[int]:
    """Celery beat's one entry: the heartbeat, and the due tasks queued (their run ids)."""
    return [run.pk for run in schedule.tick()]


@shared_task
def run_task(run_id: int) -> str:
    """Carry out one queued run of a periodic task."""
    return runner.execute(run_id).state
