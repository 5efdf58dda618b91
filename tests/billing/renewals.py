"""What the tests of both renewal paths (one by one, in batches) set up."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from billing import invoices
from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service


def fail_renewal_line_of(monkeypatch: Any, broken: Any) -> None:
    """Make ``invoices.renewal_line`` raise for ``broken`` alone, as a tax service down
    would; the batch leaves that service to the one-by-one path, which fails it."""
    real = invoices.renewal_line

    def renewal_line(service: Any, *args: Any, **kwargs: Any) -> Any:
        if service.pk == broken.pk:
            raise RuntimeError("the tax service is down")
        return real(service, *args, **kwargs)

    monkeypatch.setattr(invoices, "renewal_line", renewal_line)


def monthly_services_expiring(
    customers: list[Any], product: Any, count: int, *, from_: dt.datetime, price: Decimal
) -> None:
    """``count`` active monthly services of ``product``, the customers taking turns, expiring
    a minute apart from ``from_``: one INSERT."""
    Service.objects.bulk_create(
        Service(
            name=f"Service {n}",
            customer=customers[n % len(customers)],
            product=product,
            module=product.module,
            status=ServiceStatus.ACTIVE,
            price=price,
            initial_price=price,
            billing_cycle=BillingCycle.MONTHLY,
            expires_at=from_ + dt.timedelta(minutes=n),
        )
        for n in range(count)
    )
