"""Creating and importing services from the administration area (the seed's "Service
Creation" and "Service Import").

Both take two steps on one URL. Step 1 is a GET form, so its choices (customer, product,
type) land in the URL with ``step=2``; step 2 carries them on as hidden fields and checks
them again when it is posted. Neither makes an invoice: that is what orders are for.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from clientxcms.access import StaffRequiredMixin, signed_in_user
from clientxcms.text import clean_search_term, parse_id
from customers.search import search_customers
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.modules.base import ModuleError
from services import lifecycle, placement
from services.choices import EventSource
from services.forms.common import customer_label
from services.forms.create import (
    ServiceCreateForm,
    ServiceImportForm,
    ServiceTargetForm,
    linked_services,
)
from services.lifecycle import LifecycleError
from services.models import Service

logger = logging.getLogger(__name__)


class CustomerSearchView(StaffRequiredMixin, View):
    """``/admin/services/create/customers/?q=``: the ``<option>``s of matching customers.

    Step 1 swaps these into its customer list as staff type, so the page never holds
    more than a screenful of customers however many there are.
    """

    permission_required = "services.add_service"

    def get(self, request: HttpRequest) -> HttpResponse:
        query = clean_search_term(request.GET.get("q", ""))
        return render(
            request,
            "services/admin/create_customer_options.html",
            {
                "options": [(c.pk, customer_label(c)) for c in search_customers(query)],
                "query": query,
            },
        )


def importable_resources(server: Server | None, selected: str = "") -> dict[str, Any]:
    """What step 2 of an import lists for ``server``: its resources, each with the live
    service already linked to it, or the module's error.

    A module may fail here in any way (its panel is down, it has a bug): the error is
    logged and shown in place of the list, never as a broken page.
    """
    context: dict[str, Any] = {"server": server, "selected": selected, "resources": []}
    if server is None:
        return context
    try:
        resources = server.delivery_module.list_importable(server)
    except ModuleError as exc:
        context["error"] = exc.message
        return context
    except Exception:
        logger.exception("Listing the importable resources of server %s failed", server.pk)
        context["error"] = _("The module failed to list the resources of this server.")
        return context
    linked = linked_services(server, [resource.id for resource in resources])
    context["resources"] = [(resource, linked.get(resource.id)) for resource in resources]
    return context


class ImportableResourcesView(StaffRequiredMixin, View):
    """``/admin/services/import/resources/?server=``: step 2's resource list, reloaded by
    htmx when staff choose another server."""

    permission_required = "services.add_service"

    def get(self, request: HttpRequest) -> HttpResponse:
        server_id = parse_id(request.GET.get("server"))
        server = (
            Server.objects.exclude(status=ServerStatus.DISABLED).filter(pk=server_id).first()
            if server_id is not None
            else None
        )
        return render(request, "services/admin/create_resources.html", importable_resources(server))


class ServiceCreateView(StaffRequiredMixin, View):
    """``/admin/services/create/``: create a service in two steps, then deliver it.

    The server chosen must have room (``placement.create_on_server``, under its lock): a
    full one is refused on the form. A module that delivers automatically is called at
    once; if it fails, the service stays pending with the error on its page, ready for a
    retry. The manual module leaves it pending until staff deliver it.
    """

    permission_required = "services.add_service"
    importing = False
    form_class: type[ServiceCreateForm] = ServiceCreateForm
    target_form: ServiceTargetForm

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("step") == "2":
            target_form = ServiceTargetForm(request.GET, importing=self.importing)
            if target_form.is_valid():
                return self.step2(target_form, self.form_class(target=target_form.target))
            return self.step1(target_form)
        initial = {name: request.GET.get(name) for name in ("customer", "product", "module")}
        return self.step1(ServiceTargetForm(initial=initial, importing=self.importing))

    def post(self, request: HttpRequest) -> HttpResponse:
        self.target_form = ServiceTargetForm(request.POST, importing=self.importing)
        if not self.target_form.is_valid():
            return self.step1(self.target_form)
        form = self.form_class(request.POST, target=self.target_form.target)
        if not form.is_valid():
            return self.step2(self.target_form, form)
        return self.perform(form)

    def step1(self, target_form: ServiceTargetForm) -> HttpResponse:
        return self.show(step=1, target_form=target_form)

    def step2(self, target_form: ServiceTargetForm, form: ServiceCreateForm) -> HttpResponse:
        return self.show(
            step=2,
            target=target_form.target,
            form=form,
            cycle_defaults=form.cycle_defaults,
            **self.step2_context(form),
        )

    def step2_context(self, form: ServiceCreateForm) -> dict[str, Any]:
        """What step 2 shows besides the form; importing adds the server's resources."""
        return {}

    def show(self, **context: Any) -> HttpResponse:
        return render(
            self.request, "services/admin/create.html", {"importing": self.importing, **context}
        )

    def perform(self, form: ServiceCreateForm) -> HttpResponse:
        actor = signed_in_user(self.request)
        try:
            service = placement.create_on_server(
                actor=actor, source=EventSource.ADMIN, **form.service_fields()
            )
        except placement.NoRoom as exc:
            form.add_error("server", exc.message)
            return self.step2(self.target_form, form)
        except LifecycleError as exc:
            form.add_error(None, exc.message)
            return self.step2(self.target_form, form)
        messages.success(
            self.request, _("Service #%(id)s created. No invoice was made.") % {"id": service.pk}
        )
        self._deliver(service)
        return redirect("admin:service_detail", pk=service.pk)

    def _deliver(self, service: Service) -> None:
        module = service.delivery_module
        if not module.delivers_automatically:
            messages.info(
                self.request,
                _(
                    "The %(module)s module delivers nothing by itself: the service stays "
                    "pending until you deliver it."
                )
                % {"module": module.label},
            )
            return
        try:
            lifecycle.deliver(
                service.pk, actor=signed_in_user(self.request), source=EventSource.ADMIN
            )
        except (LifecycleError, ModuleError) as exc:
            messages.error(
                self.request,
                _(
                    "The service was created but not delivered: %(error)s It stays pending; "
                    "retry the delivery from this page."
                )
                % {"error": exc.message},
            )
        else:
            messages.success(self.request, _("Service #%(id)s delivered.") % {"id": service.pk})


