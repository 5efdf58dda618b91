"""A bulk suspend of 1,000 and 10,000 Pterodactyl services on panels answering in 100 ms.

Issue 12's benchmark: module calls made several at a time per server
(``services.bulk_calls``, ``BULK_CALLS_PER_SERVER``) against the same calls made one after
the other; issue 15's goal: 10,000 services in at most 2 minutes, the operation spread over
``BULK_PARTS`` tasks (``services.bulk``, "Several runners") that share the bound.
Everything goes through the real path: a ``BulkOperation`` queued to a Celery worker (a
separate process, production settings: ``DEBUG`` off), the lifecycle's claim, call and
finish for each service, the Pterodactyl module, ``PanelClient`` and its call
log, and HTTP to the fake Pterodactyl panel of the tests (``tests/fakes/pterodactyl``),
served here on 127.0.0.1 with 100 ms of latency injected on every call.

The panel servers are made directly in the fakes' state (``FakePterodactyl.add_server``,
with each service's uuid as their ``external_id``) and the services are bulk-inserted
active and linked to them, as the bench rows of the demo are: what is measured is the
suspend, not the making. Four runs, each on fresh services:

* a sample of 50 services suspended one after the other (a worker with
  ``BULK_CALLS_PER_SERVER=1``), extrapolated;
* 1,000 services on one server, then 1,000 spread over four servers (four fakes), then
  10,000 over four servers, with the default bound (8 calls at once per server), by a
  prefork worker with a process per part, so that the parts run at once.

Each run checks that every service ended suspended with exactly one suspend event, and
that its panel received exactly one suspend call per server, all of them now suspended.
The rows are deleted afterwards (and at the start, when a previous run was interrupted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import common

SERVICES = 1_000
#: The goal's figure: 10,000 services at 100 ms a call in at most 2 minutes.
GOAL_SERVICES = 10_000
GOAL_SECONDS = 120
SAMPLE = 50
LATENCY = 0.1
PREFIX = "bench-ptero"
EMAIL = f"{PREFIX}@example.net"
#: Enough free ports on each fake's node for every server of a run.
PORTS_FROM = 20_000


@dataclass(frozen=True)
class Run:
    """One timed bulk suspend, and what its checks found."""

    name: str
    services: int
    servers: int
    per_server: int
    seconds: float
    #: CPU seconds the worker's process used meanwhile (None where /proc is not there).
    cpu: float | None
    failures: list[str]
    #: CPU seconds of this process meanwhile: the fake panels' threads, all in it.
    panels_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.services / self.seconds


def _start_worker(queue: str, logs: Path, processes: int = 1, **env: str) -> subprocess.Popen:
    """A Celery worker on ``queue`` with production settings (DEBUG off) and ``env``: one
    process (solo), or ``processes`` (prefork), one per part of an operation."""
    environment = {**os.environ, **common.production_env(), **env}
    log = (logs / f"worker-{queue}.log").open("w")
    pool = ["--pool=solo"] if processes == 1 else ["--pool=prefork", f"--concurrency={processes}"]
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clientxcms", "worker", "-Q", queue, *pool,
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel=WARNING"],
        cwd=common.ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _cleanup() -> None:
    """Delete the rows of this bench: services, their history and call log, servers."""
    from customers.models import Customer, User
    from delivery.models import ModuleCall, Server
    from services.models import BulkOperation, Service, ServiceEvent

    servers = Server.objects.filter(name__startswith=PREFIX)
    services = Service.objects.filter(server__in=servers)
    ServiceEvent.objects.filter(service__in=services).delete()
    ModuleCall.objects.filter(server__in=servers).delete()
    BulkOperation.objects.filter(params__reason=PREFIX).delete()
    services.delete()
    servers.delete()
    Customer.objects.filter(user__email=EMAIL).delete()
    User.objects.filter(email=EMAIL).delete()


def _customer() -> Any:
    from customers.models import Customer, User

    user = User.objects.create_user(EMAIL, None, full_name="Bench Player")
    return Customer.objects.create(user=user, first_name="Bench", last_name="Player", country="FR")


def _server(fake: Any, name: str) -> Any:
    from delivery.models import Server
    from delivery.registry import get_module

    credentials = get_module("pterodactyl").clean_server_credentials(
        {
            "scheme": "http",
            "application_key": fake.application_key,
            "client_key": fake.client_key,
        }
    )
    port = int(fake.base_url.rsplit(":", 1)[1])
    return Server.objects.create(
        name=name, module="pterodactyl", hostname="127.0.0.1", port=port, credentials=credentials
    )


def _active_services(customer: Any, placements: list[tuple[Any, Any, int]]) -> list[int]:
    """Make ``count`` running servers on each fake and bulk-insert an active service linked
    to each; returns the services' ids. ``placements``: (fake, server row, count)."""
    from django.utils import timezone

    from products.choices import BillingCycle
    from services.choices import ServiceStatus
    from services.models import Service

    now = timezone.now()
    expires = now + timedelta(days=20)
    rows = []
    for fake, server, count in placements:
        with fake.lock:
            owner = fake.add_user(EMAIL, "bench-player", "Bench", "Player")
            location = fake.ids["location"]
            ports = range(PORTS_FROM, PORTS_FROM + count)
            fake.add_node(location, f"bench-{server.pk}", ip="198.51.100.7", ports=ports)
            for n in range(count):
                service_uuid = uuid.uuid4()
                made = fake.add_server(f"{PREFIX} {n}", owner["id"], external_id=str(service_uuid))
                made["_power"] = "running"
                rows.append(
                    Service(
                        uuid=service_uuid,
                        name=f"{PREFIX} {server.name} {n}",
                        status=ServiceStatus.ACTIVE,
                        module="pterodactyl",
                        customer=customer,
                        server=server,
                        price=Decimal("9.00"),
                        initial_price=Decimal("9.00"),
                        billing_cycle=BillingCycle.MONTHLY,
                        expires_at=expires,
                        billing_anchor_day=timezone.localtime(expires).day,
                        external_id=str(made["id"]),
                        module_data={"server_id": made["id"], "identifier": made["identifier"]},
                        delivered_at=now,
                        delivery_attempts=1,
                    )
                )
    return [service.pk for service in Service.objects.bulk_create(rows, batch_size=1000)]


