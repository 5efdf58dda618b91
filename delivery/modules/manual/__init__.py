"""The manual module: nothing happens on any server; staff deliver by hand."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext, gettext_lazy

from delivery.modules.base import DeliveryModule, ModuleResult


class ManualModule(DeliveryModule):
    key = "manual"
    label = cast(str, gettext_lazy("Manual"))
    requires_server = False
    delivers_automatically = False
    calls_panel = False

    def create(self, service: Any) -> ModuleResult:
        return ModuleResult(message=gettext("Delivered by hand: nothing was done on a server."))

    def suspend(self, service: Any) -> ModuleResult:
        return ModuleResult(message=gettext("Nothing to suspend on a server."))

    def unsuspend(self, service: Any) -> ModuleResult:
        return ModuleResult(message=gettext("Nothing to unsuspend on a server."))

    def terminate(self, service: Any) -> ModuleResult:
        return ModuleResult(message=gettext("Nothing to remove from a server."))

    def test_connection(self, server: Any) -> ModuleResult:
        return ModuleResult(message=gettext("The manual module connects to nothing."))

    def display_reference(self, service: Any) -> str:
        """Staff deliver by hand: no resource the panel knows tells the service apart."""
        return ""
