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

Work that e-mails many customers at once (the expiry notices of a sweep) claims its rows
together first, with ``claim_many``: one ``INSERT … ON CONFLICT … RETURNING`` per batch,
the same unique constraint picking one winner per e-mail and the same rule taking back a
failed or stale row; a worker then renders and sends each with ``send_claimed``, marked
sent or failed like any other.

The log keeps the subject and the metadata, never the body: a password-reset or a
confirmation e-mail carries a link that is as good as a password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db import connection as database
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


def _mark_sent(log: EmailLog, **also: Any) -> None:
    """The mail server took the e-mail: on the row and on the instance returned (with the
    fields ``also`` gives, the subject of an e-mail rendered after its claim)."""
    log.status = EmailStatus.SENT
    log.error = ""
    log.sent_at = timezone.now()
    EmailLog.objects.filter(pk=log.pk).update(
        status=EmailStatus.SENT, error="", sent_at=log.sent_at, **also
    )


def _mark_failed(log: EmailLog, error: str, **also: Any) -> None:
    """The send raised: keep why, so that staff see it and a retry may take the row back."""
    log.status = EmailStatus.FAILED
    log.error = error
    log.sent_at = None
    EmailLog.objects.filter(pk=log.pk).update(
        status=EmailStatus.FAILED, error=error, sent_at=None, **also
    )


def send_each(
    ids: Iterable[int], send: Callable[[int], bool | int], alone: Callable[[int], Any]
) -> int:
    """Send the e-mail of each of ``ids`` with ``send``; how many were sent. One the mail
    server refuses (an ``OSError``) is handed to ``alone`` (its own task, with that task's
    retries), and the others go on: a task of a hundred e-mails is never retried whole."""
    sent = 0
    for pk in ids:
        try:
            sent += send(pk)
        except OSError:
            alone(pk)
    return sent


# Many e-mails claimed at once, sent by a worker ---------------------------------------


@dataclass(frozen=True)
class Wanted:
    """An e-mail that ``claim_many`` claims: to which customer, about what, to which
    address."""

    customer_id: int
    reference: str
    to: str


def claim_many(kind: str, wanted: Sequence[Wanted]) -> tuple[datetime, dict[str, int]]:
    """Claim the rows of the e-mails of ``kind`` in ``wanted``, in one statement, before
    any is rendered: the moment of the claim, and the row of each e-mail this caller is to
    send, by reference.

    The rule of ``send_to_customer``'s claim, for many: a reference with no row gets one
    (``sending``); a failed row, or one ``sending`` for longer than ``SENDING_STALE_AFTER``,
    is taken back; a row sent, or being sent, is left to its sender and not returned. One
    ``INSERT … ON CONFLICT (kind, reference) DO UPDATE … WHERE … RETURNING``: the unique
    constraint lets one caller win each e-mail however many claim it at once (a second
    waits for the first's transaction, then finds the row taken). Every row returned has
    the claim's moment as its ``attempted_at``, the proof ``send_claimed`` asks for. The
    subject is written when the e-mail is rendered; ``to`` is the address given.
    """
    now = timezone.now()
    # One row per reference: a statement may not claim the same row twice.
    wanted = list({one.reference: one for one in wanted}.values())
    if not wanted:
        return now, {}
    q = database.ops.quote_name
    table = q(EmailLog._meta.db_table)
    field = {f.name: f for f in EmailLog._meta.concrete_fields}
    columns = [
        *("customer", "to", "reference", "subject", "kind", "status", "error"),
        *("attempts", "created_at", "attempted_at"),
    ]
    names = ", ".join(q(field[name].column) for name in columns)
    at = field["attempted_at"].get_db_prep_save(now, database)
    stale = field["attempted_at"].get_db_prep_save(now - SENDING_STALE_AFTER, database)
    same = ["", kind, EmailStatus.SENDING, "", 1, at, at]  # subject to attempted_at
    params: list[Any] = []
    if database.vendor == "postgresql":
        # One array per column that differs: a statement of a dozen parameters, which
        # psycopg binds in a fraction of the time that 5,000 would take.
        rows = (
            "SELECT *, %s, %s, %s, %s, %s, %s, %s FROM unnest(%s::bigint[], %s::text[], %s::text[])"
        )
        params += same
        params += [[one.customer_id for one in wanted], [one.to for one in wanted]]
        params.append([one.reference for one in wanted])
    else:
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        rows = f"VALUES {', '.join([row] * len(wanted))}"
        for one in wanted:
            params += [one.customer_id, one.to, one.reference, *same]
    # The conflict target names the partial unique index ``emaillog_once`` by its columns
    # and its condition, written as the migration wrote it.
    sql = (
        f"INSERT INTO {table} ({names}) {rows} "
        f"ON CONFLICT ({q('kind')}, {q('reference')}) WHERE NOT ({q('reference')} = '') "
        f"DO UPDATE SET {q('status')} = excluded.{q('status')}, {q('error')} = '', "
        f"{q('to')} = excluded.{q('to')}, {q('attempted_at')} = excluded.{q('attempted_at')}, "
        f"{q('attempts')} = {table}.{q('attempts')} + 1, {q('sent_at')} = NULL "
        f"WHERE {table}.{q('status')} = %s "
        f"OR ({table}.{q('status')} = %s AND {table}.{q('attempted_at')} < %s) "
        f"RETURNING {q('id')}, {q('reference')}"
    )
    params += [EmailStatus.FAILED, EmailStatus.SENDING, stale]
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        claimed = {reference: pk for pk, reference in cursor.fetchall()}
    return now, claimed