def _suspend(ids: list[int], queue: str, user: Any, timeout: float = 900) -> float:
    """Queue one bulk suspend of ``ids`` on ``queue`` and wait for its end; seconds taken."""
    from services.choices import BulkStatus
    from services.models import BulkOperation
    from services.tasks import run_bulk_operation

    operation = BulkOperation.objects.create(
        action="suspend",
        params={"reason": PREFIX, "notify": False},
        service_ids=ids,
        created_by=user,
    )
    started = time.perf_counter()
    run_bulk_operation.apply_async((operation.pk,), queue=queue)
    while time.perf_counter() - started < timeout:
        if BulkOperation.objects.filter(pk=operation.pk, status=BulkStatus.DONE).exists():
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"The bulk suspend of {len(ids)} services did not end in {timeout:.0f} s.")


def _cpu_seconds(process: subprocess.Popen) -> float | None:
    """User and system CPU time of ``process`` and its child processes (a prefork worker's
    pool; all their threads), from /proc (Linux)."""
    ticks = 0
    try:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended in between
            if stat.parent.name == str(process.pid) or fields[1] == str(process.pid):
                ticks += int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK") if ticks else None


def _split(ids: list[int]) -> tuple[list[int], list[int]]:
    """The first two ids (to warm the workers up on), and the others."""
    return ids[:2], ids[2:]


