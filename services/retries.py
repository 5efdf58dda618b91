"""Operations in flight and failed deliveries: taking over what is due, and what staff see.

The lifecycle claims an operation before calling a panel (``services.lifecycle``). What
is left in flight — a retryable failure waiting for its next try, a claim whose process
died, an install the panel is still running — carries the time it is due again; the
periodic task here (``services.automation``) hands each due service to
``lifecycle.resume``, one at a time, so one failure never stops the others and a second
run finds nothing due.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import QuerySet

from clientxcms.claims import ClaimResult
from delivery.modules.base import ModuleError

from . import lifecycle
from .lifecycle import LifecycleError
from .models import NEEDS_ATTENTION, Service

logger = logging.getLogger(__name__)


def due(now: dt.datetime) -> QuerySet[Service]:
    """Services whose operation in flight is due to be taken over at ``now`` (an index on
    the time)."""
    return Service.objects.filter(operation_due_at__lte=now).exclude(operation="")


def resume_due(now: dt.datetime, *, limit: int = 1000) -> ClaimResult:
    """Take over each operation due at ``now`` in turn; ``limit`` bounds one pass (the next
    pass goes on).

    Done: an operation finished, or given up at its limit. Skipped: one still waiting for
    the panel (an install), or that another worker took over or finished first. Failed:
    one that failed again, with the module's message (it is retried later, with backoff).
    """
    result = ClaimResult()
    keys = list(due(now).order_by("operation_due_at").values_list("pk", flat=True)[:limit])
    for pk in keys:
        try:
            outcome = lifecycle.resume(pk)
        except (LifecycleError, ModuleError) as exc:
            result.failed.append((pk, exc.message))
            continue
        if outcome.changed and not outcome.waiting:
            result.done += 1
        else:
            result.skipped += 1
    if result.failed:
        logger.warning("%d operations failed again: %s", len(result.failed), result.failed[:10])
    return result


def needing_attention() -> QuerySet[Service]:
    """Services staff should look at: an operation in flight, or a delivery that failed
    (pending with the module's error kept)."""
    # The condition of the partial index service_attention_idx, word for word.
    return Service.objects.filter(NEEDS_ATTENTION)
