"""Services per status, for the dashboard and the list's tabs: one query, cached briefly.

Counting is a scan of the status index, too dear for every page view with a million
services (DESIGN.md §3), so the figures may be up to ``STATUS_COUNTS_TTL`` seconds old;
a bulk operation forgets them when it ends, since it moves many services at once.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Count

from .choices import STATUS_BADGES, ServiceStatus
from .models import Service

STATUS_COUNTS_CACHE_KEY = "services:status-counts"
STATUS_COUNTS_TTL = 30


def status_counts() -> list[dict[str, Any]]:
    """Every status with its label, badge colour and number of services, in lifecycle order.

    One ``GROUP BY status`` query, which the (status, expires_at) index answers; statuses
    with no service are listed with 0 so that the pages keep their shape.
    """
    grouped = Service.objects.order_by().values("status").annotate(total=Count("id"))
    counts = {row["status"]: row["total"] for row in grouped}
    return [
        {
            "status": status.value,
            "label": status.label,
            "badge": STATUS_BADGES[status],
            "count": counts.get(status.value, 0),
        }
        for status in ServiceStatus
    ]


def cached_status_counts() -> list[dict[str, Any]]:
    """``status_counts()``, computed at most once every ``STATUS_COUNTS_TTL`` seconds."""
    # The stubs allow None, which get_or_set() returns only for a None default.
    return cache.get_or_set(STATUS_COUNTS_CACHE_KEY, status_counts, STATUS_COUNTS_TTL)  # type: ignore[return-value]


def forget_status_counts() -> None:
    cache.delete(STATUS_COUNTS_CACHE_KEY)
