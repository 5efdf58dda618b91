"""Celery tasks of billing. Tasks take ids and load rows; the e-mails are retried when
the mail server is away, like the services' notifications."""

from __future__ import annotations

from celery import shared_task

from . import notifications, timeline


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invoice_issued_email(invoice_id: int) -> bool:
    """E-mail an issued invoice, with its PDF, to its customer."""
    return notifications.send_invoice_issued(invoice_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_payment_received_email(payment_id: int) -> bool:
    """E-mail the customer the receipt of a payment."""
    return notifications.send_payment_received(payment_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_refund_email(credit_note_id: int) -> bool:
    """E-mail the customer a credit note, with its PDF."""
    return notifications.send_refund(credit_note_id)


# The timeline's periodic steps (billing/timeline.py), run by Celery beat. Each returns its
# counts: rows handled, found already handled once claimed, and failed.


@shared_task
def make_renewal_invoices() -> dict[str, int]:
    """Invoice the renewals coming due; pay them from balances that cover them."""
    return timeline.make_renewal_invoices().counts()


@shared_task
def send_invoice_reminders() -> dict[str, int]:
    """Send the payment reminders due, each (invoice, offset) once."""
    return timeline.send_invoice_reminders().counts()


@shared_task
def cancel_unpaid_orders() -> dict[str, int]:
    """Cancel the new orders left unpaid for ``ORDER_UNPAID_CANCEL_DAYS``."""
    return timeline.cancel_unpaid_orders().counts()
