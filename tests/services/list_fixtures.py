"""Fixtures and helpers shared by the service list, filter and export tests.

Test modules import the fixture functions (pytest finds fixtures in a module's namespace);
a fixture that tests take as an argument is registered under a ``name=`` that differs
from its function's, so that the argument does not shadow the import.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from products.choices import BillingCycle
from services.choices import ServiceStatus
from tests.factories import CustomerFactory, ProductFactory, ServerFactory, ServiceFactory


@pytest.fixture(name="varied_services")
def varied_services_fixture(db) -> dict[str, Any]:
    """Three services that differ in every listed column, so each sort order shows.

    ``alpha`` < ``bravo`` < ``charlie`` on every column, except that ``charlie`` has no
    product, no server and no expiration (nulls sort last both ways).
    """
    now = timezone.now()
    anna = CustomerFactory(first_name="Anna", last_name="Adams", user__email="anna@example.com")
    ben = CustomerFactory(first_name="Ben", last_name="Brown", user__email="ben@example.com")
    cleo = CustomerFactory(first_name="Cleo", last_name="Clark", user__email="cleo@example.com")
    return {
        "alpha": ServiceFactory(
            name="Alpha",
            customer=anna,
            product=ProductFactory(name="Aardvark hosting"),
            server=ServerFactory(name="A-node"),
            status=ServiceStatus.ACTIVE,
            price=Decimal("1.00"),
            expires_at=now + timedelta(days=1),
            created_at=now - timedelta(days=30),
        ),
        "bravo": ServiceFactory(
            name="Bravo",
            customer=ben,
            product=ProductFactory(name="Badger VPS"),
            server=ServerFactory(name="B-node"),
            status=ServiceStatus.CANCELLED,
            price=Decimal("2.00"),
            expires_at=now + timedelta(days=2),
            created_at=now - timedelta(days=20),
        ),
        "charlie": ServiceFactory(
            name="Charlie",
            customer=cleo,
            product=None,
            module="manual",
            server=None,
            status=ServiceStatus.SUSPENDED,
            price=Decimal("3.00"),
            billing_cycle=BillingCycle.ONE_TIME,
            expires_at=None,
            created_at=now - timedelta(days=10),
        ),
    }
