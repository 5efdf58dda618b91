"""What services show on the pages of the apps below them (DESIGN.md §3).

The customer, product and server pages know nothing of services: they render the
panels, columns and filters of ``clientxcms.panels`` registered for their model, and
``ServicesConfig.ready()`` registers these. Each needs ``services.view_service``: staff
without it see those pages without their services, and the pages skip the queries.

Counts are correlated subqueries added to the page's own query (``subquery_count``), so
each list stays one query for its rows whatever the page size, and tables are cut to
their latest rows, so a customer with three thousand services costs what one with three
does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy, pgettext_lazy

from clientxcms import panels
from clientxcms.queries import subquery_count
from customers.models import Customer
from delivery.models import Server, ServerGroup

from .choices import LIVE, ServiceStatus
from .models import Service, ServiceEvent, ServiceRenewal
from .placement import group_usage, used_percent

#: Marks the panels' texts: translated when shown (lazy strings the registry holds as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)

VIEW_SERVICES = "services.view_service"
#: Rows of each table on a customer's page; the rest is one click away in the lists.
CUSTOMER_SERVICES_SHOWN = 15
CUSTOMER_RENEWALS_SHOWN = 10
CUSTOMER_EVENTS_SHOWN = 15

NO_SERVICE = "none"
ANY_SERVICE = "any"
SERVICE_CHOICES = [
    (ANY_SERVICE, _("With services")),
    (NO_SERVICE, _("Without services")),
    (ServiceStatus.PENDING.value, pgettext_lazy("customers filter", "With pending services")),
    (ServiceStatus.ACTIVE.value, pgettext_lazy("customers filter", "With active services")),
    (ServiceStatus.SUSPENDED.value, pgettext_lazy("customers filter", "With suspended services")),
    (ServiceStatus.EXPIRED.value, pgettext_lazy("customers filter", "With expired services")),
    (ServiceStatus.CANCELLED.value, pgettext_lazy("customers filter", "With cancelled services")),
    (
        ServiceStatus.TERMINATED.value,
        pgettext_lazy("customers filter", "With terminated services"),
    ),
]


def service_counts(field: str) -> dict[str, Any]:
    """How many services (all, and live) point at each row through ``field``."""
    return {
        "service_count": subquery_count(Service.objects.all(), field),
        "live_service_count": subquery_count(Service.objects.filter(status__in=LIVE), field),
    }


def filter_customers_by_services(
    queryset: QuerySet[Customer], name: str, value: str
) -> QuerySet[Customer]:
    """An ``EXISTS`` on the (customer, status) index, rather than a join that repeats rows."""
    services = Service.objects.filter(customer=OuterRef("pk"))
    if value == NO_SERVICE:
        return queryset.filter(~Exists(services))
    if value != ANY_SERVICE:
        services = services.filter(status=value)
    return queryset.filter(Exists(services))


def customer_services(customer: Customer) -> dict[str, Any]:
    return {
        "services": customer.services.select_related("product", "server").order_by("-id")[
            :CUSTOMER_SERVICES_SHOWN
        ]
    }


def customer_renewals(customer: Customer) -> dict[str, Any]:
    return {
        "renewals": ServiceRenewal.objects.filter(service__customer=customer)
        .select_related("service", "actor")
        .order_by("-created_at", "-id")[:CUSTOMER_RENEWALS_SHOWN]
    }


def customer_events(customer: Customer) -> dict[str, Any]:
    return {
        "events": ServiceEvent.objects.filter(service__customer=customer)
        .select_related("service", "actor")
        .order_by("-created_at", "-id")[:CUSTOMER_EVENTS_SHOWN]
    }


def server_capacity(server: Server) -> dict[str, Any]:
    """The share of the server's accounts its live services take, in percent (at most 100)."""
    used: int = getattr(server, "live_service_count", 0)
    if not server.max_accounts:
        return {"capacity_percent": None}
    return {"capacity_percent": min(100, round(100 * used / server.max_accounts))}


def group_capacity(group: ServerGroup) -> dict[str, Any]:
    """The share of the room of the group's active servers that their live services take."""
    if getattr(group, "unlimited", False):
        return {"capacity_percent": None}
    used: int = getattr(group, "live_service_count", 0)
    return {"capacity_percent": used_percent(used, getattr(group, "capacity", 0))}


def register() -> None:
    """Register every contribution of services; called once, by ``ServicesConfig.ready``."""
    for contribution in (
        panels.Column(
            model="customer",
            key="services",
            label=_("Services"),
            note=_("live / all"),
            header_class="text-end",
            template="services/panels/customer_services_cell.html",
            permission=VIEW_SERVICES,
            annotations=lambda: service_counts("customer"),
        ),
        panels.ListFilter(
            model="customer",
            key="services",
            permission=VIEW_SERVICES,
            build=lambda: django_filters.ChoiceFilter(
                label=_("Services"),
                method=filter_customers_by_services,
                choices=SERVICE_CHOICES,
                empty_label=_("Any services"),
            ),
        ),
        panels.Panel(
            model="customer",
            key="services",
            label=_("Services"),
            order=10,
            template="services/panels/customer_services.html",
            permission=VIEW_SERVICES,
            context=customer_services,
            annotations=lambda: service_counts("customer"),
        ),
        panels.Panel(
            model="customer",
            key="renewals",
            label=_("Renewals"),
            order=20,
            template="services/panels/customer_renewals.html",
            permission=VIEW_SERVICES,
            context=customer_renewals,
        ),
        panels.Panel(
            model="customer",
            key="history",
            label=_("History"),
            order=30,
            template="services/panels/customer_history.html",
            permission=VIEW_SERVICES,
            context=customer_events,
        ),
        panels.Column(
            model="product",
            key="services",
            label=_("Services"),
            header_class="text-end",
            template="services/panels/product_services_cell.html",
            permission=VIEW_SERVICES,
            annotations=lambda: {"service_count": subquery_count(Service.objects.all(), "product")},
        ),
        panels.Column(
            model="server",
            key="capacity",
            label=_("Capacity used"),
            note=_("live services"),
            template="services/panels/server_capacity_cell.html",
            permission=VIEW_SERVICES,
            context=server_capacity,
            annotations=lambda: {
                "live_service_count": subquery_count(
                    Service.objects.filter(status__in=LIVE), "server"
                )
            },
        ),
        panels.Column(
            model="server_group",
            key="capacity",
            label=_("Capacity used"),
            note=_("live services on its active servers"),
            template="services/panels/server_group_capacity_cell.html",
            permission=VIEW_SERVICES,
            context=group_capacity,
            annotations=group_usage,
        ),
    ):
        panels.register(contribution)
