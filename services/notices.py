"""The notice that a service expires soon: one e-mail per paid period, a few days ahead.

Due are the active and suspended services whose expiration falls within the notice days
staff set (``services.periods``) and whose end nobody has scheduled, and to whom no notice
for this period was sent yet. The period is the service's renewal count, so a renewal
(which pays the next period) makes the next notice due in its turn, while moving the
expiration by a few days does not send a second one.

The sweep renders nothing: it claims the notices of the due services 500 at a time, their
e-mail log rows written by one statement (``customers.mail.claim_many``), and queues one
task per hundred, after the batch has committed, as the lifecycle queues its own e-mails
(``services.batches``). The worker renders each in the customer's language and sends it
(``send_claimed``). The e-mail log's unique (kind, reference) is the guarantee: two
sweeps at once claim each notice once. A failed send is logged failed, and the next sweep
claims it again; so is a notice claimed but never sent (its task lost with the queue, its
worker dead mid-send), once its row has been ``sending`` for
``customers.mail.SENDING_STALE_AFTER``.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat

from clientxcms.claims import ClaimResult
from customers import mail
from customers.models import EmailLog, EmailStatus, User
from products.choices import BillingCycle

from . import periods
from .choices import ServiceStatus
from .models import Service

logger = logging.getLogger(__name__)

KIND = "expiring_soon"
TEMPLATE = "services/emails/expiring_soon"
#: The statuses whose customer is told (and still told once the worker sends).
TOLD_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
#: Services whose notices are claimed together: one locking read and one INSERT each.
BATCH_SIZE = 500
#: Notices per task: one push to the queue per hundred, not per e-mail.
ENQUEUED_TOGETHER = 100


def reference(service: Service) -> str:
    """What the notice is about: this service's current paid period."""
    return period_reference(service.pk, service.renewal_count)


def period_reference(service_id: int, period: int) -> str:
    """The reference of the notice of service ``service_id``'s paid period ``period``."""
    return f"service:{service_id}:period:{period}"


def expiring(now: dt.datetime) -> QuerySet[Service]:
    """Services whose customer is to be told at ``now`` that they expire soon, told or not
    yet."""
    return Service.objects.filter(
        status__in=TOLD_STATUSES,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=periods.expiry_notice_days()),
        cancel_at__isnull=True,
        operation="",
    ).exclude(billing_cycle=BillingCycle.ONE_TIME)


def due(now: dt.datetime) -> QuerySet[Service]:
    """Services expiring soon at ``now`` that have not been told for this period: no notice
    sent, none being sent (a row ``sending`` for longer than ``SENDING_STALE_AFTER`` is a
    send that never finished: due again)."""
    told = EmailLog.objects.filter(
        customer=OuterRef("customer"),
        kind=KIND,
        reference=Concat(
            Value("service:"),
            Cast(OuterRef("pk"), CharField()),
            Value(":period:"),
            Cast(OuterRef("renewal_count"), CharField()),
        ),
    ).filter(
        Q(status=EmailStatus.SENT)
        | Q(status=EmailStatus.SENDING, attempted_at__gt=now - mail.SENDING_STALE_AFTER)
    )
    return expiring(now).filter(~Exists(told))


# The sweep: claim and queue ----------------------------------------------------------


