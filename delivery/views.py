"""Staff views of servers: the list (with the columns other apps register, such as the
capacity their live services use, and the groups above it with theirs), creating and
editing servers with their module's credentials and server groups with their placement
strategy, and testing the connection to a server."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import CreateView, ListView, TemplateView, UpdateView

from clientxcms import panels
from clientxcms.access import StaffRequiredMixin
from clientxcms.http import safe_next
from clientxcms.pagination import WindowPaginationMixin
from clientxcms.panels import PanelColumnsMixin
from customers import activity

from . import automation
from .callpages import CallPage, InvalidCursor, call_page
from .choices import SERVER_STATUS_BADGES
from .filters import ModuleCallFilterSet
from .forms import ServerForm, ServerGroupForm
from .mixins import ModuleSettingsSwapMixin
from .models import ModuleCall, Server, ServerGroup
from .modules.base import ModuleError
from .registry import UnknownModule, module_label, module_labels

logger = logging.getLogger(__name__)

#: What the staff activity log compares on a server; the credentials only as "changed".
AUDITED_FIELDS = [*ServerForm.Meta.fields, "credentials"]
SECRET_FIELDS = {"credentials"}
GROUP_FIELDS = ServerGroupForm.Meta.fields
#: The name under which other apps register the columns of the groups' table.
GROUP_PANEL_MODEL = "server_group"


class ServerListView(StaffRequiredMixin, PanelColumnsMixin, WindowPaginationMixin, ListView):
    """``/admin/servers/``: each server with its type, group and status, and the
    registered columns (the capacity its live services use), whose figures come in the
    page's query; above them, for staff who may see groups, every group with the room of
    its active servers, in one more query whatever the number of groups or servers."""

    permission_required = "delivery.view_server"
    template_name = "delivery/admin/list.html"
    context_object_name = "servers"
    panel_model = "server"

    def get_queryset(self) -> QuerySet[Server]:
        return self.annotate_for_panels(Server.objects.select_related("group"))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for server in context["servers"]:
            server.module_label = module_label(server.module)
            server.status_badge = SERVER_STATUS_BADGES.get(server.status, "secondary")
        if self.request.user.has_perm("delivery.view_servergroup"):
            context.update(self.groups())
        return context

    def groups(self) -> dict[str, Any]:
        """Every group with its capacity and the registered columns' figures, one query."""
        columns = panels.columns_for(GROUP_PANEL_MODEL, self.request.user)
        groups = list(panels.annotate(ServerGroup.objects.with_capacity(), columns))
        panels.bind_cells(columns, groups, self.request)
        for group in groups:
            group.module_label = module_label(group.module)
        return {"groups": groups, "group_columns": columns}


class ServerCreateView(StaffRequiredMixin, ModuleSettingsSwapMixin, CreateView):
    """``/admin/servers/add/``."""

    permission_required = "delivery.add_server"
    template_name = "delivery/admin/form.html"
    form_class = ServerForm
    settings_title = cast(str, gettext_lazy("Credentials"))

    def get_object(self, queryset: QuerySet[Server] | None = None) -> Server:
        return Server()

    def form_valid(self, form: ServerForm) -> HttpResponse:
        response = super().form_valid(form)
        after = activity.snapshot(self.object, AUDITED_FIELDS)
        activity.record(
            action="server created",
            target=self.object,
            changes=activity.diff({}, after, secret=SECRET_FIELDS),
            request=self.request,
        )
        messages.success(
            self.request, _("Created the server %(server)s.") % {"server": self.object}
        )
        return response

    def get_success_url(self) -> str:
        return reverse("admin:server_list")