class ServiceImportView(ServiceCreateView):
    """``/admin/services/import/``: link a resource that already exists on a server.

    Creating the service and importing its resource happen in one transaction: if the
    import is refused or the module fails, nothing is kept and the form says why. (The
    lifecycle keeps a failed delivery's record for a retry; a failed import has nothing
    to retry, since the resource was chosen on this very form.)
    """

    importing = True
    form_class = ServiceImportForm

    def step2_context(self, form: ServiceCreateForm) -> dict[str, Any]:
        servers = form.fields["server"].queryset  # type: ignore[attr-defined]  # a ModelChoiceField
        if not form.is_bound:
            # With a single server there is nothing to choose: list its resources at once.
            only = list(servers[:2])
            if len(only) == 1:
                form.initial["server"] = only[0].pk
        server_id = parse_id(form["server"].value())
        server = servers.filter(pk=server_id).first() if server_id is not None else None
        return importable_resources(server, str(form["resource_id"].value() or ""))

    def perform(self, form: ServiceCreateForm) -> HttpResponse:
        actor = signed_in_user(self.request)
        resource_id = form.cleaned_data["resource_id"]
        try:
            service = lifecycle.create_imported(
                resource_id=resource_id,
                actor=actor,
                source=EventSource.ADMIN,
                **form.service_fields(),
            )
        except (LifecycleError, ModuleError) as exc:
            form.add_error(None, exc.message)
            return self.step2(self.target_form, form)
        messages.success(
            self.request,
            _("Resource %(resource)s imported as service #%(id)s. No invoice was made.")
            % {"resource": resource_id, "id": service.pk},
        )
        return redirect("admin:service_detail", pk=service.pk)
