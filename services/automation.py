"""The services' part of the automation (issue 13): the lifecycle's periodic tasks,
registered with ``automation`` when the app starts (``ServicesConfig.ready``).

Expirations, terminations and scheduled cancellations run all day, every
``SERVICE_SWEEP_MINUTES``; the expiry notices are daily work, sent at the hour staff set;
delivery retries and the bulk stall check run every ``OPERATION_RESUME_CHECK_SECONDS``
and ``BULK_STALL_CHECK_SECONDS``. Each task states the rows it would handle at a moment
(for the dry run) and handles them on the claim helper; the days they count with are
settings staff change (``services.periods``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy, ngettext

from automation import registry
from clientxcms.claims import ClaimResult

from . import bulk, periods, retries, sweeps, tasks
from .models import BulkOperation, Service
from .sweeps import describe, when

#: Marks the periodic tasks' labels: translated when shown (lazy strings the registry holds
#: as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


def service_link(pk: int) -> str:
    """A service's page for staff."""
    return reverse("admin:service_detail", args=[pk])


def bulk_link(pk: int) -> str:
    """A bulk operation's page for staff."""
    return reverse("admin:bulk_detail", args=[pk])


# The dry run's sentences ----------------------------------------------------------------


def describe_cancellation(service: Service) -> str:
    return gettext("%(service)s is cancelled (cancellation scheduled for %(date)s)") % {
        "service": describe(service),
        "date": when(service.cancel_at),
    }


def describe_expiration(service: Service) -> str:
    return gettext("%(service)s expires (expiration date %(date)s)") % {
        "service": describe(service),
        "date": when(service.expires_at),
    }


def describe_termination(service: Service) -> str:
    days = periods.termination_days()
    within = ngettext(
        "not renewed within %(count)d day", "not renewed within %(count)d days", days
    ) % {"count": days}
    expiration = when(service.expires_at)
    return gettext("%(service)s is terminated (expiration date %(date)s, %(within)s)") % {
        "service": describe(service),
        "date": expiration,
        "within": within,
    }


def describe_notice(service: Service) -> str:
    return gettext("%(service)s: its customer is told that it expires on %(date)s") % {
        "service": describe(service),
        "date": when(service.expires_at),
    }


def describe_resume(service: Service) -> str:
    return gettext("%(service)s: its %(operation)s in progress is taken over (due %(date)s)") % {
        "service": describe(service),
        "operation": service.operation_label,
        "date": when(service.operation_due_at),
    }


def describe_stalled(operation: BulkOperation) -> str:
    return gettext(
        "Bulk operation #%(id)s (%(action)s) is resumed or given up (no progress since %(date)s)"
    ) % {
        "id": operation.pk,
        "action": operation.get_action_display().lower(),
        "date": when(operation.heartbeat_at),
    }


# What the resume and stall tasks do -----------------------------------------------------


def resume_operations_due(now: dt.datetime) -> QuerySet[Service]:
    """The operations in flight due at ``now`` (``services.retries``), described."""
    return sweeps.described(retries.due(now))


def check_stalled_bulk_operations(now: dt.datetime) -> ClaimResult:
    """Queue again each stalled bulk operation, or give it up after its last resume.

    Done: queued again. Failed: given up, with its error (staff resume it from its page).
    Skipped: one that moved, or another check resumed, in between.
    """
    check = bulk.check_stalled()
    for operation_id in check.resumed:
        tasks.run_bulk_operation.delay(operation_id)
    given_up = BulkOperation.objects.filter(pk__in=check.abandoned).order_by("pk")
    return ClaimResult(
        done=len(check.resumed),
        skipped=check.left,
        failed=list(given_up.values_list("pk", "error")),
    )


def _service_task(
    key: str,
    label: str,
    description: str,
    run: Callable[[dt.datetime], ClaimResult],
    due: Callable[[dt.datetime], QuerySet[Service]],
    describe_row: Callable[[Service], str],
    every: dt.timedelta | None,
) -> registry.PeriodicTask:
    return registry.PeriodicTask(
        key=key,
        label=label,
        description=description,
        run=run,
        due=due,
        describe=describe_row,
        every=every,
        link=service_link,
    )


def register() -> None:
    """Register the services' periodic tasks (the days they use register on import of
    ``services.periods``)."""
    sweep_every = dt.timedelta(minutes=settings.SERVICE_SWEEP_MINUTES)
    for task in (
        _service_task(
            "services.cancel_scheduled",
            _("Scheduled cancellations"),
            _(
                "Cancels the services whose cancellation at the end of their paid period has "
                "come due: their resource is deleted from the server."
            ),
            sweeps.cancel_scheduled,
            sweeps.cancel_scheduled_due,
            describe_cancellation,
            sweep_every,
        ),
        _service_task(
            "services.expire",
            _("Expirations"),
            _(
                "Marks the services past their expiration date expired and suspends them on "
                "their server, except those held by an agreement with the customer."
            ),
            sweeps.expire,
            sweeps.expire_due,
            describe_expiration,
            sweep_every,
        ),
        _service_task(
            "services.terminate",
            _("Terminations"),
            _(
                "Terminates the services expired for longer than the termination days (counted "
                "from the end of a hold agreed with the customer when later): their resource "
                "and its data are deleted from the server."
            ),
            sweeps.terminate,
            sweeps.terminate_due,
            describe_termination,
            sweep_every,
        ),
        _service_task(
            "services.expiry_notices",
            _("Expiry notices"),
            _(
                "E-mails customers that a service expires within the expiry notice days, once "
                "per paid period."
            ),
            sweeps.notify_expiring,
            sweeps.notify_expiring_due,
            describe_notice,
            None,
        ),
        _service_task(
            "services.resume_operations",
            _("Delivery retries"),
            _(
                "Takes over the operations on a server that are due again: a failed call "
                "retried with backoff, a call whose worker died, an install still running."
            ),
            retries.resume_due,
            resume_operations_due,
            describe_resume,
            dt.timedelta(seconds=settings.OPERATION_RESUME_CHECK_SECONDS),
        ),
    ):
        registry.register(task)
    registry.register(
        registry.PeriodicTask(
            key="services.bulk_stall_check",
            label=_("Stalled bulk operations"),
            description=_(
                "Queues again the bulk operations whose worker was lost, and gives one up "
                "after its last automatic resume (staff can resume it from its page)."
            ),
            run=check_stalled_bulk_operations,
            due=bulk.stalled,
            describe=describe_stalled,
            every=dt.timedelta(seconds=settings.BULK_STALL_CHECK_SECONDS),
            link=bulk_link,
        )
    )
