"""Staff views of servers: the list with their capacity, creating and editing them with
their module's credentials, and testing the connection to them."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import CreateView, ListView, UpdateView

from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from clientxcms.queries import subquery_count
from services.choices import LIVE
from services.models import Service

from .choices import SERVER_STATUS_BADGES
from .forms import ServerForm
from .models import Server
from .modules.base import ModuleError
from .registry import UnknownModule, module_choices

logger = logging.getLogger(__name__)


def module_labels() -> dict[str, str]:
    """The label of every registered module, by key, to show a product's or server's type."""
    return dict(module_choices())


def safe_next(request: HttpRequest, default: str) -> str:
    """The ``next`` of a POST when it points into this site, else ``default``."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


class ModuleSettingsSwapMixin:
    """Create and edit pages whose form has a type and that type's settings form.

    When the type changes, htmx asks the same page (``GET ?module=<key>`` with its
    ``HX-Request`` header) for the settings of that type only and swaps them in; the
    page then works the same without JavaScript, minus the swap.
    """

    settings_template_name = "delivery/admin/_module_settings.html"
    settings_title = "Settings"
    request: HttpRequest
    object: Any

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.headers.get("HX-Request") == "true" and "module" in request.GET:
            self.object = self.get_object()  # type: ignore[attr-defined]
            form = self.get_form_class()(  # type: ignore[attr-defined]
                instance=self.object, initial={"module": request.GET["module"]}
            )
            return TemplateResponse(
                request,
                self.settings_template_name,
                {"form": form, "settings_title": self.settings_title},
            )
        return super().get(request, *args, **kwargs)  # type: ignore[misc]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(settings_title=self.settings_title, **kwargs)  # type: ignore[misc]
        context["form"].fields["module"].widget.attrs.update(
            {"hx-get": self.request.path, "hx-target": "#module-settings", "hx-trigger": "change"}
        )
        return context


class ServerListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """``/admin/servers/``: each server with its live services against its capacity."""

    permission_required = "delivery.view_server"
    template_name = "delivery/admin/list.html"
    context_object_name = "servers"

    def get_queryset(self) -> QuerySet[Server]:
        live = Service.objects.filter(status__in=LIVE)
        return Server.objects.annotate(live_service_count=subquery_count(live, "server"))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        labels = module_labels()
        for server in context["servers"]:
            server.module_label = labels.get(server.module, server.module)
            server.status_badge = SERVER_STATUS_BADGES.get(server.status, "secondary")
            server.capacity_percent = (
                min(100, round(100 * server.live_service_count / server.max_accounts))
                if server.max_accounts
                else None
            )
        return context


class ServerCreateView(StaffRequiredMixin, ModuleSettingsSwapMixin, CreateView):
    """``/admin/servers/add/``."""

    permission_required = "delivery.add_server"
    template_name = "delivery/admin/form.html"
    form_class = ServerForm
    settings_title = "Credentials"

    def get_object(self) -> Server:
        return Server()

    def form_valid(self, form: ServerForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Created the server {self.object}.")
        return response

    def get_success_url(self) -> str:
        return reverse("admin:server_list")


class ServerUpdateView(StaffRequiredMixin, ModuleSettingsSwapMixin, UpdateView):
    """``/admin/servers/<pk>/edit/``: credentials left empty keep their stored value."""

    permission_required = "delivery.change_server"
    template_name = "delivery/admin/form.html"
    form_class = ServerForm
    model = Server
    settings_title = "Credentials"

    def form_valid(self, form: ServerForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Saved the server {self.object}.")
        return response

    def get_success_url(self) -> str:
        return reverse("admin:server_list")


class ServerTestConnectionView(StaffRequiredMixin, View):
    """POST ``/admin/servers/<pk>/test/``: asks the module to reach the server, shows its answer.

    The call is synchronous and made outside any transaction or row lock, so a slow
    panel holds up only this request; modules bound their own network timeouts.
    """

    permission_required = "delivery.change_server"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        server = get_object_or_404(Server, pk=pk)
        try:
            result = server.delivery_module.test_connection(server)
        except (ModuleError, UnknownModule) as exc:
            logger.info("Connection test of %r failed: %s", server, exc)
            messages.error(request, f"{server}: the connection failed. {exc}")
        else:
            answer = f" {result.message}" if result.message else ""
            messages.success(request, f"{server}: the connection works.{answer}")
        return redirect(safe_next(request, reverse("admin:server_edit", args=[server.pk])))
