"""E-mails to a customer: rendered in their language, sent once, and logged.

Every e-mail the panel writes to a customer goes through ``send_to_customer``: the
services' notifications, billing's invoices and receipts, the sign-up, password-reset
and e-mail-change links. It renders three templates, ``<template>_subject.txt``,
``<template>.txt`` and ``<template>.html`` (which extends ``emails/base.html``), with
``translation.override(customer.language)`` so that dates, numbers and Django's own
strings are the customer's; sends them as one ``EmailMultiAlternatives`` (the text body,
the HTML as its alternative); and records an ``EmailLog`` row, which staff read on the
customer's page.

An e-mail about something (a ``reference``: "service-event:123", "invoice:2026-0007") is
sent once per ``kind``, however many workers try at once: the row is created first, in a
transaction of its own, and the unique constraint on (kind, reference) lets one insert
win; the others read the winner's row and send nothing. A failed send keeps its row,
marked failed with the error, and the exception goes on to the caller, so that a Celery
task's ``autoretry_for`` still retries; the retry takes the failed row back (a compare-
and-set on its status, so two retries do not both send) and sends again.

The log keeps the subject and the metadata, never the body: a password-reset or a
confirmation e-mail carries a link that is as good as a password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Customer, EmailLog, EmailStatus

logger = logging.getLogger(__name__)

#: A row still ``sending`` after this long is presumed to belong to a worker that died
#: during the send: a retry may take it back. Until then a second worker leaves it alone,
#: since the first may still be talking to the mail server (set ``EMAIL_TIMEOUT`` well
#: below this, so that a live sender never holds a row that long).
SENDING_STALE_AFTER = timedelta(minutes=15)
#: How many times a caller tries to create or take back the row before it gives up to
#: whoever holds it (each failed try means another worker moved first).
CLAIM_ATTEMPTS = 3
#: The longest error text kept: enough for an SMTP reply, bounded whatever it says.
ERROR_MAX_LENGTH = 1000

#: A file attached to an e-mail: its name, its content and its MIME type.
Attachment = tuple[str, bytes, str]


@dataclass(frozen=True)
class RenderedEmail:
    """The three parts of an e-mail, rendered in the language that was active."""

    subject: str
    text: str
    html: str


def render(template: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``.

    The subject is one line (mail headers allow no newline); the HTML receives it as
    ``subject``, for its ``<title>``.
    """
    subject = " ".join(render_to_string(f"{template}_subject.txt", dict(context)).split())
    text = render_to_string(f"{template}.txt", dict(context))
    html = render_to_string(f"{template}.html", {**context, "subject": subject})
    return RenderedEmail(subject=subject, text=text, html=html)


def send_to_customer(
    customer: Customer,
    *,
    kind: str,
    template: str,
    context: Mapping[str, Any],
    reference: str = "",
    to: str | None = None,
    attachments: Callable[[], Iterable[Attachment]] | None = None,
) -> EmailLog:
    """E-mail ``customer`` (or ``to``, an address of theirs) and log it; the log row.

    With a ``reference``, an e-mail of this ``kind`` already sent, or being sent by
    another worker, is not sent again: its row is returned with ``just_sent`` False.
    ``attachments`` is called only when the e-mail is sent, in the customer's language
    (a PDF is costly to render for an e-mail that was already sent). A failed send is
    logged as failed and its exception raised again.
    """
    address = to or customer.email
    with translation.override(customer.language):
        email = render(template, {**context, "customer": customer})
    log, mine = _claim(customer, kind=kind, reference=reference, to=address, subject=email.subject)
    if not mine:
        return log
    message = EmailMultiAlternatives(
        email.subject, email.text, settings.DEFAULT_FROM_EMAIL, [address]
    )
    message.attach_alternative(email.html, "text/html")
    try:
        if attachments is not None:
            with translation.override(customer.language):
                for filename, content, mimetype in attachments():
                    message.attach(filename, content, mimetype)
        message.send()
    except Exception as exc:
        _mark_failed(log, f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH])
        logger.warning(
            "E-mail %s (%s) to customer %s failed: %s", kind, reference, customer.pk, exc
        )
        raise
    _mark_sent(log)
    log.just_sent = True
    return log


def _claim(
    customer: Customer, *, kind: str, reference: str, to: str, subject: str
) -> tuple[EmailLog, bool]:
    """The row of this e-mail, and whether this caller is the one to send it.

    Without a reference every e-mail is new. With one: no row yet, create it (in a
    savepoint, so that losing the race to another insert leaves the caller's transaction
    usable); a failed row, or one stuck ``sending`` for ``SENDING_STALE_AFTER``, take it
    back with an UPDATE conditioned on the state just read, which one caller only wins.
    """
    fields = {"to": to, "subject": subject[:255]}
    if not reference:
        return EmailLog.objects.create(customer=customer, kind=kind, **fields), True
    for _attempt in range(CLAIM_ATTEMPTS):
        row = EmailLog.objects.filter(kind=kind, reference=reference).first()
        if row is None:
            try:
                with transaction.atomic():
                    created = EmailLog.objects.create(
                        customer=customer, kind=kind, reference=reference, **fields
                    )
            except IntegrityError:
                continue  # another worker inserted it first: read theirs
            return created, True
        if not _may_send_again(row):
            return row, False
        taken = EmailLog.objects.filter(
            pk=row.pk, status=row.status, attempted_at=row.attempted_at
        ).update(
            status=EmailStatus.SENDING,
            error="",
            attempted_at=timezone.now(),
            attempts=F("attempts") + 1,
            **fields,
        )
        if taken:
            row.refresh_from_db()
            return row, True
    return EmailLog.objects.get(kind=kind, reference=reference), False


def _may_send_again(row: EmailLog) -> bool:
    """A failed e-mail is sent again; so is one whose sender died while sending it."""
    if row.status == EmailStatus.FAILED:
        return True
    stale = timezone.now() - SENDING_STALE_AFTER
    return row.status == EmailStatus.SENDING and row.attempted_at < stale


def _mark_sent(log: EmailLog) -> None:
    """The mail server took the e-mail: on the row and on the instance returned."""
    log.status = EmailStatus.SENT
    log.error = ""
    log.sent_at = timezone.now()
    EmailLog.objects.filter(pk=log.pk).update(
        status=EmailStatus.SENT, error="", sent_at=log.sent_at
    )


def _mark_failed(log: EmailLog, error: str) -> None:
    """The send raised: keep why, so that staff see it and a retry may take the row back."""
    log.status = EmailStatus.FAILED
    log.error = error
    log.sent_at = None
    EmailLog.objects.filter(pk=log.pk).update(status=EmailStatus.FAILED, error=error, sent_at=None)