def send_claimed(
    log: EmailLog,
    customer: Customer,
    *,
    claimed_at: datetime,
    template: str,
    context: Mapping[str, Any],
    connection: BaseEmailBackend | None = None,
) -> bool:
    """Render and send the e-mail of ``log``, claimed by ``claim_many`` at ``claimed_at``;
    False when it is no longer this caller's to send.

    Taken first by a compare-and-set on the claim's moment: two runs of the same task
    (a message delivered twice) send it once, and a task late enough that a later claim
    took the row back sends nothing. Rendered in the customer's language, sent to the
    address claimed, through ``connection`` when given (one connection to the mail
    server for many e-mails); marked sent, or failed with the error (a failed render
    too), which is raised again: a later claim takes the row back.
    """
    taken_at = timezone.now()
    taken = EmailLog.objects.filter(
        pk=log.pk, status=EmailStatus.SENDING, attempted_at=claimed_at
    ).update(attempted_at=taken_at)
    if not taken:
        return False
    log.attempted_at = taken_at
    subject: dict[str, str] = {}
    try:
        with translation.override(customer.language):
            email = render(template, {**context, "customer": customer})
        subject["subject"] = log.subject = email.subject[:255]
        message = EmailMultiAlternatives(
            email.subject, email.text, settings.DEFAULT_FROM_EMAIL, [log.to], connection=connection
        )
        message.attach_alternative(email.html, "text/html")
        message.send()
    except Exception as exc:
        _mark_failed(log, f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH], **subject)
        logger.warning(
            "E-mail %s (%s) to customer %s failed: %s", log.kind, log.reference, customer.pk, exc
        )
        raise
    _mark_sent(log, **subject)
    log.just_sent = True
    return True


def release(log: EmailLog, *, claimed_at: datetime) -> bool:
    """Give up the claim of ``log`` (made by ``claim_many`` at ``claimed_at``) without
    sending: its row is deleted, so that a later claim decides afresh. False when the row
    is no longer this caller's."""
    deleted, _ = EmailLog.objects.filter(
        pk=log.pk, status=EmailStatus.SENDING, attempted_at=claimed_at
    ).delete()
    return bool(deleted)
