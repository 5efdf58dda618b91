"""The row lock: two renewals at once both count, neither overwrites the other.

SQLite has no row locks, so this runs on PostgreSQL (and fails in CI without it).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from delivery.modules.base import ModuleResult
from products.choices import BillingCycle
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.models import ServiceRenewal
from tests.factories import CustomerFactory, FakeServerFactory, ServiceFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_renewals_are_serialised_by_the_row_lock(monkeypatch):
    service = ServiceFactory(
        customer=CustomerFactory(),
        module="test",
        server=FakeServerFactory(),
        status=ServiceStatus.ACTIVE,
        billing_cycle=BillingCycle.WEEKLY,
    )
    start = service.expires_at

    def slow_on_renew(self, svc):
        # Holds the lock long enough for the other thread to arrive and wait on it.
        time.sleep(0.3)
        return ModuleResult(message="renewed")

    monkeypatch.setattr("tests.fakes.modules.FakeModule.on_renew", slow_on_renew)
    errors: list[BaseException] = []

    def renew_once() -> None:
        try:
            lifecycle.renew(service.pk, actor=None, source=EventSource.AUTOMATION)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=renew_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    service.refresh_from_db()
    assert service.renewal_count == 2
    assert service.expires_at == start + timedelta(days=14)
    olds = sorted(
        ServiceRenewal.objects.filter(service=service).values_list("old_expires_at", flat=True)
    )
    assert olds == [start, start + timedelta(days=7)]
