"""DESIGN.md: nothing but services/lifecycle.py writes a service's status.

The code of every app is read as Python (``ast``), so every way of writing a status is
seen: an attribute assignment, ``update(status=...)``, a model built or created with a
status (``Service(status=...)``, ``.create(status=...)``, ``update_or_create``), and
``bulk_update`` of the status field. The bench rows of the demo are the one documented
exception: a million rows written in their final status with ``bulk_create``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["clientxcms", "customers", "products", "delivery", "services", "billing"]
APPS += ["dashboard", "demo"]
ALLOWED = {ROOT / "services" / "lifecycle.py", ROOT / "demo" / "bench.py"}
#: Other models' statuses, written by their own code.
OTHER_STATUSES = (
    "BulkStatus.",
    "ServerStatus.",
    "InvoiceStatus.",
    "OrderStatus.",
    "PaymentStatus.",
    "EmailStatus.",
)
#: Other models' managers, whose rows have a status of their own.
OTHER_MODELS = ("Server.", "BulkOperation.")
#: Calls whose ``status=`` keyword writes a row rather than filtering rows.
WRITING_CALLS = {"Service", "create", "update", "update_or_create", "get_or_create"}


def _other_model(value: ast.expr) -> bool:
    return ast.unparse(value).startswith(OTHER_STATUSES)


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def status_writes(source: str) -> list[int]:
    """The line numbers of ``source`` that write a status."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets) and not (
                node.value is not None and _other_model(node.value)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if (
                name in WRITING_CALLS
                and not ast.unparse(node.func).startswith(OTHER_MODELS)
                and any(
                    (keyword.arg == "status" and not _other_model(keyword.value))
                    or (keyword.arg == "defaults" and "'status'" in ast.unparse(keyword.value))
                    for keyword in node.keywords
                )
            ):
                lines.append(node.lineno)
            if name == "bulk_update" and "'status'" in ast.unparse(node):
                lines.append(node.lineno)
    return lines


def test_no_code_outside_the_lifecycle_writes_a_service_status():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if path not in ALLOWED and "migrations" not in path.parts
        for line in status_writes(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "code",
    [
        "service.status = 'active'",
        "Service.objects.filter(pk=1).update(status=ServiceStatus.ACTIVE)",
        "Service(name='x', status='active')",
        "Service.objects.create(status=S.ACTIVE)",
        "Service.objects.update_or_create(pk=1, defaults={'status': 'active'})",
        "Service.objects.bulk_update(services, ['status', 'name'])",
    ],
)
def test_the_guard_sees_every_way_of_writing_a_status(code):
    assert status_writes(code) == [1]


@pytest.mark.parametrize(
    "code",
    [
        "Service.objects.filter(status='active')",
        "operation.status = BulkStatus.DONE",
        "BulkOperation.objects.filter(pk=1).update(status=BulkStatus.RUNNING)",
        "server.status == 'disabled'",
        "Server.objects.create(name='x', status=spec.status)",
        "invoice.status = InvoiceStatus.PAID",
        "order.status = OrderStatus.CANCELLED",
    ],
)
def test_the_guard_lets_reads_and_other_models_statuses_through(code):
    assert status_writes(code) == []
