"""Staff pages of the payment gateways: ``/admin/billing/gateways/``.

Every registered gateway is listed with whether it is on and configured; staff holding
``billing.change_gatewaysettings`` turn one on or off and edit its settings. Settings are
stored encrypted (``GatewaySettings.settings``) and their secrets are write-only
(``billing.gateways.forms``); the activity log records that a secret changed, never its
value.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.views import View

from clientxcms.access import StaffRequiredMixin
from customers import activity

from ..gateways.base import PaymentGateway
from ..gateways.forms import build_settings_form, settings_to_store
from ..gateways.registry import UnknownGateway, all_gateways, get_gateway
from ..models import GatewaySettings

PERMISSION = "billing.change_gatewaysettings"
AUDITED_FIELDS = ["enabled", "settings"]
SECRET_FIELDS = {"settings"}


def _gateway(key: str) -> PaymentGateway:
    try:
        return get_gateway(key)
    except UnknownGateway:
        raise Http404("No such payment gateway.") from None


def _row(gateway: PaymentGateway) -> GatewaySettings:
    """The stored row of ``gateway``, created with its defaults the first time it is saved."""
    row, _created = GatewaySettings.objects.get_or_create(
        key=gateway.key, defaults={"enabled": gateway.enabled_by_default, "settings": {}}
    )
    return row


class GatewayListView(StaffRequiredMixin, View):
    """``/admin/billing/gateways/``: each gateway, on or off, and what it still needs."""

    permission_required = PERMISSION
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [
            {
                "gateway": gateway,
                "enabled": gateway.is_enabled(),
                "missing": gateway.missing_configuration(),
            }
            for gateway in all_gateways()
        ]
        return TemplateResponse(request, "billing/admin/gateway_list.html", {"rows": rows})


class GatewaySettingsView(StaffRequiredMixin, View):
    """``/admin/billing/gateways/<gateway>/``: the gateway's settings form."""

    permission_required = PERMISSION
    http_method_names = ["get", "post"]
    template_name = "billing/admin/gateway_settings.html"

    def get(self, request: HttpRequest, gateway: str) -> HttpResponse:
        chosen = _gateway(gateway)
        form = build_settings_form(chosen, chosen.config())
        return self.render(chosen, form)

    def post(self, request: HttpRequest, gateway: str) -> HttpResponse:
        chosen = _gateway(gateway)
        if chosen.settings_form is None:
            messages.info(
                request, gettext("%(gateway)s takes no settings.") % {"gateway": chosen.label}
            )
            return redirect("admin:gateway_list")
        stored = chosen.config()
        form = build_settings_form(chosen, stored, data=request.POST)
        assert form is not None
        if not form.is_valid():
            return self.render(chosen, form, status=400)
        row = _row(chosen)
        before = activity.snapshot(row, AUDITED_FIELDS)
        row.settings = settings_to_store(form, stored)
        row.save(update_fields=["settings", "updated_at"])
        changes = activity.diff(
            before, activity.snapshot(row, AUDITED_FIELDS), secret=SECRET_FIELDS
        )
        if changes:
            activity.record(
                action="payment gateway changed", target=row, changes=changes, request=request
            )
        messages.success(
            request, gettext("Saved the settings of %(gateway)s.") % {"gateway": chosen.label}
        )
        return redirect("admin:gateway_list")

    def render(self, gateway: PaymentGateway, form: Any, status: int = 200) -> HttpResponse:
        return TemplateResponse(
            self.request,
            self.template_name,
            {"gateway": gateway, "form": form, "enabled": gateway.is_enabled()},
            status=status,
        )


class GatewaySwitchView(StaffRequiredMixin, View):
    """POST ``/admin/billing/gateways/<gateway>/enable/`` or ``.../disable/``.

    A gateway that misses its settings cannot be turned on: customers would be offered a
    way to pay that fails.
    """

    permission_required = PERMISSION
    http_method_names = ["post"]
    enable: bool = False

    def post(self, request: HttpRequest, gateway: str) -> HttpResponse:
        chosen = _gateway(gateway)
        if self.enable and chosen.missing_configuration():
            messages.error(request, chosen.missing_configuration())
            return redirect("admin:gateway_list")
        row = _row(chosen)
        if row.enabled != self.enable:
            row.enabled = self.enable
            row.save(update_fields=["enabled", "updated_at"])
            activity.record(
                action="payment gateway changed",
                target=row,
                changes={"enabled": {"old": not self.enable, "new": self.enable}},
                request=request,
            )
        if self.enable:
            message = gettext("%(gateway)s is on.") % {"gateway": chosen.label}
        else:
            message = gettext("%(gateway)s is off.") % {"gateway": chosen.label}
        messages.success(request, message)
        return redirect("admin:gateway_list")
