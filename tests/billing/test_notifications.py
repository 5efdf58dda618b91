"""The customer's e-mails about billing: queued after commit by the core, sent by Celery
tasks in the customer's language, with the invoice or credit note attached as a PDF."""

from __future__ import annotations

from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.db import transaction
from django.test import override_settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from billing import invoices, notifications, payments, pdf, tasks
from billing.invoices import LineSpec
from billing.models import CompanyProfile, Invoice, TaxRate
from customers.models import EmailLog, EmailStatus

TEN = Decimal("10.00")


@pytest.fixture
def company(db) -> CompanyProfile:
    profile = CompanyProfile.current()
    profile.name = "Hosting Co"
    profile.country = "FR"
    profile.save()
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    return profile


@pytest.fixture
def queued(monkeypatch) -> dict[str, list[int]]:
    """The ids each e-mail task was handed, instead of a broker."""
    handed: dict[str, list[int]] = {"issued": [], "paid": [], "refund": []}
    monkeypatch.setattr(tasks.send_invoice_issued_email, "delay", handed["issued"].append)
    monkeypatch.setattr(tasks.send_payment_received_email, "delay", handed["paid"].append)
    monkeypatch.setattr(tasks.send_refund_email, "delay", handed["refund"].append)
    return handed


def draft(customer, amount: Decimal = TEN) -> Invoice:
    return invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description="Managed backups", unit_price=amount)]
    )


def issued(customer, amount: Decimal = TEN) -> Invoice:
    return invoices.issue(draft(customer, amount), actor=None, notify=False)


