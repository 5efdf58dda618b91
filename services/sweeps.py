"""The periodic sweeps of the service lifecycle, run by Celery beat (DESIGN.md, "Background
work"): scheduled cancellations coming due, expirations, terminations after the grace
period, and the notice that a service expires soon.

Each sweep states which services are due (none with an operation in flight) and hands
them one at a time to the lifecycle layer as automation (``clientxcms.claims``), with no
transaction held, because the lifecycle calls the panel after its own claim has
committed. That claim, and the rule book asked again under the lock, keep two workers
from handling the same service; a service changed in between is left alone, and a
second run finds nothing to do. A module failure is recorded on that service and the
sweep goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from clientxcms.claims import ClaimResult, hand_over_each_due
from delivery.modules.base import ModuleError

from . import lifecycle, notices
from .choices import CancelWhen, EventSource, ServiceStatus
from .lifecycle import LifecycleError
from .models import Service

S = ServiceStatus
AUTOMATION = EventSource.AUTOMATION
#: What a sweep returns: how many services changed, and which could not.
SweepResult = ClaimResult


def _sweep(due: QuerySet[Service], apply: Callable[[Service], object]) -> SweepResult:
    return hand_over_each_due(
        due.filter(operation=""), apply, expected=(LifecycleError, ModuleError)
    )


def cancel_scheduled() -> SweepResult:
    """Cancel the services whose end-of-period cancellation has come due.

    Runs before ``expire_due``: a service cancelled at its expiration is cancelled, not
    expired.
    """
    due = Service.objects.filter(
        cancel_at__lte=timezone.now(), status__in=[S.ACTIVE, S.SUSPENDED, S.EXPIRED]
    )
    return _sweep(
        due,
        lambda service: lifecycle.cancel(
            service.pk,
            when=CancelWhen.NOW,
            reason=service.cancel_reason,
            actor=None,
            source=AUTOMATION,
        ),
    )


def expire_due() -> SweepResult:
    """Expire the active and suspended services whose expiration date has passed."""
    due = Service.objects.filter(status__in=[S.ACTIVE, S.SUSPENDED], expires_at__lte=timezone.now())
    return _sweep(due, lambda service: lifecycle.expire(service.pk, actor=None, source=AUTOMATION))


def terminate_after_grace() -> SweepResult:
    """Terminate the services expired for longer than ``SERVICE_TERMINATION_DAYS``."""
    days = settings.SERVICE_TERMINATION_DAYS
    due = Service.objects.filter(
        status=S.EXPIRED, expires_at__lte=timezone.now() - timedelta(days=days)
    )
    return _sweep(
        due,
        lambda service: lifecycle.terminate(
            service.pk,
            reason=f"Not renewed within {days} days of its expiration.",
            actor=None,
            source=AUTOMATION,
        ),
    )


def notify_expiring() -> SweepResult:
    """E-mail the customers whose services expire within ``SERVICE_EXPIRY_NOTICE_DAYS``,
    once per paid period (``services.notices``); a failed send is tried again next time."""
    return hand_over_each_due(notices.due(), notices.send_expiry_notice, expected=(OSError,))


#: The sweeps in the order they run.
SWEEPS: dict[str, Callable[[], SweepResult]] = {
    "scheduled cancellations": cancel_scheduled,
    "expirations": expire_due,
    "terminations": terminate_after_grace,
    "expiry notices": notify_expiring,
}


def run_all() -> dict[str, SweepResult]:
    """Every sweep, in order; what each one did."""
    return {name: sweep() for name, sweep in SWEEPS.items()}