def claim_due(now: dt.datetime) -> ClaimResult:
    """Claim the notices due at ``now`` (``due``) and queue their sending.

    The due keys are read once; then, per batch of ``BATCH_SIZE``, in one transaction: the
    services still expiring soon, locked together skipping those another worker holds (so
    that two sweeps at once share the batches out), their notices claimed by one statement
    (which leaves those sent or being sent since the keys were read), and their tasks
    queued once it has committed. Done: a notice claimed and queued. Skipped: a service
    held by another worker, no longer expiring soon, or whose notice another sweep claimed
    first. Nothing fails here: a send that fails does so in the worker, logged on its row
    (``send_claimed``).

    The batch's read leaves the e-mail log out: the claim asks it, by its unique index,
    where the read would ask it 500 times over a table the sweep itself is filling.
    """
    email = User.objects.filter(customer=OuterRef("customer_id")).values("email")[:1]
    addressed = expiring(now).annotate(notice_to=Subquery(email, output_field=CharField()))
    keys = sorted(due(now).order_by().values_list("pk", flat=True))
    result = ClaimResult()
    for start in range(0, len(keys), BATCH_SIZE):
        chunk = keys[start : start + BATCH_SIZE]
        with transaction.atomic():
            rows = list(
                addressed.filter(pk__in=chunk)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", "customer_id", "renewal_count", "notice_to")
            )
            service_of: dict[str, int] = {}
            wanted = []
            for pk, customer_id, period, to in rows:
                notice = period_reference(pk, period)
                service_of[notice] = pk
                wanted.append(mail.Wanted(customer_id, notice, to or ""))
            claimed_at, claimed = mail.claim_many(KIND, wanted)
            claims = sorted((log_id, service_of[notice]) for notice, log_id in claimed.items())
            if claims:
                transaction.on_commit(partial(enqueue, claimed_at, claims))
        result.done += len(claims)
        result.skipped += len(chunk) - len(claims)
    return result


def enqueue(claimed_at: dt.datetime, claims: list[tuple[int, int]]) -> None:
    """Queue the sending of claimed notices, (log row, service) pairs, a hundred a task
    (called after the claim's commit)."""
    from .tasks import send_expiry_notices

    moment = claimed_at.isoformat()
    for start in range(0, len(claims), ENQUEUED_TOGETHER):
        send_expiry_notices.delay(moment, claims[start : start + ENQUEUED_TOGETHER])


# The worker: render and send ---------------------------------------------------------


def send_claimed(claimed_at: dt.datetime, claims: list[tuple[int, int]]) -> int:
    """Render and send the notices a sweep claimed at ``claimed_at``, (log row, service)
    pairs; how many were sent.

    The rows and services are read in two queries; each notice is then taken by its own
    compare-and-set (``customers.mail.send_claimed``: a task run twice sends each once,
    and one run again after its worker died sends those not taken yet), rendered in the
    customer's language and sent, over one connection to the mail server. A service
    renewed, ended or scheduled to end since the claim is not told: its claim is released,
    for the next sweep to decide. A send that fails is logged failed on its row, for the
    next sweep, and the others go on.
    """
    logs = EmailLog.objects.in_bulk([log_id for log_id, _ in claims])
    services = Service.objects.select_related("customer__user").in_bulk(
        [service_id for _, service_id in claims]
    )
    sent = 0
    connection = get_connection()
    _open(connection)
    try:
        for log_id, service_id in claims:
            log = logs.get(log_id)
            if log is None:
                continue  # deleted since, with its customer
            service = services.get(service_id)
            if service is None or not still_told(service, log.reference):
                mail.release(log, claimed_at=claimed_at)
                continue
            try:
                sent += mail.send_claimed(
                    log,
                    service.customer,
                    claimed_at=claimed_at,
                    template=TEMPLATE,
                    context={"service": service},
                    connection=connection,
                )
            except Exception:  # the others go on
                if log.status != EmailStatus.FAILED:  # else logged, and kept on its row
                    logger.exception("Expiry notice %s could not be sent", log.pk)
                # The connection the failure may have broken is opened afresh.
                connection.close()
                _open(connection)
    finally:
        connection.close()
    return sent


def _open(connection: BaseEmailBackend) -> None:
    """Open ``connection`` to the mail server for the e-mails to come; when the server
    does not answer, each e-mail tries on its own (and fails on its own)."""
    try:
        connection.open()
    except OSError as exc:  # smtplib's errors are OSErrors
        logger.warning("The mail server did not answer: %s", exc)


def still_told(service: Service, notice: str) -> bool:
    """Whether ``service`` is still to be told the ``notice`` (a reference) claimed for it:
    its period unchanged (not renewed since), still running, no end scheduled."""
    return (
        notice == reference(service)
        and service.status in TOLD_STATUSES
        and service.cancel_at is None
    )