def _check(ids: list[int], fakes: list[Any]) -> list[str]:
    """What is wrong after a suspend: services not suspended, not exactly one suspend
    event, or panels that were not asked exactly once per server."""
    from django.db.models import Count

    from services.choices import ServiceAction, ServiceStatus
    from services.models import Service, ServiceEvent

    failures = []
    not_suspended = Service.objects.filter(pk__in=ids).exclude(status=ServiceStatus.SUSPENDED)
    if not_suspended.exists():
        failures.append(f"{not_suspended.count()} services are not suspended")
    events = dict(
        ServiceEvent.objects.filter(service__in=ids, action=ServiceAction.SUSPEND, error="")
        .values_list("service")
        .annotate(n=Count("pk"))
        .values_list("service", "n")
    )
    wrong = [pk for pk in ids if events.get(pk) != 1]
    if wrong:
        failures.append(f"{len(wrong)} services have not exactly one suspend event")
    for fake in fakes:
        calls = fake.received("POST", "/api/application/servers/*/suspend")
        if len(calls) != len({call.path for call in calls}) or len(calls) != len(fake.servers):
            failures.append(f"{fake.base_url} received {len(calls)} suspend calls")
        awake = [s["id"] for s in fake.servers.values() if s["status"] != "suspended"]
        if awake:
            failures.append(f"{len(awake)} servers of {fake.base_url} are not suspended")
    return failures


