"""The actions of a service's management tabs (start, restart, reinstall...): one POST each.

A delivery module declares them on its tabs (``Tab.actions``); they are run here only
when the person may see that tab (``services.tabs.tabs_for``: its audience and
permission) and, for staff, holds the action's own permission too. Customers act on their
own services only: another's is a 404, like a tab or an action that does not exist. The
lifecycle calls the panel and records the action in the service's history; its refusal
or the panel's failure comes back as a message on the tab.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View

from clientxcms.access import CustomerRequiredMixin, StaffRequiredMixin, signed_in_user
from delivery.modules.base import Audience, ModuleError, Tab, TabAction
from services import lifecycle
from services.choices import EventSource
from services.lifecycle import LifecycleError
from services.models import Service
from services.tabs import tabs_for


class TabActionView(View):
    """``POST .../services/<pk>/tabs/<key>/actions/<action>/``; a GET is 405."""

    http_method_names = ["post"]
    audience: Audience
    source: str
    tab_url_name: str
    request: HttpRequest

    def get_service(self, pk: int) -> Service:
        raise NotImplementedError

    def allowed(self, action: TabAction) -> bool:
        return True

    def failure_message(self, service: Service, action: TabAction, exc: ModuleError) -> str:
        return exc.message

    def find(self, service: Service, key: str, action_key: str) -> tuple[Tab, TabAction]:
        """The tab and action as this person sees them, or 404."""
        tab = tabs_for(service, self.audience, signed_in_user(self.request)).get(key)
        action = tab.action(action_key) if tab is not None else None
        if tab is None or action is None:
            raise Http404("This service has no such tab action.")
        return tab, action

    def post(self, request: HttpRequest, pk: int, key: str, action: str) -> HttpResponse:
        service = self.get_service(pk)
        tab, tab_action = self.find(service, key, action)
        if not self.allowed(tab_action):
            raise PermissionDenied
        try:
            outcome = lifecycle.run_panel_action(
                service,
                tab=tab,
                action=tab_action,
                actor=signed_in_user(request),
                source=self.source,
            )
        except LifecycleError as exc:
            messages.error(request, exc.message)
        except ModuleError as exc:
            messages.error(request, self.failure_message(service, tab_action, exc))
        else:
            messages.success(
                request, outcome.message or _("%(action)s: done.") % {"action": tab_action.label}
            )
        return redirect(self.tab_url_name, pk=service.pk, key=tab.key)


class StaffTabActionView(StaffRequiredMixin, TabActionView):
    """Staff: the tab's permission (``tabs_for``), then the action's own."""

    permission_required = "services.view_service"
    audience = Audience.STAFF
    source = EventSource.ADMIN
    tab_url_name = "admin:service_tab"

    def get_service(self, pk: int) -> Service:
        return get_object_or_404(
            Service.objects.select_related("customer__user", "product", "server"), pk=pk
        )

    def allowed(self, action: TabAction) -> bool:
        return action.permission is None or self.request.user.has_perm(action.permission)


class ClientTabActionView(CustomerRequiredMixin, TabActionView):
    """Customers: their own services only; the panel's words stay for staff."""

    audience = Audience.CUSTOMER
    source = EventSource.CLIENT
    tab_url_name = "client:service_tab"

    def get_service(self, pk: int) -> Service:
        services = Service.objects.for_customer(self.customer)
        return get_object_or_404(services.select_related("product", "server"), pk=pk)

    def failure_message(self, service: Service, action: TabAction, exc: ModuleError) -> str:
        # The error is in the service's history for staff to read.
        return _(
            "%(action)s could not be done on service #%(id)s right now. Please try again "
            "later or contact support."
        ) % {"action": action.label, "id": service.pk}
