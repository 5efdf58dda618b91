"""Celery tasks of the services app. Tasks take ids, load rows, and call the lifecycle."""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task

from customers.mail import send_each
from delivery.modules.base import ModuleError

from . import bulk, delivery, lifecycle, notices, notifications
from .lifecycle import LifecycleError


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_service_notification(event_id: int) -> bool:
    """E-mail the customer about one ServiceEvent; retried when the mail server is away."""
    return notifications.send(event_id)


@shared_task
def send_service_notifications(event_ids: list[int]) -> int:
    """E-mail the customers about several events (a batch's); how many were sent.

    Each is sent once, as by ``send_service_notification``; one the mail server refuses
    is queued on its own, with that task's retries, and the others go on.
    """
    return send_each(event_ids, notifications.send, send_service_notification.delay)


@shared_task
def send_expiry_notices(claimed_at: str, claims: list[tuple[int, int]]) -> int:
    """E-mail the expiry notices a sweep claimed at ``claimed_at`` (ISO 8601), (e-mail log
    row, service) pairs; how many were sent (``services.notices.send_claimed``).

    Safe to run again: each notice is taken by a compare-and-set before it is sent. One
    the mail server refuses is logged failed, and the next sweep claims it again.
    """
    moment = dt.datetime.fromisoformat(claimed_at)
    return notices.send_claimed(moment, [(log_id, service_id) for log_id, service_id in claims])


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_bulk_operation(self: Task, operation_id: int, part: int | None = None) -> None:
    """Process one BulkOperation; safe to run again (each item is claimed once).

    A large one is spread: this task queues its other parts (``part`` 1, 2, ...) on the
    queue it came from, each a task of its own run by another worker process
    (``bulk.planned_parts``). Not in the embedded mode, where they would only run one
    after the other.

    Acknowledged only when it ends, and put back in the queue when its worker process dies,
    whatever the global settings say: a lost bulk must run again. A worker killed outright
    cannot put it back; the stall check (``services.automation``) catches that case.
    """
    if part is not None:
        bulk.run_part(operation_id, part)
        return
    queue = (self.request.delivery_info or {}).get("routing_key")

    def spread(parts: int) -> None:
        for other in range(1, parts):
            part_task = run_bulk_operation.s(operation_id, part=other)
            if queue:
                part_task.set(queue=queue)
            part_task.apply_async()

    bulk.process(operation_id, spread=None if self.app.conf.task_always_eager else spread)


@shared_task
def deliver_service(service_id: int) -> str:
    """Deliver a pending service whose module delivers automatically (a paid order's).

    A ``manual`` service, or one the lifecycle refuses (no server with room, say), waits in
    the staff's list of pending services; a module failure is recorded on the service.
    """
    return delivery.deliver_if_automatic(service_id)


@shared_task
def continue_operation(service_id: int, token: str) -> str:
    """Call the panel for an operation claimed inside a caller's transaction (a payment's
    renewal), once that transaction has committed."""
    try:
        outcome = lifecycle.continue_claimed(service_id, token)
    except ModuleError as exc:
        return f"failed: {exc.message}"
    return outcome.message or "done"


@shared_task
def follow_operation(service_id: int) -> str:
    """Ask the panel whether the operation it was working on (an install) has finished."""
    try:
        outcome = lifecycle.resume(service_id, force=True)
    except (LifecycleError, ModuleError) as exc:
        return f"failed: {exc.message}"
    return outcome.message or "done"
