"""Client-area views of the services app: every query starts from the signed-in customer.

Each view finds services through ``Service.objects.for_customer(...)``, so another
customer's service is simply not found (404, never 403: a 403 would confirm it exists).
The pages show what the customer bought, never what staff keep about it (notes, module
data, the resource id, the suspension reason, the last delivery error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.db.models import BooleanField, Case, F, QuerySet, Value, When
from django.db.models.expressions import OrderBy
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView

from clientxcms import panels
from clientxcms.access import CustomerRequiredMixin, signed_in_user
from delivery.modules.base import Audience, ModuleError
from delivery.registry import UnknownModule
from services import lifecycle, rules
from services.choices import RENEWABLE, EventSource, ServiceAction, ServiceStatus
from services.forms.client import ClientCancelForm
from services.lifecycle import LifecycleError
from services.models import Service
from services.tabs import tabs_for

#: How many renewals the details page shows; older ones stay in the database.
RENEWALS_SHOWN = 20


#: How many services the home page lists: the ones that matter most, whatever the total,
#: so a customer with 2,000 services gets it as fast as one with 5.
HOME_SERVICES = 25
#: A service whose expiration is this close is listed first (DESIGN.md §2: the renewal
#: invoice is made 7 days before expiration).
RENEWAL_LEAD_DAYS = 7


def service_rows(
    customer_services: QuerySet[Service], columns: list[panels.Column], *then: str | OrderBy
) -> QuerySet[Service]:
    """``customer_services`` in the order of the client tables, in one query: first those
    other apps flag (billing: an unpaid invoice), then those expiring within the renewal
    lead time (or expired, still renewable), then in the order ``then``."""
    soon = timezone.now() + dt.timedelta(days=RENEWAL_LEAD_DAYS)
    rows = panels.annotate(customer_services.select_related("product"), columns).annotate(
        expiring_soon=Case(
            When(status__in=RENEWABLE, expires_at__lte=soon, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    flagged = [F(column.first_when).desc() for column in columns if column.first_when]
    return rows.order_by(*flagged, F("expiring_soon").desc(), *then)


def reference_of(service: Service) -> str:
    """What tells ``service`` apart (its hostname, address...), as its module says; ""
    for a module no longer installed, whose service still shows in the tables."""
    try:
        return service.delivery_module.display_reference(service)
    except UnknownModule:
        return ""


class ServiceTableMixin:
    """The rows of the client service tables: each with its ``reference`` and the cells
    other apps register for ``CLIENT_SERVICE_ROWS`` (billing: Renew, or pay the invoice)."""

    request: HttpRequest

    @property
    def row_columns(self) -> list[panels.Column]:
        if not hasattr(self, "_row_columns"):
            self._row_columns = panels.columns_for(panels.CLIENT_SERVICE_ROWS, self.request.user)
        return self._row_columns

    def prepare_rows(self, services: Iterable[Service]) -> None:
        services = list(services)
        for service in services:
            service.reference = reference_of(service)  # type: ignore[attr-defined]  # for the template
        panels.bind_cells(self.row_columns, services, self.request)


class HomeView(CustomerRequiredMixin, ServiceTableMixin, ListView):
    """``/client/``: the customer's active (and expired, still renewable) services, those
    that need them first (an unpaid invoice, an expiration within the lead time), bounded to
    ``HOME_SERVICES``: one more is read to know whether to say there are more."""

    template_name = "services/client/home.html"
    context_object_name = "services"

    def get_queryset(self) -> QuerySet[Service]:
        # Expired services are still renewable for the grace period: the customer must see them.
        current = Service.objects.for_customer(self.customer).filter(
            status__in=[ServiceStatus.ACTIVE, ServiceStatus.EXPIRED]
        )
        return service_rows(current, self.row_columns, F("expires_at").asc(nulls_last=True), "id")[
            : HOME_SERVICES + 1
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Plus what other apps show there (billing: the balance and unpaid invoices),
        through the panel registry, as this app may not import them."""
        rows = list(self.object_list)
        shown = rows[:HOME_SERVICES]
        self.prepare_rows(shown)
        home_panels = panels.panels_for(panels.CLIENT_HOME, self.request.user)
        return super().get_context_data(
            object_list=shown,
            more_services=len(rows) > HOME_SERVICES,
            home_panels=panels.bind_panels(home_panels, self.customer, self.request),
            **kwargs,
        )


