"""A bulk operation whose worker is killed outright finishes by itself, each service once.

A worker killed with SIGKILL can neither finish, acknowledge nor hand back its task: its
message waits in Redis for the broker's visibility timeout (hours). Celery beat's stall check
must notice that the operation stopped moving and queue it again, and the restarted worker
must carry on from the first unfinished service without applying any service twice.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db.models import Count

from services.choices import BulkItemState, BulkStatus, ServiceStatus
from services.models import BulkOperation, Service, ServiceEvent
from services.tasks import run_bulk_operation
from tests.celery_worker import CeleryProcesses, wait_until
from tests.factories import FakeServerFactory, ProductFactory, ServiceFactory

S = ServiceStatus
SERVICES = 1000
STALL_SECONDS = 3


def make_active_services(customer, count: int) -> list[int]:
    """``count`` active services of the test module in one INSERT: set-up, not under test."""
    server = FakeServerFactory()
    product = ProductFactory(module="test", module_config={"memory_mb": 512})
    Service.objects.bulk_create(
        ServiceFactory.build(
            customer=customer,
            product=product,
            server=server,
            module="test",
            status=S.ACTIVE,
            external_id=f"res-{n}",
        )
        for n in range(count)
    )
    return list(Service.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.redis
@pytest.mark.postgres
def test_a_bulk_whose_worker_is_killed_finishes_after_a_restart_applying_each_service_once(
    celery_processes: CeleryProcesses, admin_user, customer
):
    celery_processes.env.update(
        BULK_STALL_MINUTES=str(STALL_SECONDS / 60),
        BULK_STALL_CHECK_SECONDS="1",
        AUTOMATION_TICK_SECONDS="1",  # beat's tick queues the stall check each second
        # One task: a second part, queued behind the first, would finish the operation after
        # the restart without the stall check (tests/services/test_bulk_parts.py).
        BULK_PARTS="1",
    )
    ids = make_active_services(customer, SERVICES)
    operation = BulkOperation.objects.create(
        action="suspend",
        params={"reason": "unpaid", "notify": False},
        service_ids=ids,
        created_by=admin_user,
    )
    done = operation.items.filter(state=BulkItemState.DONE)
    celery_processes.start_beat()
    celery_processes.start_worker()

    run_bulk_operation.delay(operation.pk)
    wait_until(lambda: done.count() >= 300, timeout=30, message="the first worker made no progress")
    celery_processes.kill_worker()
    done_when_killed = done.count()
    celery_processes.start_worker()

    def finished() -> bool:
        operation.refresh_from_db()
        return operation.status == BulkStatus.DONE

    # The stall time, a beat interval, a worker's start and the remaining ~700 services.
    wait_until(finished, timeout=45, message="the operation was not resumed to its end")
    assert 300 <= done_when_killed < SERVICES
    assert operation.resumes >= 1
    assert not operation.abandoned
    assert operation.error == ""
    assert done.count() == SERVICES
    # Every item was attempted once, except those in flight at the kill (at most one per
    # concurrent call to the server), attempted again and applied once all the same.
    attempts = list(operation.items.values_list("attempts", flat=True))
    assert set(attempts) <= {1, 2}
    assert attempts.count(2) <= settings.BULK_CALLS_PER_SERVER
    assert Service.objects.filter(status=S.SUSPENDED).count() == SERVICES
    events = (
        ServiceEvent.objects.filter(action="suspend")
        .values("service")
        .annotate(n=Count("pk"))
        .values_list("service", "n")
    )
    assert dict(events) == dict.fromkeys(ids, 1)
