"""Celery tasks of the delivery app."""

from __future__ import annotations

from celery import shared_task

from . import calllog


@shared_task
def prune_module_calls() -> int:
    """Celery beat's daily clean-up: the module calls older than DELIVERY_CALL_LOG_DAYS."""
    return calllog.prune()
