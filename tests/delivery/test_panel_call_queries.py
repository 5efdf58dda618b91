"""What one call to a panel costs the database, pinned: a bulk operation of 10,000 services
on game panels spends its time on these statements (issue 15, bench/bulk_suspend_panel.py).

The claim is committed before the call and the result written after it, each in its own
transaction (DESIGN.md, "module calls outside the row lock"); in between, the call reads
the service as its claim saved it rather than again, its actor is not read again, and the
call log's row is one INSERT with no transaction of its own.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery.models import ModuleCall
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.models import Service, ServiceEvent

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"')


def statements(captured: CaptureQueriesContext) -> list[str]:
    """Each statement's verb and, for those that name one, its table."""
    kinds = []
    for query in captured.captured_queries:
        table = TABLE.search(query["sql"])
        kinds.append(f"{query['sql'].split()[0]} {table[1] if table else ''}".strip())
    return kinds


def test_a_suspend_on_the_panel_is_a_claim_a_call_logged_and_a_finish(active_service, admin_user):
    with CaptureQueriesContext(connection) as captured:
        outcome = lifecycle.suspend(
            active_service.pk, actor=admin_user, source=EventSource.ADMIN, notify=False
        )

    assert outcome.changed
    assert Service.objects.get(pk=active_service.pk).status == ServiceStatus.SUSPENDED
    assert statements(captured) == [
        # The claim: the row locked, the operation recorded, committed.
        "BEGIN",
        "SELECT services_service",
        "UPDATE services_service",
        "COMMIT",
        # The call: the service's server (its credentials), the call log's row.
        "SELECT delivery_server",
        "INSERT delivery_modulecall",
        # The finish: the row locked again, written, its history, committed.
        "BEGIN",
        "SELECT services_service",
        "UPDATE services_service",
        "INSERT services_serviceevent",
        "COMMIT",
    ]
    event = ServiceEvent.objects.get(service=active_service, action="suspend")
    assert event.actor == admin_user
    assert ModuleCall.objects.filter(service_ref=active_service.pk).count() == 1
