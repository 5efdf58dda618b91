"""The staff dashboard, ``/admin/``: where staff land after signing in.

It is the one place allowed to read every app (DESIGN.md §3), so that no other app
needs to know the others to sum them up. Today it shows services; billing's figures
will join them here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone
from django.views.generic import TemplateView

from automation import schedule
from clientxcms.access import StaffRequiredMixin
from delivery.models import ServerGroup
from services import retries
from services.choices import ServiceStatus
from services.models import Service, ServiceEvent
from services.placement import group_usage, used_percent
from services.stats import status_counts

from . import charts

EXPIRING_WITHIN = timedelta(days=7)
#: Rows in each of the dashboard's lists; each list is one query with this LIMIT.
DASHBOARD_ROWS = 10
#: The count of services needing attention stops here ("1,000+"): never a full count.
ATTENTION_COUNT_CAP = 1000


def expiring_soon() -> list[Service]:
    """Active and suspended services expiring within a week, the soonest first.

    One query per status, each a range of the (status, expires_at) index read in order and
    cut at DASHBOARD_ROWS, merged here: one query over both statuses cannot read the index
    in expiration order (its rows come from two ranges), so PostgreSQL read every service
    expiring within the week (94,000 at a million) to sort them for the first ten.
    """
    now = timezone.now()
    rows: list[Service] = []
    for status in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
        rows += (
            Service.objects.filter(
                status=status, expires_at__gte=now, expires_at__lt=now + EXPIRING_WITHIN
            )
            .select_related("customer", "product")
            .order_by("expires_at", "id")[:DASHBOARD_ROWS]
        )
    return sorted(rows, key=lambda service: (service.expires_at, service.pk))[:DASHBOARD_ROWS]


def needing_attention() -> tuple[list[Service], int]:
    """Services with an operation in flight or a failed delivery (``services.retries``):
    the latest first, and how many in all, counted up to ``ATTENTION_COUNT_CAP``.

    Both read the partial index ``service_attention_idx``, which holds these services
    only: without it the failed deliveries were found by reading every pending service.
    """
    services = retries.needing_attention()
    rows = list(
        services.select_related("customer", "product").order_by("-updated_at", "-id")[
            :DASHBOARD_ROWS
        ]
    )
    count = services.order_by()[:ATTENTION_COUNT_CAP].count()
    return rows, count


def recent_events() -> QuerySet[ServiceEvent]:
    """The latest service events, with their service and actor.

    Ordered by id, which follows creation: the primary key's index serves it, where
    ``created_at`` has no index of its own.
    """
    return ServiceEvent.objects.select_related("service", "actor").order_by("-id")[:DASHBOARD_ROWS]


def groups_over_threshold() -> list[ServerGroup]:
    """The server groups whose active servers' live services reach their warning share
    of the room, the fullest first: one query, whatever the number of groups or servers.

    A group with no limited room (a server without a maximum) never warns; one whose
    active servers have no room at all does.
    """
    groups = (
        ServerGroup.objects.filter(warn_at_percent__isnull=False)
        .with_capacity()
        .annotate(**group_usage())
        .filter(unlimited=False)  # type: ignore[misc]  # annotated by with_capacity()
        .alias(margin=F("live_service_count") * 100 - F("warn_at_percent") * F("capacity"))
        .filter(margin__gte=0)
        .order_by("-margin", "name")[:DASHBOARD_ROWS]
    )
    rows = list(groups)
    for group in rows:
        group.used_percent = used_percent(group.live_service_count, group.capacity)  # type: ignore[attr-defined]
    return rows


class HomeView(StaffRequiredMixin, TemplateView):
    """``/admin/``: the staff dashboard.

    Every member of staff lands here after signing in, so the page itself needs no
    permission; what it shows about services needs ``services.view_service``. Its cost
    does not depend on the amount of data: the counts the database keeps per status
    (``services.stats``), then lists that are each read by an index and cut at
    DASHBOARD_ROWS (one query per status for the expiring services), the server
    groups past their warning threshold (one query, for staff who may see servers), and
    the charts: the counts per status above, and the others as the periodic task
    ``dashboard.charts`` last stored them (one row, one query; the money for staff who
    may see invoices), never computed here.
    """

    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if self.request.user.has_perm("automation.view_taskrun"):
            # The heartbeat WHMCS and FOSSBilling show: is the automation running at all?
            kwargs["pulse"] = schedule.pulse()
        if not self.request.user.has_perm("services.view_service"):
            return super().get_context_data(can_view_services=False, **kwargs)
        statuses = status_counts()
        attention, attention_count = needing_attention()
        if self.request.user.has_perm("delivery.view_server"):
            kwargs["full_groups"] = groups_over_threshold()
        # Money is billing's: staff who may not read invoices see no revenue.
        snapshot = charts.load(money=self.request.user.has_perm("billing.view_invoice"))
        service_charts = [charts.status_chart(statuses)]
        if snapshot is None:
            # A fresh install: the task has not run yet. Asked for, never computed here.
            charts.refresh_soon()
        else:
            service_charts += snapshot.charts
            kwargs["charts_computed_at"] = snapshot.computed_at
            day = timezone.localdate(snapshot.computed_at)
            # The day too when it is not today (the automation stopped, say).
            kwargs["charts_computed_on"] = day if day != timezone.localdate() else None
        kwargs["charts_pending"] = snapshot is None
        kwargs["charts"] = service_charts
        kwargs["chart_specs"] = [chart.spec() for chart in service_charts]
        return super().get_context_data(
            can_view_services=True,
            statuses=statuses,
            total=sum(row["count"] for row in statuses),
            expiring=expiring_soon(),
            attention=attention,
            attention_count=attention_count,
            attention_cap=ATTENTION_COUNT_CAP,
            events=recent_events(),
            **kwargs,
        )
