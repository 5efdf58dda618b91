"""Celery tasks of the customers app. Tasks take ids and load rows."""

from __future__ import annotations

from celery import shared_task

from . import notifications, vat


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_staff_lockout(user_id: int, ip_address: str | None) -> int:
    """E-mail the administrators that a staff account was locked out; retried when the
    mail server is away. Returns how many administrators were written to."""
    return notifications.send_staff_lockout(user_id, ip_address)


@shared_task
def check_vat_number(customer_id: int, number: str) -> str | None:
    """Ask VIES whether the customer's VAT number ``number`` is registered and store the
    answer (``customers.vat.check_with_vies``). No retry: an unavailable VIES is itself an
    answer, stored with its reason, and staff check again from the customer's page."""
    status = vat.check_with_vies(customer_id, number)
    return None if status is None else str(status)