def run(context: common.BenchContext) -> None:
    from django.conf import settings
    from django.db import connection

    from delivery.registry import UnknownModule, get_module
    from services import bulk
    from tests.fakes.pterodactyl import serve

    if not settings.REDIS_URL:
        print("Bulk suspend on a panel: skipped, the worker needs a broker (REDIS_URL).\n")
        return
    try:
        get_module("pterodactyl")
    except UnknownModule:
        print("Bulk suspend on a panel: skipped, the Pterodactyl module is not installed.\n")
        return
    if connection.vendor != "postgresql":
        raise SystemExit("Calls run several at a time on PostgreSQL only.")
    per_server = settings.BULK_CALLS_PER_SERVER
    parts = bulk.parts()
    _cleanup()
    user = common.bench_superuser()
    customer = _customer()
    runs: list[Run] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix=PREFIX) as logs:
        # Each fake is seeded with a location, a node, a nest and an egg, and no server.
        fakes = [stack.enter_context(serve()) for _ in range(10)]
        servers = [_server(fake, f"{PREFIX}-{n}") for n, fake in enumerate(fakes)]
        # Two more on the sample's panel: one for each worker to warm up on, untimed.
        warm_up, sample = _split(_active_services(customer, [(fakes[0], servers[0], SAMPLE + 2)]))
        single = _active_services(customer, [(fakes[1], servers[1], SERVICES)])
        spread = _active_services(
            customer, [(fakes[n], servers[n], SERVICES // 4) for n in range(2, 6)]
        )
        goal = _active_services(
            customer, [(fakes[n], servers[n], GOAL_SERVICES // 4) for n in range(6, 10)]
        )
        for fake in fakes:
            fake.inject("*", latency=LATENCY)
        one, bounded = (f"{PREFIX}-{key}-{uuid.uuid4().hex[:6]}" for key in ("one", "bounded"))
        workers = [
            _start_worker(one, Path(logs), BULK_CALLS_PER_SERVER="1"),
            _start_worker(bounded, Path(logs), processes=parts),
        ]
        try:
            # A worker's first task pays for its start (Django, Celery, connections): not
            # what is measured.
            for service_id, queue in zip(warm_up, (one, bounded), strict=True):
                _suspend([service_id], queue, user)
            for name, ids, worker, used, bound in [
                ("one after the other (sample)", sample, workers[0], fakes[:1], 1),
                ("1 server", single, workers[1], fakes[1:2], per_server),
                ("4 servers", spread, workers[1], fakes[2:6], per_server),
                ("4 servers", goal, workers[1], fakes[6:], per_server),
            ]:
                queue = one if worker is workers[0] else bounded
                cpu_before, panels_before = _cpu_seconds(worker), time.process_time()
                seconds = _suspend(ids, queue, user)
                cpu_after, panels = _cpu_seconds(worker), time.process_time() - panels_before
                cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
                failures = _check(ids, used)
                runs.append(Run(name, len(ids), len(used), bound, seconds, cpu, failures, panels))
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
            failed = any(measured.failures for measured in runs) or len(runs) < 4
            if failed:
                for log in sorted(Path(logs).iterdir()):
                    print(f"--- {log.name}\n{log.read_text()[-3000:]}")
    _cleanup()
    _report(runs, per_server, parts)


def _report(runs: list[Run], per_server: int, parts: int) -> None:
    sample, *bulks = runs
    each = sample.seconds / sample.services
    rows = []
    for measured in bulks:
        naive = measured.services * LATENCY
        # The panels' own limit: every call waits its latency, per_server at once per server.
        floor = naive / (measured.per_server * measured.servers)
        cpu = "?" if measured.cpu is None else f"{measured.cpu / measured.services * 1000:.1f} ms"
        rows.append(
            [
                measured.name,
                f"{measured.services:,}",
                str(measured.servers),
                str(measured.per_server * measured.servers),
                f"{measured.seconds:.1f} s",
                f"{measured.rate:,.0f}",
                cpu,
                f"{measured.panels_cpu / measured.services * 1000:.1f} ms",
                f"{floor:.1f} s ({floor / measured.seconds:.0%})",
                f"{naive / measured.seconds:.1f}x",
                f"{each * measured.services / measured.seconds:.1f}x",
            ]
        )
    common.print_table(
        f"Bulk suspend on Pterodactyl panels answering in {LATENCY * 1000:.0f} ms per call "
        f"(fake panels, real worker of {parts} processes, {parts} parts, "
        f"BULK_CALLS_PER_SERVER={per_server}: {per_server // parts} per part)",
        [
            "services on",
            "services",
            "servers",
            "calls at once",
            "wall time",
            "services/s",
            "worker CPU per service",
            "fake panels' CPU per service",
            "panels' limit (latency / calls at once): share of the wall time",
            f"vs services x {LATENCY * 1000:.0f} ms one after the other",
            f"vs measured one after the other ({each * 1000:.0f} ms each, extrapolated)",
        ],
        rows,
    )
    goal = next(m for m in bulks if m.services == GOAL_SERVICES)
    print(
        f"The goal: {GOAL_SERVICES:,} services at {LATENCY * 1000:.0f} ms a call in at most "
        f"{GOAL_SECONDS} s: {goal.seconds:.1f} s, {GOAL_SECONDS / goal.seconds:.1f}x under it "
        f"({'met' if goal.seconds <= GOAL_SECONDS else 'NOT met'}); "
        f"{GOAL_SERVICES * LATENCY / goal.seconds:.1f}x faster than "
        f"{GOAL_SERVICES:,} x {LATENCY * 1000:.0f} ms one after the other "
        f"({GOAL_SERVICES * LATENCY:,.0f} s). On one server the bound alone allows "
        f"{per_server / LATENCY:.0f} services/s ({GOAL_SERVICES * LATENCY / per_server:.0f} s "
        f"for {GOAL_SERVICES:,}): the goal needs several servers or a higher bound."
    )
    print(
        f"One after the other, measured on a sample: {sample.services} services suspended by "
        f"a worker with BULK_CALLS_PER_SERVER=1 took {sample.seconds:.1f} s, "
        f"{each * 1000:.0f} ms each ({each * 1000 - LATENCY * 1000:.0f} ms of it beyond the "
        f"latency: ours and the fake's work), its worker using "
        f"{'?' if sample.cpu is None else f'{sample.cpu / sample.services * 1000:.0f} ms'} of "
        "CPU per service."
    )
    problems = [f"{m.name}: {failure}" for m in runs for failure in m.failures]
    if problems:
        raise SystemExit("Checks FAILED:\n  " + "\n  ".join(problems))
    print(
        "Checked after each run: every service suspended, with exactly one suspend event, "
        "and each panel server received exactly one suspend call and is suspended.\n"
    )
