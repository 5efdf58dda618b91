"""Operations in flight and failed deliveries: taking over what is due, and what staff see.

The lifecycle claims an operation before calling a panel (``services.lifecycle``). What
is left in flight — a retryable failure waiting for its next try, a claim whose process
died, an install the panel is still running — carries the time it is due again; the
periodic task here hands each due service to ``lifecycle.resume``, one at a time, so one
failure never stops the others and a second run finds nothing due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from delivery.modules.base import ModuleError

from . import lifecycle
from .choices import ServiceStatus
from .lifecycle import LifecycleError
from .models import Service

logger = logging.getLogger(__name__)


@dataclass
class ResumeResult:
    """What one pass did: operations finished (or given up), still waiting, failed again."""

    finished: int = 0
    waiting: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def due() -> QuerySet[Service]:
    """Services whose operation in flight is due to be taken over (an index on the time)."""
    return Service.objects.filter(operation_due_at__lte=timezone.now()).exclude(operation="")


def resume_due(*, limit: int = 1000) -> ResumeResult:
    """Take over each due operation in turn; ``limit`` bounds one pass (the next pass goes on)."""
    result = ResumeResult()
    keys = list(due().order_by("operation_due_at").values_list("pk", flat=True)[:limit])
    for pk in keys:
        try:
            outcome = lifecycle.resume(pk)
        except (LifecycleError, ModuleError) as exc:
            result.failed.append((pk, exc.message))
            continue
        if outcome.waiting:
            result.waiting += 1
        elif outcome.changed:
            result.finished += 1
    if result.failed:
        logger.warning("%d operations failed again: %s", len(result.failed), result.failed[:10])
    return result


def needing_attention() -> QuerySet[Service]:
    """Services staff should look at: an operation in flight, or a delivery that failed
    (pending with the module's error kept)."""
    failed_delivery = Q(status=ServiceStatus.PENDING) & ~Q(last_delivery_error="")
    return Service.objects.filter(~Q(operation="") | failed_delivery)
