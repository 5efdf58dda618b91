"""Fixtures for service tests: services in a given status, on the test module's servers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from services.choices import ServiceStatus
from tests.factories import FakeServerFactory, ProductFactory, ServiceFactory


@pytest.fixture
def make_service(db, customer):
    """Build Bob's service stored in ``status`` on a test-module server.

    The row is written directly: this is test set-up, not a state change under test.
    """

    def make(status: str = ServiceStatus.ACTIVE, *, fail: str = "", **fields):
        server = fields.pop("server", None) or FakeServerFactory(fail=fail)
        product = fields.pop("product", None) or ProductFactory(
            module="test", module_config={"memory_mb": 512}
        )
        defaults = {
            "customer": customer,
            "product": product,
            "module": "test",
            "server": server,
            "status": status,
            "external_id": "" if status == ServiceStatus.PENDING else f"res-{server.pk}-{status}",
        }
        if status == ServiceStatus.EXPIRED:
            defaults["expires_at"] = timezone.now() - timedelta(days=2)
        return ServiceFactory(**{**defaults, **fields})

    return make
