"""The periodic sweeps of the service lifecycle, run by Celery beat (DESIGN.md, "Background
work"): scheduled cancellations coming due, expirations, and terminations after the grace
period.

Each sweep selects its rows with an index, then claims each one in a transaction of its
own with ``select_for_update(skip_locked=True)`` and the same condition again, so that two
workers never handle the same service, a service changed in between is left alone, and a
second run finds nothing to do. Each service goes through the lifecycle layer as
automation; a module failure is recorded on that service and the sweep goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from delivery.modules.base import ModuleError

from . import lifecycle
from .choices import CancelWhen, EventSource, ServiceStatus
from .lifecycle import LifecycleError
from .models import Service

logger = logging.getLogger(__name__)
S = ServiceStatus
AUTOMATION = {"actor": None, "source": EventSource.AUTOMATION}
BATCH_SIZE = 500


@dataclass
class SweepResult:
    """How many services a sweep changed, and which it could not."""

    done: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def _sweep(due: Q, apply: Callable[[Service], object]) -> SweepResult:
    result = SweepResult()
    after = 0
    while True:
        ids = list(
            Service.objects.filter(due, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return result
        for pk in ids:
            with transaction.atomic():
                service = (
                    Service.objects.select_for_update(skip_locked=True).filter(due, pk=pk).first()
                )
                if service is None:
                    continue  # another worker holds it, or it is no longer due
                try:
                    apply(service)
                except (LifecycleError, ModuleError) as exc:
                    logger.warning("Sweep could not change service %s: %s", pk, exc)
                    result.failed.append((pk, str(exc)))
                else:
                    result.done += 1
        after = ids[-1]


def cancel_scheduled() -> SweepResult:
    """Cancel the services whose end-of-period cancellation has come due.

    Runs before ``expire_due``: a service cancelled at its expiration is cancelled, not
    expired.
    """
    due = Q(cancel_at__lte=timezone.now(), status__in=[S.ACTIVE, S.SUSPENDED, S.EXPIRED])
    return _sweep(
        due,
        lambda service: lifecycle.cancel(
            service.pk, when=CancelWhen.NOW, reason=service.cancel_reason, **AUTOMATION
        ),
    )


def expire_due() -> SweepResult:
    """Expire the active and suspended services whose expiration date has passed."""
    due = Q(status__in=[S.ACTIVE, S.SUSPENDED], expires_at__lte=timezone.now())
    return _sweep(due, lambda service: lifecycle.expire(service.pk, **AUTOMATION))


def terminate_after_grace() -> SweepResult:
    """Terminate the services expired for longer than ``SERVICE_TERMINATION_DAYS``."""
    days = settings.SERVICE_TERMINATION_DAYS
    due = Q(status=S.EXPIRED, expires_at__lte=timezone.now() - timedelta(days=days))
    return _sweep(
        due,
        lambda service: lifecycle.terminate(
            service.pk, reason=f"Not renewed within {days} days of its expiration.", **AUTOMATION
        ),
    )


#: The sweeps in the order they run.
SWEEPS: dict[str, Callable[[], SweepResult]] = {
    "scheduled cancellations": cancel_scheduled,
    "expirations": expire_due,
    "terminations": terminate_after_grace,
}


def run_all() -> dict[str, SweepResult]:
    """Every sweep, in order; what each one did."""
    return {name: sweep() for name, sweep in SWEEPS.items()}
