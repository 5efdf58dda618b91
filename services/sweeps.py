"""The periodic sweeps of the service lifecycle (DESIGN.md, "Background work"): scheduled
cancellations coming due, expirations, terminations after the grace period, and the
notice that a service expires soon. Each is a periodic task of its own
(``services.automation``), run in any order, possibly at once on different workers.

Each sweep states which services are due at a moment (``*_due(now)``: none with an
operation in flight, none that another sweep owns at that moment, none held by an
agreement with the customer), so the dry run can say what it would do, and hands them
to the lifecycle layer as automation: services whose module calls no panel in batches
(``services.batches``: locked together, written together), the others one at a time
with no transaction held (``clientxcms.claims``), because the lifecycle calls the panel
after its own claim has committed. The locks, and the rule book asked again under them,
keep two workers from handling the same service; a service changed in between is
skipped, and a second run finds nothing to do. A module failure is recorded on that
service and the sweep goes on. The expiry notices change no service: they are claimed in
batches and sent by the worker (``services.notices``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import CharField, Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clientxcms.claims import SKIPPED, ClaimResult, hand_over_each_due
from customers.models import Customer, User
from delivery.modules.base import ModuleError

from . import batches, lifecycle, notices, periods
from .choices import CancelWhen, EventSource, ServiceStatus
from .lifecycle import LifecycleError, Outcome
from .models import Service

S = ServiceStatus
AUTOMATION = EventSource.AUTOMATION


def described(services: QuerySet[Service]) -> QuerySet[Service]:
    """``services`` with their customer's e-mail address (``customer_email``), for the dry
    run's sentences, read by a subquery: a join would be locked with the service when the
    sweep claims it."""
    email = User.objects.filter(customer=OuterRef("customer_id")).values("email")[:1]
    return services.annotate(customer_email=Subquery(email, output_field=CharField()))


def not_held_after(services: QuerySet[Service], moment: dt.datetime) -> QuerySet[Service]:
    """``services`` but those staff agreed not to suspend or terminate until after ``moment``
    (the service's hold or its customer's); the customer's is read by a subquery, so that
    claiming a service never locks its customer."""
    customer_held = Customer.objects.filter(pk=OuterRef("customer_id"), hold_until__gt=moment)
    return services.exclude(hold_until__gt=moment).filter(~Exists(customer_held))


def _changed(outcome: Outcome) -> object:
    """A lifecycle outcome as the claim helper counts it: nothing changed is a skip."""
    return outcome if outcome.changed else SKIPPED


def _sweep(due: QuerySet[Service], apply: Callable[[Service], Outcome]) -> ClaimResult:
    """Hand each due service to ``apply``.

    A refusal of a service that is no longer due once refused (another worker's operation
    now in flight on it, a hold staff set in between, a status staff changed) is a skip,
    not a failure: the sweep's question no longer applies to it. A refusal of a service
    still due is a failure, listed with the rule book's reason.
    """

    def handle(service: Service) -> object:
        try:
            return _changed(apply(service))
        except LifecycleError:
            if not due.filter(pk=service.pk).exists():
                return SKIPPED
            raise

    expected = (LifecycleError, ModuleError)
    return batches.hand_over_in_batches(
        due,
        handle,
        lambda rows: hand_over_each_due(rows, handle, expected=expected),
        expected=expected,
    )


# Scheduled cancellations --------------------------------------------------------------


def cancel_scheduled_due(now: dt.datetime) -> QuerySet[Service]:
    """Services whose end-of-period cancellation has come due at ``now``."""
    return described(
        Service.objects.filter(
            cancel_at__lte=now, status__in=[S.ACTIVE, S.SUSPENDED, S.EXPIRED], operation=""
        )
    )


def cancel_scheduled(now: dt.datetime) -> ClaimResult:
    """Cancel the services whose end-of-period cancellation has come due.

    A service cancelled at its expiration is cancelled, not expired: ``expire_due`` leaves
    it to this sweep, whichever of the two runs first.
    """
    return _sweep(
        cancel_scheduled_due(now),
        lambda service: lifecycle.cancel(
            service.pk,
            when=CancelWhen.NOW,
            reason=service.cancel_reason,
            actor=None,
            source=AUTOMATION,
        ),
    )


# Expirations --------------------------------------------------------------------------


def expire_due(now: dt.datetime) -> QuerySet[Service]:
    """Active and suspended services whose expiration has passed at ``now``: not those
    whose scheduled cancellation is due too (``cancel_scheduled`` ends them), nor those
    held by an agreement with the customer."""
    due = Service.objects.filter(
        status__in=[S.ACTIVE, S.SUSPENDED], expires_at__lte=now, operation=""
    ).exclude(cancel_at__lte=now)
    return described(not_held_after(due, now))


def expire(now: dt.datetime) -> ClaimResult:
    """Expire the services due (``expire_due``); their resource is suspended."""
    return _sweep(
        expire_due(now),
        lambda service: lifecycle.expire(service.pk, actor=None, source=AUTOMATION),
    )


# Terminations -------------------------------------------------------------------------


def terminate_due(now: dt.datetime) -> QuerySet[Service]:
    """Expired services whose grace period is over at ``now``.

    The termination days count from the expiration, or from the end of a hold agreed with
    the customer when that is later: a service held past its expiration gets its whole
    grace period once the hold ends.
    """
    cutoff = now - dt.timedelta(days=periods.termination_days())
    due = Service.objects.filter(status=S.EXPIRED, expires_at__lte=cutoff, operation="")
    return described(not_held_after(due, cutoff))


def terminate(now: dt.datetime) -> ClaimResult:
    """Terminate the services due (``terminate_due``): their resource is deleted."""
    days = periods.termination_days()
    return _sweep(
        terminate_due(now),
        lambda service: lifecycle.terminate(
            service.pk,
            reason=ngettext(
                "Not renewed within %(count)d day of its expiration.",
                "Not renewed within %(count)d days of its expiration.",
                days,
            )
            % {"count": days},
            actor=None,
            source=AUTOMATION,
        ),
    )


# Expiry notices -----------------------------------------------------------------------


def notify_expiring_due(now: dt.datetime) -> QuerySet[Service]:
    """Services whose customer is to be told at ``now`` that they expire soon."""
    return described(notices.due(now))


def notify_expiring(now: dt.datetime) -> ClaimResult:
    """E-mail the customers whose services expire within the notice days, once per paid
    period (``services.notices``): the notices are claimed here, in batches, and sent by
    the worker; a failed send is tried again next time."""
    return notices.claim_due(now)


def describe(service: Service) -> str:
    """A service as the dry run names it: number, name and customer."""
    email = getattr(service, "customer_email", None) or service.customer.email
    return _("Service #%(id)s '%(name)s' of %(email)s") % {
        "id": service.pk,
        "name": service.name,
        "email": email,
    }


def when(moment: dt.datetime | None) -> str:
    """A moment as the dry run writes it: in the panel's time zone, as every page does."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else _("never")