class ServerUpdateView(StaffRequiredMixin, ModuleSettingsSwapMixin, UpdateView):
    """``/admin/servers/<pk>/edit/``: credentials left empty keep their stored value."""

    permission_required = "delivery.change_server"
    template_name = "delivery/admin/form.html"
    form_class = ServerForm
    model = Server
    settings_title = cast(str, gettext_lazy("Credentials"))

    def form_valid(self, form: ServerForm) -> HttpResponse:
        # The row as stored: the form has already put the new values on self.object.
        before = activity.snapshot(Server.objects.get(pk=self.object.pk), AUDITED_FIELDS)
        response = super().form_valid(form)
        changes = activity.diff(
            before, activity.snapshot(self.object, AUDITED_FIELDS), secret=SECRET_FIELDS
        )
        if changes:
            activity.record(
                action="server changed", target=self.object, changes=changes, request=self.request
            )
        messages.success(self.request, _("Saved the server %(server)s.") % {"server": self.object})
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
            messages.error(
                request,
                _("%(server)s: the connection failed. %(error)s")
                % {"server": server, "error": exc},
            )
        else:
            if result.message:
                works = _("%(server)s: the connection works. %(answer)s") % {
                    "server": server,
                    "answer": result.message,
                }
            else:
                works = _("%(server)s: the connection works.") % {"server": server}
            messages.success(request, works)
        return redirect(safe_next(request, reverse("admin:server_edit", args=[server.pk])))


class ServerGroupCreateView(StaffRequiredMixin, CreateView):
    """``/admin/servers/groups/add/``."""

    permission_required = "delivery.add_servergroup"
    template_name = "delivery/admin/group_form.html"
    form_class = ServerGroupForm

    def form_valid(self, form: ServerGroupForm) -> HttpResponse:
        response = super().form_valid(form)
        activity.record(
            action="server group created",
            target=self.object,
            changes=activity.diff({}, activity.snapshot(form.instance, GROUP_FIELDS)),
            request=self.request,
        )
        messages.success(
            self.request, _("Created the server group %(group)s.") % {"group": self.object}
        )
        return response

    def get_success_url(self) -> str:
        return reverse("admin:server_list")


class ServerGroupUpdateView(StaffRequiredMixin, UpdateView):
    """``/admin/servers/groups/<pk>/edit/``: its servers join it from their own form."""

    permission_required = "delivery.change_servergroup"
    template_name = "delivery/admin/group_form.html"
    form_class = ServerGroupForm
    model = ServerGroup

    def form_valid(self, form: ServerGroupForm) -> HttpResponse:
        before = activity.snapshot(ServerGroup.objects.get(pk=self.object.pk), GROUP_FIELDS)
        response = super().form_valid(form)
        changes = activity.diff(before, activity.snapshot(form.instance, GROUP_FIELDS))
        if changes:
            activity.record(
                action="server group changed",
                target=self.object,
                changes=changes,
                request=self.request,
            )
        messages.success(
            self.request, _("Saved the server group %(group)s.") % {"group": self.object}
        )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        servers = self.object.servers.order_by("name", "pk")
        return super().get_context_data(servers=servers, **kwargs)

    def get_success_url(self) -> str:
        return reverse("admin:server_list")


class ModuleCallListView(StaffRequiredMixin, TemplateView):
    """``/admin/delivery/calls/``: every call modules made to their panels, newest first.

    Filters by server, module, outcome, dates and service; keyset pages (``callpages``),
    so the hundredth page costs what the first does and nothing counts the table. Each
    row opens on the redacted request and response bodies.
    """

    permission_required = "delivery.view_modulecall"
    template_name = "delivery/admin/call_list.html"
    per_page = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        filterset = ModuleCallFilterSet(
            self.request.GET or None, queryset=ModuleCall.objects.select_related("server")
        )
        page: CallPage | None = None
        if not filterset.is_bound or filterset.is_valid():
            page = self._page(filterset.qs)
        form = filterset.form
        active = [
            name
            for name in filterset.filters
            if form.is_bound
            and form.is_valid()
            and form.cleaned_data.get(name) not in (None, "", False)
        ]
        calls = page.rows if page is not None else []
        labels = module_labels()
        for call in calls:
            call.module_label = labels.get(call.module, call.module)  # type: ignore[attr-defined]
        return super().get_context_data(
            filterset=filterset,
            page=page,
            calls=calls,
            keep_days=automation.call_log_days(),
            active_filters=len(active),
            filter_errors=filterset.is_bound and not filterset.is_valid(),
            **kwargs,
        )

    def _page(self, queryset: QuerySet[ModuleCall]) -> CallPage:
        try:
            return call_page(queryset, self.request.GET.get("cursor"), self.per_page)
        except InvalidCursor:
            messages.warning(
                self.request, _("That page link is no longer valid; here is the first page.")
            )
            return call_page(queryset, None, self.per_page)
