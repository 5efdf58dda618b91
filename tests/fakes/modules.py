"""A delivery module for the tests, registered as ``test`` in the test settings only.

Its behaviour is driven by data, so that it acts the same in the test process, a live
server thread and a Celery worker: the server's ``fail`` credential lists the
operations that raise an error trying again cannot cure (``"create,suspend"``, or
``"tab"`` for its Overview tab), ``fail_retryable`` those that raise one it may (a panel
that is down), and every server offers the importable resources ``vm-1`` to ``vm-5``.

It has two management tabs, declared out of order so that sorting is tested: Overview,
for staff and customers, with a Ping action, and Console, for staff holding
``services.change_service``.
Their templates are in ``tests/fakes/templates/fake_module/``.
"""

from __future__ import annotations

from typing import Any

from django import forms

from delivery.modules.base import (
    Audience,
    DeliveryModule,
    ImportableResource,
    ModuleError,
    ModuleResult,
    Tab,
    TabAction,
)

IMPORTABLE = [ImportableResource(id=f"vm-{n}", label=f"Test VM {n}") for n in range(1, 6)]


class FakeServerForm(forms.Form):
    api_key = forms.CharField()
    fail = forms.CharField(required=False)
    fail_retryable = forms.CharField(required=False)


class FakeProductForm(forms.Form):
    memory_mb = forms.IntegerField(min_value=128)


class FakeServiceForm(forms.Form):
    hostname = forms.RegexField(
        regex=r"^[a-z0-9.-]+$",
        required=False,
        error_messages={"invalid": "Letters, digits, dots and dashes only."},
    )


class FakeModule(DeliveryModule):
    key = "test"
    label = "Test panel"
    server_form = FakeServerForm
    product_form = FakeProductForm
    service_form = FakeServiceForm
    supports_import = True

    def _run(self, operation: str, server: Any, **result: Any) -> ModuleResult:
        credentials = server.credentials
        for key, retryable in (("fail", False), ("fail_retryable", True)):
            if operation in {op.strip() for op in (credentials.get(key) or "").split(",")}:
                raise ModuleError(f"The test panel refused to {operation}.", retryable=retryable)
        return ModuleResult(message=f"{operation} done", **result)

    def create(self, service: Any) -> ModuleResult:
        return self._run("create", service.server, external_id=f"test-{service.uuid}")

    def suspend(self, service: Any) -> ModuleResult:
        return self._run("suspend", service.server)

    def unsuspend(self, service: Any) -> ModuleResult:
        return self._run("unsuspend", service.server)

    def terminate(self, service: Any) -> ModuleResult:
        return self._run("terminate", service.server)

    def test_connection(self, server: Any) -> ModuleResult:
        return self._run("connect", server)

    def list_importable(self, server: Any) -> list[ImportableResource]:
        self._run("list", server)
        return IMPORTABLE

    def import_existing(self, service: Any, resource_id: str) -> ModuleResult:
        if resource_id not in {r.id for r in IMPORTABLE}:
            raise ModuleError(f"No resource {resource_id} on the test panel.")
        return self._run("import", service.server, external_id=resource_id, data={"imported": True})

    def tabs(self, service: Any, audience: Audience) -> list[Tab]:
        return [
            Tab(
                key="console",
                label="Console",
                template="fake_module/console.html",
                order=20,
                permission="services.change_service",
                audiences=frozenset({Audience.STAFF}),
            ),
            Tab(
                key="overview",
                label="Overview",
                template="fake_module/overview.html",
                order=10,
                context=lambda svc: self._overview(svc, audience),
                # A button of the tab (services.views.tab_actions); ``fail`` "ping" fails it.
                actions=(
                    TabAction(
                        key="ping",
                        label="Ping",
                        run=lambda svc: self._run("ping", svc.server),
                        permission="services.change_service",
                    ),
                ),
            ),
        ]

    def _overview(self, service: Any, audience: Audience) -> dict[str, Any]:
        """What the panel says about the resource; raises when ``fail`` has ``tab``.

        The resource's id on the panel is for staff: customers see only its state.
        """
        self._run("tab", service.server)
        return {"power": "running", "memory_mb": 512, "for_staff": audience == Audience.STAFF}
