"""Administration-area views of the services app."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.views.generic import TemplateView

from clientxcms.access import StaffRequiredMixin
from services.choices import STATUS_BADGES, ServiceStatus
from services.models import Service


def status_counts() -> list[dict[str, Any]]:
    """Every status with its label, badge colour and number of services, in lifecycle order.

    One ``GROUP BY status`` query, which the (status, expires_at) index answers; statuses
    with no service are listed with 0 so that the dashboard keeps its shape.
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


class HomeView(StaffRequiredMixin, TemplateView):
    """``/admin/``: the staff dashboard."""

    template_name = "services/admin/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        statuses = status_counts()
        return super().get_context_data(
            statuses=statuses, total=sum(row["count"] for row in statuses), **kwargs
        )
