"""Celery tasks of billing. Tasks take ids and load rows; the e-mails are retried when
the mail server is away, like the services' notifications. The timeline's periodic steps
are not here: they are automation tasks (``billing.automation``), run and recorded by
``automation``."""

from __future__ import annotations

from celery import shared_task

from customers.mail import send_each

from . import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invoice_issued_email(invoice_id: int) -> bool:
    """E-mail an issued invoice, with its PDF, to its customer."""
    return notifications.send_invoice_issued(invoice_id)


@shared_task
def send_invoice_issued_emails(invoice_ids: list[int]) -> int:
    """E-mail several issued invoices (a batch's), each as ``send_invoice_issued_email``
    does; how many were sent. One the mail server refuses is queued on its own, with that
    task's retries, and the others go on."""
    return send_each(
        invoice_ids, notifications.send_invoice_issued, send_invoice_issued_email.delay
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_payment_received_email(payment_id: int) -> bool:
    """E-mail the customer the receipt of a payment."""
    return notifications.send_payment_received(payment_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_refund_email(credit_note_id: int) -> bool:
    """E-mail the customer a credit note, with its PDF."""
    return notifications.send_refund(credit_note_id)
