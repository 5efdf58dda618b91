"""Client-area views of the services app: every query starts from the signed-in customer."""

from __future__ import annotations

from django.db.models import QuerySet
from django.views.generic import ListView

from clientxcms.access import CustomerRequiredMixin
from services.choices import ServiceStatus
from services.models import Service


class HomeView(CustomerRequiredMixin, ListView):
    """``/client/``: the customer's active services, the soonest to expire first."""

    template_name = "services/client/home.html"
    context_object_name = "services"

    def get_queryset(self) -> QuerySet[Service]:
        return (
            Service.objects.for_customer(self.customer)
            .filter(status=ServiceStatus.ACTIVE)
            .select_related("product")
            .order_by("expires_at", "id")
        )