class ServiceListView(CustomerRequiredMixin, ServiceTableMixin, ListView):
    """``/client/services/``: every service of the customer, whatever its status: those
    that need them first, then the newest.

    A customer has few services, so Django's paginator (and its COUNT over the customer's
    rows, served by the customer/status index) is fine here, unlike the staff list.
    """

    template_name = "services/client/list.html"
    context_object_name = "services"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[Service]:
        customer_services = Service.objects.for_customer(self.customer)
        return service_rows(customer_services, self.row_columns, "-created_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        self.prepare_rows(context["object_list"])
        return context


def allows(service: Service, action: ServiceAction) -> bool:
    """Whether the rule book lets the customer run ``action`` on ``service`` now."""
    return rules.decide(service, action, rules.Context(source=EventSource.CLIENT)).allowed


class ServiceDetailView(CustomerRequiredMixin, DetailView):
    """``/client/services/<pk>/``: one service, its renewals and its management tabs.

    Five queries: the session, the user, the customer, the service with its product, and
    its latest renewals. The open tab is loaded by htmx once the page is there.
    """

    template_name = "services/client/detail.html"
    context_object_name = "service"
    active_tab: str | None = None

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.for_customer(self.customer).select_related("product")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        service = self.object
        renewals = list(service.renewals.all()[: RENEWALS_SHOWN + 1])
        return super().get_context_data(
            renewals=renewals[:RENEWALS_SHOWN],
            more_renewals=len(renewals) > RENEWALS_SHOWN,
            cancel_form=(
                ClientCancelForm(service=service) if allows(service, ServiceAction.CANCEL) else None
            ),
            can_uncancel=allows(service, ServiceAction.UNCANCEL),
            cancel_scheduled_by_staff=(
                service.cancel_at is not None and service.cancel_source != EventSource.CLIENT
            ),
            active_tab=self.active_tab,
            # Billing's Renew card, through the registry: this app may not import billing.
            service_panels=panels.bind_panels(
                panels.panels_for(panels.CLIENT_SERVICE, self.request.user), service, self.request
            ),
            **kwargs,
        )


class ServiceTabView(ServiceDetailView):
    """``/client/services/<pk>/tabs/<key>/``: the details page opened on one customer tab.

    A tab the customer may not see (a staff-only one) is a 404, like a tab that does not
    exist. htmx gets only the tabs component; a plain request gets the whole page.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        self.active_tab = kwargs["key"]
        tabset = tabs_for(self.object, Audience.CUSTOMER, signed_in_user(request))
        if not tabset.error and tabset.get(self.active_tab) is None:
            raise Http404("This service has no such tab.")
        if request.headers.get("HX-Request"):
            return render(
                request,
                "services/client/tab_panel.html",
                {"service": self.object, "active_tab": self.active_tab},
            )
        return self.render_to_response(self.get_context_data(object=self.object))


class ServiceActionView(CustomerRequiredMixin, View):
    """A POST on one of the customer's services; a GET is 405, another's service 404.

    The lifecycle decides: its refusal, or the module's failure, is shown as a message on
    the details page the customer is sent back to.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.for_customer(self.customer), pk=pk)
        try:
            message = self.act(service)
        except LifecycleError as exc:
            messages.error(request, exc.message)
        except ModuleError:
            # The error is kept on the service and in its history for staff to see.
            messages.error(
                request,
                _(
                    "Service #%(id)s could not be changed right now. Please try again later or "
                    "contact support."
                )
                % {"id": service.pk},
            )
        else:
            messages.success(request, message)
        return redirect("client:service_detail", pk=service.pk)

    def act(self, service: Service) -> str:
        """Run the operation and say what was done."""
        raise NotImplementedError


class ServiceCancelView(ServiceActionView):
    """``/client/services/<pk>/cancel/``: cancel now, or at the end of the paid period."""

    def act(self, service: Service) -> str:
        form = ClientCancelForm(self.request.POST, service=service)
        if not form.is_valid():
            raise LifecycleError(
                " ".join(str(e) for errors in form.errors.values() for e in errors)
            )
        result = lifecycle.perform(
            ServiceAction.CANCEL,
            service.pk,
            actor=signed_in_user(self.request),
            source=EventSource.CLIENT,
            params=form.cleaned_data,
        ).service
        if result.status == ServiceStatus.CANCELLED:
            return _("Service #%(id)s is cancelled.") % {"id": result.pk}
        ends = date_format(localtime(result.cancel_at), "DATE_FORMAT")
        return _("Service #%(id)s will be cancelled on %(date)s.") % {"id": result.pk, "date": ends}


class ServiceUncancelView(ServiceActionView):
    """``/client/services/<pk>/uncancel/``: undo a scheduled cancellation."""

    def act(self, service: Service) -> str:
        outcome = lifecycle.perform(
            ServiceAction.UNCANCEL,
            service.pk,
            actor=signed_in_user(self.request),
            source=EventSource.CLIENT,
            params={},
        )
        if not outcome.changed:
            return _("Nothing to do for service #%(id)s: %(message)s.") % {
                "id": service.pk,
                "message": outcome.message,
            }
        return _("Service #%(id)s will no longer be cancelled.") % {"id": service.pk}
