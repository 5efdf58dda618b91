"""Celery tasks of the customers app. Tasks take ids and load rows."""

from __future__ import annotations

from celery import shared_task

from . import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_staff_lockout(user_id: int, ip_address: str | None) -> int:
    """E-mail the administrators that a staff account was locked out; retried when the
    mail server is away. Returns how many administrators were written to."""
    return notifications.send_staff_lockout(user_id, ip_address)