def test_issuing_an_invoice_emails_it_with_its_pdf_after_commit(
    customer, company, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoices.issue(draft(customer), actor=None)

    assert queued["issued"] == [invoice.pk]
    assert tasks.send_invoice_issued_email(invoice.pk) is True
    [mail] = mailoutbox
    assert mail.to == ["bob@example.com"]
    assert mail.subject == f"Invoice {invoice.number}"
    assert "Total: 12.00 EUR" in mail.body
    assert "Due date:" in mail.body
    [(filename, content, mimetype)] = mail.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def test_an_issue_rolled_back_queues_no_email(
    customer, company, queued, django_capture_on_commit_callbacks
):
    invoice = draft(customer)

    def issue_then_fail() -> None:
        with transaction.atomic():
            invoices.issue(invoice, actor=None)
            raise RuntimeError("the request failed after issuing")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        issue_then_fail()

    assert queued["issued"] == []


def test_a_draft_or_a_missing_invoice_sends_nothing(customer, company, mailoutbox):
    assert notifications.send_invoice_issued(draft(customer).pk) is False
    assert notifications.send_invoice_issued(999_999) is False
    assert notifications.send_payment_received(999_999) is False
    assert notifications.send_refund(999_999) is False
    assert mailoutbox == []


def test_a_partial_payment_emails_what_remains_and_the_last_one_says_paid_in_full(
    customer, company, queued, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = issued(customer)  # 12.00 with VAT

    with django_capture_on_commit_callbacks(execute=True):
        first = payments.record_payment(
            invoice, gateway="bank_transfer", amount=Decimal("5.00"), reference="T-1"
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = payments.record_payment(
            invoice, gateway="bank_transfer", amount=Decimal("7.00"), reference="T-2"
        )
    assert queued["paid"] == [first.payment.pk, second.payment.pk]
    tasks.send_payment_received_email(first.payment.pk)
    tasks.send_payment_received_email(second.payment.pk)

    partial, full = mailoutbox
    assert partial.subject == full.subject == f"Payment received for invoice {invoice.number}"
    assert "payment of 5.00 EUR" in partial.body
    assert "7.00 EUR remain to be paid" in partial.body
    assert "paid in full" not in partial.body
    assert "paid in full" in full.body
    assert "Payment reference: T-2" in full.body
    assert partial.attachments == full.attachments == []


def test_a_refund_emails_the_credit_note_as_pdf_and_says_where_the_money_went(
    customer, company, queued, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = issued(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")

    with django_capture_on_commit_callbacks(execute=True):
        note = invoices.refund(invoice, actor=None, to_balance=True, reason="Goodwill")

    assert queued["refund"] == [note.pk]
    assert tasks.send_refund_email(note.pk) is True
    [mail] = mailoutbox
    assert mail.subject == f"Refund of invoice {invoice.number}"
    assert f"credit note {note.number}" in mail.body
    assert "Amount refunded: 12.00 EUR" in mail.body
    assert "added to your account balance" in mail.body
    [(filename, content, mimetype)] = mail.attachments
    assert (filename, mimetype) == (f"{note.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def test_a_refund_paid_outside_the_panel_does_not_mention_the_balance(
    customer, company, queued, mailoutbox
):
    invoice = issued(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")
    note = invoices.refund(invoice, actor=None, to_balance=False)

    notifications.send_refund(note.pk)

    [mail] = mailoutbox
    assert "paid back to you outside" in mail.body
    assert "account balance" not in mail.body


def test_the_invoice_email_speaks_the_customers_language(customer, company, mailoutbox):
    customer.language = "fr"
    customer.save()
    invoice = issued(customer)
    with translation.override("fr"):
        french_date = date_format(localtime(invoice.issued_at), "DATE_FORMAT")
    with translation.override("en"):
        english_date = date_format(localtime(invoice.issued_at), "DATE_FORMAT")
    assert french_date != english_date  # the test would prove nothing otherwise

    notifications.send_invoice_issued(invoice.pk)

    [mail] = mailoutbox
    # One language throughout: the sentence and its date are both French.
    assert f"votre facture {invoice.number} du {french_date}." in mail.body
    assert mail.subject == f"Facture {invoice.number}"
    assert "is attached" not in mail.body
    assert translation.get_language() != "fr"  # the override ended with the e-mail


def test_an_english_customers_email_has_an_english_date(customer, company, mailoutbox):
    invoice = issued(customer)
    with translation.override("en"):
        english_date = date_format(localtime(invoice.issued_at), "DATE_FORMAT")

    notifications.send_invoice_issued(invoice.pk)

    [mail] = mailoutbox
    assert f"Your invoice {invoice.number} of {english_date} is attached." in mail.body


# The e-mail log (customers.mail): each e-mail once, with HTML, failures kept ---------


def only_log() -> EmailLog:
    [row] = EmailLog.objects.all()
    return row


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_the_invoice_email_is_logged_and_sent_once_with_one_pdf(
    customer, company, mailoutbox, monkeypatch
):
    invoice = issued(customer)
    rendered: list[int] = []
    real_render = pdf.render_invoice_pdf

    def counted(inv):
        rendered.append(inv.pk)
        return real_render(inv)

    monkeypatch.setattr(pdf, "render_invoice_pdf", counted)

    assert tasks.send_invoice_issued_email(invoice.pk) is True
    assert tasks.send_invoice_issued_email(invoice.pk) is False  # the task ran twice

    [mail] = mailoutbox
    assert rendered == [invoice.pk]  # the PDF is made for the e-mail sent, not the duplicate
    assert f"Your invoice {invoice.number} of" in html_of(mail)
    assert "12.00 EUR" in html_of(mail)
    row = only_log()
    assert (row.customer, row.kind, row.reference, row.status) == (
        customer,
        "invoice_issued",
        f"invoice:{invoice.number}",
        EmailStatus.SENT,
    )
    assert row.subject == f"Invoice {invoice.number}"


def test_each_payment_is_logged_once_under_its_own_reference(customer, company, mailoutbox):
    invoice = issued(customer)
    first = payments.record_payment(
        invoice, gateway="bank_transfer", amount=Decimal("5.00"), reference="T-1"
    )

    assert notifications.send_payment_received(first.payment.pk) is True
    assert notifications.send_payment_received(first.payment.pk) is False

    [mail] = mailoutbox
    assert "7.00 EUR remain to be paid" in html_of(mail)
    row = only_log()
    assert (row.kind, row.reference, row.status) == (
        "payment_received",
        f"payment:{first.payment.pk}",
        EmailStatus.SENT,
    )


def test_the_refund_is_logged_once_under_the_credit_note(customer, company, mailoutbox):
    invoice = issued(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")
    note = invoices.refund(invoice, actor=None, to_balance=True)

    assert notifications.send_refund(note.pk) is True
    assert notifications.send_refund(note.pk) is False

    [mail] = mailoutbox
    assert f"credit note {note.number}" in html_of(mail)
    row = only_log()
    assert (row.kind, row.reference, row.subject) == (
        "refund",
        f"invoice:{note.number}",
        f"Refund of invoice {invoice.number}",
    )


def test_a_mail_server_away_is_logged_as_failed_and_the_task_retries_then_sends(
    customer, company, mailoutbox, monkeypatch
):
    invoice = issued(customer)
    asked: list[Exception] = []

    def retry(exc: Exception, **options) -> Retry:
        asked.append(exc)
        return Retry(exc=exc)

    # What a worker does with autoretry_for=(OSError,): ask Celery for a retry.
    monkeypatch.setattr(tasks.send_invoice_issued_email, "retry", retry)
    with override_settings(EMAIL_BACKEND="tests.fakes.mail.FailingBackend"), pytest.raises(Retry):
        tasks.send_invoice_issued_email(invoice.pk)

    assert [type(exc) for exc in asked] == [ConnectionRefusedError]

    failed = only_log()
    assert (failed.status, failed.error[:23]) == (EmailStatus.FAILED, "ConnectionRefusedError:")
    assert mailoutbox == []

    assert tasks.send_invoice_issued_email(invoice.pk) is True  # the retry

    assert len(mailoutbox) == 1
    row = only_log()
    assert (row.pk, row.status, row.error, row.attempts) == (failed.pk, EmailStatus.SENT, "", 2)
