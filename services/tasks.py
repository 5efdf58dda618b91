"""Celery tasks of the services app. Tasks take ids, load rows, and call the lifecycle."""

from __future__ import annotations

from celery import shared_task

from . import bulk, notifications, sweeps


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_service_notification(event_id: int) -> bool:
    """E-mail the customer about one ServiceEvent; retried when the mail server is away."""
    return notifications.send(event_id)


@shared_task(acks_late=True)
def run_bulk_operation(operation_id: int) -> None:
    """Process one BulkOperation; safe to run again (each item is claimed once)."""
    bulk.process(operation_id)


@shared_task
def run_sweeps() -> dict[str, int]:
    """Celery beat's periodic sweep: services changed by each sweep."""
    return {name: result.done for name, result in sweeps.run_all().items()}
