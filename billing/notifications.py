"""E-mails that tell a customer about their invoices: issued, paid, refunded.

The core (``billing.invoices``, ``billing.payments``) calls the ``enqueue_*`` functions
inside ``transaction.on_commit``, so nothing is sent for a change that was rolled back; a
Celery task (``billing.tasks``) then calls the matching ``send_*`` function, which reads
the rows again, so a task that runs late still says what the database says.

Each e-mail goes through ``customers.mail.send_to_customer``: written in the customer's
language (dates and numbers formatted their way), text and HTML, logged on the customer,
and sent once per thing it is about (``invoice:<number>``, ``payment:<id>``), so a task
that runs twice does not send twice. The invoice-issued and refund e-mails carry the
document as a PDF, the same one the client area serves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Sum

from customers.mail import Attachment, send_to_customer

from .choices import BalanceEntryKind, InvoiceKind, InvoiceStatus, PaymentStatus
from .models import ZERO, BalanceEntry, CompanyProfile, Invoice, Payment

PDF_MIMETYPE = "application/pdf"


# Called by the core after commit -------------------------------------------------------


def enqueue_invoice_issued(invoice_id: int) -> None:
    """Queue the "invoice issued" e-mail, with the invoice's PDF."""
    from .tasks import send_invoice_issued_email

    send_invoice_issued_email.delay(invoice_id)


#: Invoices per task when a batch queues its "invoice issued" e-mails
#: (``billing.renewal_batches``): one push to the queue per hundred, not per e-mail.
ENQUEUED_TOGETHER = 100


def enqueue_invoices_issued(invoice_ids: list[int]) -> None:
    """Queue the "invoice issued" e-mails of several invoices, a hundred per task (called
    after the batch's commit)."""
    from .tasks import send_invoice_issued_emails

    for start in range(0, len(invoice_ids), ENQUEUED_TOGETHER):
        send_invoice_issued_emails.delay(invoice_ids[start : start + ENQUEUED_TOGETHER])


def enqueue_payment_received(payment_id: int) -> None:
    """Queue the "payment received" e-mail."""
    from .tasks import send_payment_received_email

    send_payment_received_email.delay(payment_id)


def enqueue_refund(credit_note_id: int) -> None:
    """Queue the "refund" e-mail, with the credit note's PDF."""
    from .tasks import send_refund_email

    send_refund_email.delay(credit_note_id)


# Called by the tasks -------------------------------------------------------------------


def send_invoice_issued(invoice_id: int) -> bool:
    """E-mail an issued invoice to its customer; False when there is nothing to send (the
    invoice is gone, is a draft, or is a credit note, which the refund e-mail carries)."""
    invoice = (
        Invoice.objects.select_related("customer__user")
        .filter(pk=invoice_id, kind=InvoiceKind.INVOICE)
        .exclude(status=InvoiceStatus.DRAFT)
        .first()
    )
    if invoice is None:
        return False
    log = send_to_customer(
        invoice.customer,
        kind="invoice_issued",
        template="billing/emails/invoice_issued",
        context={"invoice": invoice, "company": CompanyProfile.current()},
        reference=f"invoice:{invoice.number}",
        attachments=_pdf_of(invoice),
    )
    return log.just_sent


def send_payment_received(payment_id: int) -> bool:
    """E-mail the receipt of one payment; False when the payment is gone."""
    payment = Payment.objects.select_related("invoice__customer__user").filter(pk=payment_id)
    found = payment.first()
    if found is None:
        return False
    invoice = found.invoice
    # What was left once this payment arrived, not now: a task that runs after the next
    # payment must not tell the customer this one settled the invoice.
    received = invoice.payments.filter(
        status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED], pk__lte=found.pk
    ).aggregate(total=Sum("amount"))["total"]
    context = {
        "payment": found,
        "invoice": invoice,
        "remaining": max(invoice.total - (received or ZERO), ZERO),
        "company": CompanyProfile.current(),
    }
    log = send_to_customer(
        invoice.customer,
        kind="payment_received",
        template="billing/emails/payment_received",
        context=context,
        reference=f"payment:{found.pk}",
    )
    return log.just_sent


def send_refund(credit_note_id: int) -> bool:
    """E-mail a credit note, with its PDF; False when it is gone or not a credit note."""
    credit_note = (
        Invoice.objects.select_related("customer__user", "credit_note_for")
        .filter(pk=credit_note_id, kind=InvoiceKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.DRAFT)
        .first()
    )
    if credit_note is None or credit_note.credit_note_for is None:
        return False
    to_balance = BalanceEntry.objects.filter(
        kind=BalanceEntryKind.REFUND,
        invoice__in=[credit_note.pk, credit_note.credit_note_for_id],
    ).exists()
    context = {
        "credit_note": credit_note,
        "invoice": credit_note.credit_note_for,
        "to_balance": to_balance,
        # A credit note's lines and total are negative: what the customer gets back.
        "refunded": -credit_note.total,
        "company": CompanyProfile.current(),
    }
    log = send_to_customer(
        credit_note.customer,
        kind="refund",
        template="billing/emails/refund",
        context=context,
        reference=f"invoice:{credit_note.number}",
        attachments=_pdf_of(credit_note),
    )
    return log.just_sent


def _pdf_of(invoice: Invoice) -> Callable[[], list[Attachment]]:
    """``invoice``'s PDF as an attachment, rendered only if the e-mail is sent (and then in
    the customer's language, which ``send_to_customer`` makes active)."""

    def attachments() -> list[Attachment]:
        # Imported here: the PDF library is heavy and only these e-mails need it.
        from .pdf import render_invoice_pdf

        return [(f"{invoice.number}.pdf", render_invoice_pdf(invoice), PDF_MIMETYPE)]

    return attachments
