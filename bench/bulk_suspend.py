"""A bulk suspend of 10,000 services through a real Celery worker, then the unsuspend.

The worker is started here, as a separate process on a queue of its own, against Redis
(``REDIS_URL``) and the bench database. Each figure is the wall time from queueing the
operation to its end, in services per second, with the ratio to a bare SQL ``UPDATE``
of the same rows' status (in a transaction that is rolled back). The bench's services
use the manual module, so the items go in batches (``services.batches``): each service
still checked by the rule book, its module called and its audit event written, but
locked, written and committed 500 at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

from bench import common

SERVICES = 10_000


def _start_worker(queue: str) -> subprocess.Popen:
    env = {**os.environ, **common.production_env()}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clientxcms", "worker", "-Q", queue,
         "--pool=solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "--loglevel=WARNING"],
        cwd=common.ROOT, env=env,
    )  # fmt: skip


def _run(action: str, ids: list[int], queue: str, user: Any) -> float:
    """Queue one bulk operation on ``queue`` and wait for it; returns the seconds taken."""
    from services.choices import BulkStatus
    from services.models import BulkOperation
    from services.tasks import run_bulk_operation

    params = {"reason": "bench", "notify": False}
    operation = BulkOperation.objects.create(
        action=action, params=params, service_ids=ids, created_by=user
    )
    started = time.perf_counter()
    run_bulk_operation.apply_async((operation.pk,), queue=queue)
    while True:
        operation.refresh_from_db()
        if operation.status == BulkStatus.DONE:
            return time.perf_counter() - started
        time.sleep(0.05)


def _vacuum() -> None:
    """``VACUUM ANALYZE`` of the services, as autovacuum would between two days: each run
    leaves 10,000 dead rows, and without it every run of the bench was 5 to 15% slower
    than the one before."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE services_service")


def _raw_update_seconds(ids: list[int]) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE services_service SET status = 'suspended', suspended_at = now(), "
                "suspend_reason = 'bench' WHERE id = ANY(%s) AND status = 'active'",
                [ids],
            )
        transaction.set_rollback(True)
    return time.perf_counter() - started


def run(context: common.BenchContext) -> None:
    from django.conf import settings

    from services.choices import ServiceStatus
    from services.models import Service

    if not settings.REDIS_URL:
        print("Bulk actions: skipped, the worker needs a broker (set REDIS_URL=redis://...).\n")
        return
    ids = list(
        Service.objects.filter(status=ServiceStatus.ACTIVE)
        .order_by("id")
        .values_list("pk", flat=True)[:SERVICES]
    )
    user = common.bench_superuser()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    worker = _start_worker(queue)
    try:
        # The worker's start (imports, first connection, catalogues) is not counted: it
        # suspends and unsuspends one service first, untimed, as bulk_suspend_panel does.
        _run("suspend", ids[:1], queue, user)
        _run("unsuspend", ids[:1], queue, user)
        _vacuum()
        suspend = _run("suspend", ids, queue, user)
        _vacuum()
        unsuspend = _run("unsuspend", ids, queue, user)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    raw = _raw_update_seconds(ids)
    done = Service.objects.filter(pk__in=ids, status=ServiceStatus.ACTIVE).count()
    rows = [
        [
            name,
            f"{len(ids):,}",
            f"{seconds:.1f} s",
            f"{len(ids) / seconds:,.0f}",
            f"{seconds / raw:,.0f}x",
        ]
        for name, seconds in (("suspend", suspend), ("unsuspend", unsuspend))
    ]
    common.print_table(
        f"Bulk actions through a real worker (raw UPDATE of the same rows: {raw * 1000:.0f} ms)",
        ["action", "services", "wall time", "services/s", "vs raw UPDATE"],
        rows,
    )
    print(f"Afterwards {done:,} of the {len(ids):,} services are active again.\n")
