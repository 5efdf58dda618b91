"""A service's page in the administration area: its details, its module's tabs, editing.

The details page is one service with its customer, renewals and history (the
``ServiceEvent`` rows as a timeline of field changes and module results), the
management tabs of its delivery module, and the actions valid for its status.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView, UpdateView

from clientxcms import panels
from clientxcms.access import StaffRequiredMixin, signed_in_user
from delivery.calllog import calls_for_service
from delivery.modules.base import Audience
from delivery.registry import module_label
from products.choices import BillingCycle
from services import lifecycle
from services.actions import CATALOGUE
from services.choices import STATUS_BADGES, EventSource, ServiceStatus
from services.forms.edit import ServiceEditForm
from services.lifecycle import LifecycleError
from services.models import Service, ServiceEvent
from services.tabs import tabs_for
from services.views.admin_actions import offered_actions

#: How much history the page shows; the rest stays in the database.
EVENTS_SHOWN = 50
RENEWALS_SHOWN = 20
MODULE_CALLS_SHOWN = 20

_CHOICE_LABELS = {"status": ServiceStatus, "billing_cycle": BillingCycle}
#: The history's names of the fields that have no verbose name of their own.
_HISTORY_NAMES = {
    "uuid": gettext_lazy("uuid"),
    "description": gettext_lazy("description"),
    "notes": gettext_lazy("notes"),
    "status": gettext_lazy("status"),
    "customer": gettext_lazy("customer"),
    "product": gettext_lazy("product"),
    "server": gettext_lazy("server"),
    "price": gettext_lazy("price"),
    "initial_price": gettext_lazy("initial price"),
    "currency": gettext_lazy("currency"),
    "billing_anchor_day": gettext_lazy("billing anchor day"),
    "renewal_count": gettext_lazy("renewal count"),
    "external_id": gettext_lazy("external id"),
    "module_data": gettext_lazy("module data"),
    "suspended_at": gettext_lazy("suspended at"),
    "suspend_reason": gettext_lazy("suspend reason"),
    "cancel_at": gettext_lazy("cancel at"),
    "cancel_reason": gettext_lazy("cancel reason"),
    "cancel_source": gettext_lazy("cancel source"),
    "cancelled_at": gettext_lazy("cancelled at"),
    "terminated_at": gettext_lazy("terminated at"),
    "delivered_at": gettext_lazy("delivered at"),
    "delivery_attempts": gettext_lazy("delivery attempts"),
    "last_delivery_error": gettext_lazy("last delivery error"),
}
_FIELD_LABELS = {
    f.name: _HISTORY_NAMES.get(f.name, f.verbose_name) for f in Service._meta.concrete_fields
}


def _field_label(field: str) -> str:
    """A field's name in the history, in the reader's language."""
    return str(_FIELD_LABELS[field]).capitalize() if field in _FIELD_LABELS else field


def _display(field: str, value: Any) -> str:
    """A recorded value as a person reads it: labels for choices, dates as dates."""
    if value is None or value == "":
        return "—"
    if field in _CHOICE_LABELS:
        try:
            return str(_CHOICE_LABELS[field](value).label)
        except ValueError:
            return str(value)
    if field in {"customer", "product", "server"}:
        return f"#{value}"
    if isinstance(value, str) and (moment := parse_datetime(value)) is not None:
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return date_format(moment, "DATETIME_FORMAT")
    return str(value)


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class TimelineEntry:
    """One ServiceEvent, ready for the timeline."""

    event: ServiceEvent
    title: str
    changes: list[Change]
    from_badge: str
    to_badge: str

    @property
    def status_changed(self) -> bool:
        return bool(self.event.from_status) and self.event.from_status != self.event.to_status


def timeline_entry(event: ServiceEvent) -> TimelineEntry:
    """Title an event and spell out its field changes (old → new)."""
    spec = CATALOGUE.get(event.action)
    if spec is None:  # an action no longer in the catalogue, kept in old history
        title = event.action.replace("_", " ").capitalize()
    else:
        title = spec.failure_title() if event.error else str(spec.title)
    shows_status = bool(event.from_status) and event.from_status != event.to_status
    changes = [
        Change(_field_label(field), _display(field, old), _display(field, new))
        for field, (old, new) in event.changes.items()
        if not (field == "status" and shows_status)
    ]
    return TimelineEntry(
        event=event,
        title=title,
        changes=changes,
        from_badge=STATUS_BADGES.get(event.from_status, "secondary"),
        to_badge=STATUS_BADGES.get(event.to_status, "secondary"),
    )


class ServiceDetailView(StaffRequiredMixin, DetailView):
    """``/admin/services/<pk>/``: everything about one service, on one page.

    Six queries whatever the history's length: the session, the user, the service
    with its customer, product and server, its latest events, its latest renewals and
    its latest module calls (for staff who may read the call log); then one per panel
    that apps above services register for it (billing's invoices).
    """

    permission_required = "services.view_service"
    template_name = "services/admin/detail.html"
    context_object_name = "service"
    active_tab: str | None = None

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.select_related("customer__user", "product", "server")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        service = self.object
        user = signed_in_user(self.request)
        events = list(service.events.select_related("actor")[: EVENTS_SHOWN + 1])
        renewals = list(service.renewals.select_related("actor")[: RENEWALS_SHOWN + 1])
        return super().get_context_data(
            module_label=module_label(service.module),
            timeline=[timeline_entry(event) for event in events[:EVENTS_SHOWN]],
            more_events=len(events) > EVENTS_SHOWN,
            renewals=renewals[:RENEWALS_SHOWN],
            more_renewals=len(renewals) > RENEWALS_SHOWN,
            actions=offered_actions(service, user),
            can_edit=user.has_perm("services.change_service"),
            max_attempts=settings.OPERATION_MAX_ATTEMPTS,
            # Whether a hold agreed with the customer is over.
            now=timezone.now(),
            # What apps above services show about it (billing: its invoices), DESIGN.md §3.
            panels=panels.bind_panels(panels.panels_for("service", user), service, self.request),
            active_tab=self.active_tab,
            # Its latest calls to the panel, for staff who may read the call log: one query.
            module_calls=calls_for_service(service.pk, limit=MODULE_CALLS_SHOWN)
            if user.has_perm("delivery.view_modulecall")
            else None,
            module_calls_shown=MODULE_CALLS_SHOWN,
            **kwargs,
        )


class ServiceTabView(ServiceDetailView):
    """``/admin/services/<pk>/tabs/<key>/``: the details page opened on one module tab.

    htmx (clicking a tab on the page) gets only the tabs component; a plain request (a
    bookmark, a reload) gets the whole page with that tab open.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        self.active_tab = kwargs["key"]
        tabset = tabs_for(self.object, Audience.STAFF, signed_in_user(request))
        if not tabset.error and tabset.get(self.active_tab) is None:
            raise Http404("This service has no such tab.")
        if request.headers.get("HX-Request"):
            return render(
                request,
                "services/admin/tabs/panel.html",
                {"service": self.object, "active_tab": self.active_tab},
            )
        return self.render_to_response(self.get_context_data(object=self.object))


class ServiceEditView(StaffRequiredMixin, UpdateView):
    """``/admin/services/<pk>/edit/``: the seed's "Editing", saved by ``lifecycle.update``
    so that every change is recorded with its old and new value."""

    permission_required = "services.change_service"
    template_name = "services/admin/edit.html"
    form_class = ServiceEditForm
    context_object_name = "service"

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.select_related("customer__user", "product", "server")

    def get_form_kwargs(self) -> dict[str, Any]:
        # The form writes the values it validates onto its instance; a copy keeps the page
        # around a refused form showing the service as it is stored.
        return {**super().get_form_kwargs(), "instance": copy.copy(self.object)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(module_label=module_label(self.object.module), **kwargs)

    def form_valid(self, form: ServiceEditForm) -> HttpResponse:
        changes = form.changes()
        if not changes:
            messages.info(self.request, _("Nothing was changed."))
            return redirect("admin:service_detail", pk=self.object.pk)
        try:
            lifecycle.update(
                self.object.pk,
                changes=changes,
                actor=signed_in_user(self.request),
                source=EventSource.ADMIN,
                reason=form.cleaned_data["reason"],
            )
        except LifecycleError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        fields = ", ".join(form[name].label.lower() for name in changes)
        messages.success(
            self.request,
            _("Service #%(id)s saved: %(fields)s changed.")
            % {"id": self.object.pk, "fields": fields},
        )
        return redirect("admin:service_detail", pk=self.object.pk)
