"""A real Celery beat ticking every second and a real worker: a due renewal invoice is
made with no one calling anything, and the run is recorded with the heartbeat."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from automation import schedule
from automation.models import RunState, TaskRun
from billing.choices import InvoiceStatus, LineKind
from billing.models import InvoiceLine
from products.choices import BillingCycle
from services.choices import ServiceStatus
from tests.celery_worker import wait_until
from tests.factories import ServiceFactory


@pytest.mark.redis
@pytest.mark.postgres
def test_beat_and_a_worker_make_a_due_renewal_invoice_by_themselves(celery_processes):
    service = ServiceFactory(
        status=ServiceStatus.ACTIVE,
        billing_cycle=BillingCycle.MONTHLY,
        price=Decimal("9.99"),
        expires_at=timezone.now() + dt.timedelta(days=3),
    )
    celery_processes.env["AUTOMATION_TICK_SECONDS"] = "1"
    celery_processes.start_worker()
    celery_processes.start_beat()

    def invoiced() -> bool:
        return InvoiceLine.objects.filter(service=service, kind=LineKind.RENEWAL).exists()

    wait_until(invoiced, timeout=90, message="no renewal invoice was made")
    line = InvoiceLine.objects.select_related("invoice").get(service=service)
    assert line.invoice.status == InvoiceStatus.UNPAID
    assert line.period_start == service.expires_at

    def recorded() -> bool:
        return TaskRun.objects.filter(
            task="billing.renewal_invoices", state=RunState.FINISHED, done=1
        ).exists()

    wait_until(recorded, timeout=30, message="the run was not recorded")
    last_beat = schedule.pulse().last_beat
    assert last_beat is not None
    assert timezone.now() - last_beat < dt.timedelta(seconds=30)  # the heartbeat goes on
