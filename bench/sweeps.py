"""The timeline's periodic tasks over 10,000 due services, and their due-rows query when
nothing is due (issue 13).

For each measured task (``automation.registry``) the same 10,000 active monthly bench
services are made due by one ``UPDATE`` (an expiration or a scheduled cancellation an
hour before the moment of the run, an expiration a day after it for the notices and the
renewal invoices, expired long before it for the terminations); then the task runs once,
timed (services per second, against one raw ``UPDATE`` of the same rows writing what the
task writes, rolled back: the floor), and a second time, when nothing is due any more.
Then everything is put back as it was: the services' rows from a copy taken first, and
every row the run added (history, e-mail log, invoices) deleted, so a second bench prints
the same. The copy and the reset are kept in two tables of the bench database, so a run
that was interrupted is undone by the next one.

The tasks run at a moment of the bench's choosing (``run(now)``): 400 days before the
earliest expiration in the database, when nothing of the seeded data is due (checked).
Nothing due is then measured at two moments: that quiet one, and a day before the first
expiration of a live service, when the expirations of the ended services (a third of the
table) are behind, as in a database that has lived, and the planner, reading status and
expiration as independent, expects thousands of rows. At each, every registered task's
due-rows query (``due(now)``, the dry run's) and a whole run that finds nothing are timed
(median of ``--runs``) and EXPLAINed (ANALYZE, BUFFERS): the tables, the indexes, the
rows read. A query that finds nothing yet scans ``services_service`` or reads more than
``WALKED`` of its rows (a walk of the primary key) "reads the table".

What runs is the panel's own cost: the manual module (no panel), e-mails rendered and
logged but not delivered (Django's dummy e-mail backend), the customers' notifications
queued to Redis (a queue of the bench's own, deleted afterwards) when ``REDIS_URL`` is
set, else sent in-process. Measured in a child process with production settings
(``DEBUG`` off). The expiry notices' sweep renders nothing: it claims the notices and
queues their sending (``services.notices``), and its time is that; the worker's part is
timed apart, after the first run: the first ``WORKER_SAMPLE`` e-mails of the tasks it
queued, run in-process (rendered in each customer's language, taken, marked sent),
printed as e-mails per second. With ``SWEEPS_LARGE_DATABASE_URL`` set (for example
``postgres://postgres@127.0.0.1:5432/bench_1m``) the same is measured there too, at
``SWEEPS_LARGE_SERVICES`` (1,000,000) services and ``SWEEPS_LARGE_CUSTOMERS`` (50,000),
seeded once, and the figures are compared with the first ones. ``SWEEPS_ONLY`` (task keys,
comma-separated; ``none`` for none) limits the sweeps measured: they take minutes each.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/sweeps.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

SERVICES = 10_000
#: The tables that keep the copy of the services' rows and the rows to delete, until reset.
SAVED = "bench_sweeps_saved"
MARKS = "bench_sweeps_marks"
DUMMY_EMAIL = "django.core.mail.backends.dummy.EmailBackend"
#: More rows of services than this read by a query that finds nothing: it reads the table.
WALKED = 1_000
#: Task keys, comma-separated: measure the sweeps of these only.
ONLY = "SWEEPS_ONLY"
#: E-mails of the queued tasks that the bench runs in-process to time the worker's part.
WORKER_SAMPLE = 2_000


@dataclass(frozen=True)
class Case:
    """One task measured over the 10,000 services, made due by ``due_sql`` (a SET list
    where ``%(at)s`` is the moment of the run moved by ``offset``)."""

    task: str
    made_due: str
    due_sql: str
    offset: dt.timedelta
    #: What the floor's UPDATE writes to the same rows (rolled back).
    floor_sql: str
    #: The task (its Celery name) whose queued messages do the rest of the work, timed
    #: apart after the first run (``WORKER_SAMPLE`` of its items, in-process).
    worker_task: str = ""


HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
CASES = [
    Case(
        "services.cancel_scheduled",
        "cancellation scheduled 1 h before",
        "cancel_at = %(at)s, cancel_reason = 'bench', cancel_source = 'client'",
        -HOUR,
        "status = 'cancelled', cancelled_at = now(), cancel_at = NULL, updated_at = now()",
    ),
    Case(
        "services.expire",
        "expiration 1 h before",
        "expires_at = %(at)s",
        -HOUR,
        "status = 'expired', updated_at = now()",
    ),
    Case(
        "services.terminate",
        "expired 365 days before",
        "status = 'expired', expires_at = %(at)s",
        -365 * DAY,
        "status = 'terminated', terminated_at = now(), updated_at = now()",
    ),
    Case(
        "services.expiry_notices",
        "expiration 1 day after",
        "expires_at = %(at)s",
        DAY,
        "updated_at = now()",
        worker_task="services.tasks.send_expiry_notices",
    ),
    Case(
        "billing.renewal_invoices",
        "expiration 1 day after",
        "expires_at = %(at)s",
        DAY,
        "updated_at = now()",
    ),
]


@dataclass
class Plan:
    """What EXPLAIN (ANALYZE, BUFFERS) says of one query."""

    scans: list[str]
    #: Rows each table's scans read (returned, and removed by a filter or a recheck).
    rows_read: dict[str, int]
    buffers: int
    ms: float
    text: str

    @property
    def reads_services(self) -> bool:
        """A sequential scan of the services, or a walk of their primary key reading more
        than ``WALKED`` rows: a due-rows query that finds nothing must do neither."""
        return any(scan.startswith("Seq Scan on services_service") for scan in self.scans) or (
            self.rows_read.get("services_service", 0) > WALKED
        )


@dataclass
class Sweep:
    """One task over the due services: what it did, and how long it took."""

    task: str
    made_due: str
    done: int
    skipped: int
    failed: int
    seconds: float
    floor_seconds: float
    floor_sql: str
    second_seconds: float
    second_done: int
    batch_plan: Plan | None
    #: The worker's part (``Case.worker_task``), run in-process after the first run: its
    #: items (e-mails sent), of how many queued, and the time they took.
    worker_task: str = ""
    worker_done: int = 0
    worker_queued: int = 0
    worker_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def worker_rate(self) -> float:
        return self.worker_done / self.worker_seconds if self.worker_seconds else 0.0


@dataclass
class Idle:
    """One task when nothing is due: its due-rows query, a whole run, their plans."""

    task: str
    moment: str
    due_rows: int
    due_ms: float
    run_ms: float
    run_queries: int
    due_plan: Plan
    run_plans: list[Plan] = field(default_factory=list)

    @property
    def reads_services(self) -> bool:
        return self.due_plan.reads_services or any(p.reads_services for p in self.run_plans)


@dataclass
class Figures:
    services: int
    moment: str
    notifications: str
    sweeps: list[Sweep]
    idle: list[Idle]
    #: Nothing due at a moment with the ended services' expirations behind it.
    lived_moment: str
    lived: list[Idle]
    notes: list[str]


# The plans -----------------------------------------------------------------------------


def explain(sql: str, params: Any) -> Plan:
    """EXPLAIN (ANALYZE, BUFFERS) of one SELECT: its scans, rows read, buffers and text."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        document = cursor.fetchone()[0]
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        text = "\n".join(row[0] for row in cursor.fetchall())
    top = (json.loads(document) if isinstance(document, str) else document)[0]
    scans: list[str] = []
    rows: dict[str, int] = {}
    for node in _nodes(top["Plan"]):
        relation = node.get("Relation Name")
        index = node.get("Index Name")
        if relation or index:
            using = f" using {index}" if index else ""
            scans.append(f"{node['Node Type']}{using}" + (f" on {relation}" if relation else ""))
        if relation:
            loops = node.get("Actual Loops", 1)
            read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            read += node.get("Rows Removed by Index Recheck", 0)
            rows[relation] = rows.get(relation, 0) + read * loops
    plan = top["Plan"]
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return Plan(scans, rows, buffers, top.get("Execution Time", 0.0), text)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _plain_selects(queries: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The reads among ``queries`` that EXPLAIN ANALYZE may run again: no lock, no write."""
    return [
        (sql, params)
        for sql, params in queries
        if sql.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in sql.upper()
    ]


class _Stop(Exception):
    """Raised before a run's first write: what it read until then is known."""


def first_batch(run: Any, moment: dt.datetime) -> tuple[str, Any] | None:
    """The first lock of ``run(moment)``: a batch's ``SELECT … FOR UPDATE SKIP LOCKED`` of
    its due rows (services.batches), or the first row claimed one by one; the run is
    stopped there, before anything changes."""
    from django.db import connection

    found: list[tuple[str, Any]] = []

    def stop(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statement = sql.lstrip().upper()
        if statement.startswith("SELECT") and "FOR UPDATE" in statement:
            found.append((sql, params))
            raise _Stop
        if not statement.startswith(("SELECT", "SAVEPOINT")):
            raise _Stop
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(stop):
            run(moment)
    except _Stop:
        pass
    return found[0] if found else None


# The fixtures --------------------------------------------------------------------------


def _execute(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _service_columns() -> list[str]:
    from services.models import Service

    return [f.column for f in Service._meta.concrete_fields if not f.primary_key]


def _counted_tables() -> list[tuple[str, str]]:
    """(table, primary key column) of every model with an integer key: the tables whose
    new rows a run leaves, found by their key being above the highest before it."""
    from django.apps import apps
    from django.db import models

    integer_keys = (models.AutoField, models.BigAutoField, models.SmallAutoField)
    tables = {
        (model._meta.db_table, model._meta.pk.column)
        for model in apps.get_models(include_auto_created=True)
        if isinstance(model._meta.pk, integer_keys) and not model._meta.proxy
    }
    return sorted(tables)


def _create_tables() -> None:
    _execute(f"CREATE TABLE IF NOT EXISTS {SAVED} (service_id bigint PRIMARY KEY, row jsonb)")
    _execute(f"CREATE TABLE IF NOT EXISTS {MARKS} (tbl text PRIMARY KEY, pk text, max_pk bigint)")


def save(ids: list[int]) -> None:
    """Keep a copy of the services' rows, to put them back after each case."""
    _execute(f"DELETE FROM {SAVED}")
    _execute(
        f"INSERT INTO {SAVED} SELECT s.id, to_jsonb(s) FROM services_service s "
        "WHERE s.id = ANY(%s)",
        [ids],
    )


def mark() -> None:
    """Remember the highest key of every table: rows above it are the run's."""
    tables = _counted_tables()
    union = " UNION ALL ".join(
        f"SELECT '{table}', '{pk}', COALESCE(MAX({pk}), 0) FROM {table}" for table, pk in tables
    )
    _execute(f"INSERT INTO {MARKS} {union}")


def reset() -> list[str]:
    """Put the saved services back and delete every row added since ``mark``; returns the
    tables it deleted from. One transaction: the foreign keys are checked at its end."""
    from django.db import transaction

    columns = _service_columns()
    targets = ", ".join(columns)
    values = ", ".join(f"r.{column}" for column in columns)
    cleaned = []
    with transaction.atomic():
        _execute(
            f"UPDATE services_service AS s SET ({targets}) = ({values}) FROM {SAVED} AS saved, "
            "jsonb_populate_record(NULL::services_service, saved.row) AS r "
            "WHERE s.id = saved.service_id"
        )
        for table, pk, max_pk in _execute(f"SELECT tbl, pk, max_pk FROM {MARKS}"):
            if _execute(f"DELETE FROM {table} WHERE {pk} > %s RETURNING 1", [max_pk]):
                cleaned.append(table)
        _execute(f"DELETE FROM {MARKS}")
    return cleaned


def grown() -> list[str]:
    """The tables with rows added since ``mark``."""
    marks = _execute(f"SELECT tbl, pk, max_pk FROM {MARKS}")
    return [
        table
        for table, pk, max_pk in marks
        if _execute(f"SELECT 1 FROM {table} WHERE {pk} > %s LIMIT 1", [max_pk])
    ]


def unrestored() -> int:
    """How many saved services differ from their copy: 0 once ``reset`` has run."""
    rows = _execute(
        f"SELECT count(*) FROM services_service s JOIN {SAVED} saved ON s.id = saved.service_id "
        "WHERE to_jsonb(s) <> saved.row"
    )
    return int(rows[0][0])


def vacuum(tables: list[str]) -> None:
    """VACUUM (ANALYZE): the next case, and the next bench, start from the same state."""
    for table in sorted({"services_service", *tables}):
        _execute(f"VACUUM (ANALYZE) {table}")


def recover() -> None:
    """Undo a run that was interrupted: its services put back, its rows deleted."""
    _create_tables()
    if _execute(f"SELECT 1 FROM {MARKS} LIMIT 1") or _execute(f"SELECT 1 FROM {SAVED} LIMIT 1"):
        print("Undoing an interrupted run of this bench first.")
        vacuum(reset())
        _execute(f"DELETE FROM {SAVED}")


def pick() -> list[int]:
    """10,000 active monthly bench services with no history, no invoice, no end scheduled
    and no renewal limit, spread over the table (in the order of their ids' md5)."""
    from django.db.models import CharField, Exists, OuterRef
    from django.db.models.functions import MD5, Cast

    from billing.models import InvoiceLine
    from products.choices import BillingCycle
    from services.choices import ServiceStatus
    from services.models import Service, ServiceEvent

    rows = (
        Service.objects.filter(
            status=ServiceStatus.ACTIVE,
            billing_cycle=BillingCycle.MONTHLY,
            module="manual",
            max_renewals__isnull=True,
            cancel_at__isnull=True,
            operation="",
            customer__user__email__startswith="bench-",
        )
        .exclude(Exists(ServiceEvent.objects.filter(service=OuterRef("pk"))))
        .exclude(Exists(InvoiceLine.objects.filter(service=OuterRef("pk"))))
        .order_by(MD5(Cast("pk", CharField())))
        .values_list("pk", flat=True)
    )
    return list(rows[:SERVICES])


def quiet_moment() -> dt.datetime:
    """400 days before the earliest expiration, at midnight: no renewal lead time
    (365 days at most), reminder offset or grace period reaches the seeded rows."""
    from django.db.models import Min

    from services.models import Service

    earliest = Service.objects.aggregate(earliest=Min("expires_at"))["earliest"]
    moment = earliest - dt.timedelta(days=400)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def lived_moment() -> dt.datetime:
    """A day before the first expiration of an active or suspended service: the seed's
    own moment, when the cancelled, terminated and expired services' expirations (a
    third of the table) are behind, as in a database that has lived, yet none of them is
    due to expire or terminate. Renewal invoices and notices are due then (the seed makes
    no invoice or e-mail), so those two are not measured at it."""
    from django.db.models import Min

    from services.choices import ServiceStatus
    from services.models import Service

    live = Service.objects.filter(status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED])
    earliest = live.aggregate(earliest=Min("expires_at"))["earliest"]
    return earliest - dt.timedelta(days=1)


# The notifications' queue --------------------------------------------------------------


@contextmanager
def private_queue() -> Iterator[str]:
    """Queue this process's tasks (the customers' notifications) on a queue of its own,
    deleted at the end: no worker runs them, and none of another bench's is touched."""
    import redis
    from django.conf import settings

    from clientxcms.celery import app

    if not settings.REDIS_URL:
        yield "sent in-process (no REDIS_URL)"
        return
    queue = f"bench-sweeps-{uuid.uuid4().hex[:8]}"
    default = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield "queued to Redis, no worker"
    finally:
        app.conf.task_default_queue = default
        client = redis.Redis.from_url(settings.REDIS_URL)
        # The queue and its exchange's bindings.
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)


@contextmanager
def recorded_tasks() -> Iterator[list[tuple[Any, tuple[Any, ...], dict[str, Any]]]]:
    """Record every task queued in the block, (task, args, kwargs), and queue it as ever."""
    from celery.app.task import Task

    queued: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
    apply_async = Task.apply_async

    def recording(self: Any, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        queued.append((self, tuple(args or ()), dict(kwargs or {})))
        return apply_async(self, args, kwargs, **options)

    Task.apply_async = recording  # type: ignore[method-assign,assignment]
    try:
        yield queued
    finally:
        Task.apply_async = apply_async  # type: ignore[method-assign]


def run_queued(
    queued: list[tuple[Any, tuple[Any, ...], dict[str, Any]]], name: str
) -> tuple[int, int, float]:
    """Run in-process, as a worker would, the queued messages of the task ``name``, until
    ``WORKER_SAMPLE`` items (a message's list argument: its e-mails) have run; what they
    returned (e-mails sent), the items queued, and the seconds they took."""

    def items(args: tuple[Any, ...]) -> int:
        return next((len(arg) for arg in args if isinstance(arg, list)), 1)

    mine = [(task, args, kwargs) for task, args, kwargs in queued if task.name == name]
    done = ran = 0
    started = time.perf_counter()
    for task, args, kwargs in mine:
        if ran >= WORKER_SAMPLE:
            break
        done += int(task(*args, **kwargs) or 0)
        ran += items(args)
    seconds = time.perf_counter() - started
    return done, sum(items(args) for _, args, _ in mine), seconds


# The measures --------------------------------------------------------------------------


def _floor_seconds(ids: list[int], set_sql: str) -> float:
    """One raw UPDATE of the rows writing ``set_sql``, rolled back: the median of three."""
    from django.db import transaction

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        with transaction.atomic():
            _execute(
                f"UPDATE services_service SET {set_sql} WHERE id = ANY(%s)",
                [ids],
            )
            timings.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return sorted(timings)[1]


def sweep(case: Case, ids: list[int], moment: dt.datetime) -> Sweep:
    """Make the rows due, run the task twice (timed), and the worker's part of the first
    run in between (timed apart), put everything back."""
    from automation import registry
    from clientxcms.celery import app

    task = registry.find(case.task)
    worker = (0, 0, 0.0)
    floor = _floor_seconds(ids, case.floor_sql)
    mark()
    try:
        _execute(
            f"UPDATE services_service SET {case.due_sql} WHERE id = ANY(%(ids)s)",
            {"at": moment + case.offset, "ids": ids},
        )
        vacuum([])
        batch = first_batch(task.run, moment)
        batch_plan = explain(*batch) if batch else None
        with recorded_tasks() as queued:
            started = time.perf_counter()
            result = task.run(moment)
            seconds = time.perf_counter() - started
        if case.worker_task and not app.conf.task_always_eager:
            worker = run_queued(queued, case.worker_task)
        # What autovacuum does between two runs minutes apart: without it, the second
        # run plans with statistics that still say the e-mail log or the invoices empty.
        vacuum(grown())
        started = time.perf_counter()
        second = task.run(moment)
        second_seconds = time.perf_counter() - started
    finally:
        vacuum(reset())
    return Sweep(
        task=case.task,
        made_due=case.made_due,
        done=result.done,
        skipped=result.skipped,
        failed=len(result.failed),
        seconds=seconds,
        floor_seconds=floor,
        floor_sql=case.floor_sql,
        second_seconds=second_seconds,
        second_done=second.done,
        batch_plan=batch_plan,
        worker_task=case.worker_task,
        worker_done=worker[0],
        worker_queued=worker[1],
        worker_seconds=worker[2],
    )


def idle(task: Any, moment: dt.datetime, runs: int) -> Idle:
    """A task when nothing is due: its due-rows query and a whole run, timed and
    EXPLAINed."""
    from django.db import connection

    due = task.due(moment)
    rows = len(list(due))
    due_ms = common.median_ms(lambda: list(task.due(moment)), runs)
    run_ms = common.median_ms(lambda: task.run(moment), runs)
    with common.captured_sql() as queries:
        task.run(moment)
    sql, params = due.query.get_compiler(connection=connection).as_sql()
    return Idle(
        task=task.key,
        moment=f"{moment:%Y-%m-%d %H:%M}",
        due_rows=rows,
        due_ms=due_ms,
        run_ms=run_ms,
        run_queries=len(queries),
        due_plan=explain(sql, params),
        run_plans=[explain(*query) for query in _plain_selects(queries)],
    )


def measure(context: common.BenchContext) -> Figures:
    """Every case over 10,000 due services, then every registered task with nothing due."""
    from django.test.utils import override_settings

    from automation import registry
    from services.models import Service

    recover()
    moment = quiet_moment()
    notes = []
    keys = {task.key for task in registry.tasks()}
    with override_settings(EMAIL_BACKEND=DUMMY_EMAIL), private_queue() as notifications:
        for task in registry.tasks():
            if task.due(moment).exists():
                notes.append(f"{task.key}: rows already due at {moment:%Y-%m-%d}")
        ids = pick()
        if len(ids) < SERVICES:
            raise SystemExit(f"Only {len(ids)} services fit the sweeps bench; seed more.")
        save(ids)
        sweeps = []
        only = [key for key in os.environ.get(ONLY, "").split(",") if key]
        for case in CASES:
            if only and case.task not in only:
                continue
            if case.task not in keys:
                notes.append(f"{case.task}: not registered, not measured")
                continue
            sweeps.append(sweep(case, ids, moment))
            done = sweeps[-1]
            print(f"  {case.task}: {done.done:,} done in {done.seconds:.1f} s", flush=True)
        if differ := unrestored():
            notes.append(f"{differ} services differ from their copy after the reset")
        _execute(f"DELETE FROM {SAVED}")  # kept until now for ``recover``
        idle_figures = [idle(task, moment, context.runs) for task in registry.tasks()]
        lived = lived_moment()
        lived_figures = []
        for task in registry.tasks():
            if task.due(lived).exists():
                notes.append(f"{task.key}: rows due at {lived:%Y-%m-%d %H:%M}, not measured")
            else:
                lived_figures.append(idle(task, lived, context.runs))
    return Figures(
        services=Service.objects.count(),
        moment=moment.isoformat(),
        notifications=notifications,
        sweeps=sweeps,
        idle=idle_figures,
        lived_moment=lived.isoformat(),
        lived=lived_figures,
        notes=notes,
    )


# The tables ----------------------------------------------------------------------------


def _plan_line(plan: Plan | None) -> str:
    if plan is None:
        return "not found"
    scans = "; ".join(dict.fromkeys(plan.scans))
    rows = ", ".join(f"{table} {count:,}" for table, count in plan.rows_read.items())
    return f"{scans} (rows read: {rows or 'none'}; {plan.buffers:,} buffers)"


def print_figures(figures: Figures, runs: int) -> None:
    total = f"{figures.services:,} services"
    moment = figures.moment[:10]
    common.print_table(
        f"Sweeps over {SERVICES:,} due services, {total} (run at {moment}; "
        f"notifications {figures.notifications})",
        ["task", "made due", "done", "wall time", "services/s", "one UPDATE of the rows",
         "vs the UPDATE", "second run (nothing due)"],
        [
            [
                s.task,
                s.made_due,
                f"{s.done:,}" + (f" ({s.failed} failed, {s.skipped} skipped)"
                                 if s.failed or s.skipped else ""),
                f"{s.seconds:.1f} s",
                f"{s.rate:,.0f}",
                f"{s.floor_seconds * 1000:.0f} ms",
                f"{s.seconds / s.floor_seconds:,.0f}×",
                f"{s.second_seconds * 1000:.1f} ms" + (f" ({s.second_done} done)"
                                                       if s.second_done else ""),
            ]
            for s in figures.sweeps
        ],
    )  # fmt: skip
    for s in figures.sweeps:
        print(f"Floor of {s.task}: UPDATE services_service SET {s.floor_sql} (rolled back)")
    for s in figures.sweeps:
        if s.worker_task and s.worker_seconds:
            print(
                f"{s.task} times its claim and its queueing; the worker's part "
                f"({s.worker_task}), run in-process after it: {s.worker_done:,} of the "
                f"{s.worker_queued:,} items queued in {s.worker_seconds:.1f} s, "
                f"{s.worker_rate:,.0f}/s"
            )
        elif s.worker_task:
            print(f"{s.task}: its tasks ran in-process, within its wall time")
    print()
    common.print_table(
        f"The first batch's lock with {SERVICES:,} due, {total}",
        ["task", "plan"],
        [[s.task, _plan_line(s.batch_plan)] for s in figures.sweeps],
    )
    _print_idle(f"Nothing due at {moment}, {total}: median of {runs} runs", figures.idle)
    lived = figures.lived_moment[:16].replace("T", " ")
    _print_idle(
        f"Nothing due at {lived}, the ended services' expirations behind, {total}",
        figures.lived,
    )
    for note in figures.notes:
        print(f"Note: {note}")
    print(f"\nThe due-rows queries on services_service when nothing is due, {total}:\n")
    for i in [*figures.idle, *figures.lived]:
        if "services_service" in i.due_plan.rows_read:
            print(f"#### {i.task} at {i.moment} ({i.due_rows} rows)\n")
            print(f"```\n{i.due_plan.text}\n```\n")


def _print_idle(title: str, idles: list[Idle]) -> None:
    common.print_table(
        title,
        ["task", "due-rows query", "its plan", "a run", "queries", "the run's plan",
         "reads services_service"],
        [
            [
                i.task,
                f"{i.due_ms:.2f} ms",
                _plan_line(i.due_plan),
                f"{i.run_ms:.2f} ms",
                str(i.run_queries),
                "<br>".join(_plan_line(plan) for plan in i.run_plans) or "no query",
                "**yes**" if i.reads_services else "no",
            ]
            for i in idles
        ],
    )  # fmt: skip


def print_comparison(small: Figures, large: Figures) -> None:
    """The large database's figures against the small one's."""
    sizes = f"{large.services:,} against {small.services:,} services"
    rates = {s.task: s for s in small.sweeps}
    common.print_table(
        f"Sweeps, {sizes}",
        ["task", "services/s", "ratio", "second run", "ratio"],
        [
            [
                s.task,
                f"{rates[s.task].rate:,.0f} → {s.rate:,.0f}",
                f"{s.rate / rates[s.task].rate:.2f}×",
                f"{rates[s.task].second_seconds * 1000:.1f} → {s.second_seconds * 1000:.1f} ms",
                f"{s.second_seconds / rates[s.task].second_seconds:.2f}×",
            ]
            for s in large.sweeps
            if s.task in rates and rates[s.task].rate
        ],
    )
    for label, before, after in (
        ("nothing due", small.idle, large.idle),
        ("nothing due, the ended services' expirations behind", small.lived, large.lived),
    ):
        _compare_idle(f"{label[0].upper()}{label[1:]}, {sizes}", before, after)


def _compare_idle(title: str, small: list[Idle], large: list[Idle]) -> None:
    before = {i.task: i for i in small}
    common.print_table(
        title,
        ["task", "due-rows query", "ratio", "a run", "ratio"],
        [
            [
                i.task,
                f"{before[i.task].due_ms:.2f} → {i.due_ms:.2f} ms",
                f"{i.due_ms / before[i.task].due_ms:.2f}×",
                f"{before[i.task].run_ms:.2f} → {i.run_ms:.2f} ms",
                f"{i.run_ms / before[i.task].run_ms:.2f}×",
            ]
            for i in large
            if i.task in before
        ],
    )


# The processes -------------------------------------------------------------------------


def _load(data: dict[str, Any]) -> Figures:
    """The figures a child wrote (``asdict``), as dataclasses again."""

    def idle_figures(rows: list[dict[str, Any]]) -> list[Idle]:
        return [
            Idle(
                **{
                    **i,
                    "due_plan": Plan(**i["due_plan"]),
                    "run_plans": [Plan(**p) for p in i["run_plans"]],
                }
            )
            for i in rows
        ]

    sweeps = [
        Sweep(**{**s, "batch_plan": Plan(**s["batch_plan"]) if s["batch_plan"] else None})
        for s in data["sweeps"]
    ]
    idle, lived = idle_figures(data["idle"]), idle_figures(data["lived"])
    return Figures(**{**data, "sweeps": sweeps, "idle": idle, "lived": lived})


def run(context: common.BenchContext) -> None:
    common.at_two_sizes(
        context, module="sweeps", prefix="SWEEPS", load=_load, compare=print_comparison
    )


def main() -> None:
    """The child: seed if needed, measure, print, and write the figures for the parent."""
    common.child_main(__doc__, measure, print_figures)


if __name__ == "__main__":
    main()
