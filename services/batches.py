"""Many lifecycle operations in one transaction: one lock, one write of each kind.

A sweep or a bulk action over 10,000 services with a module that calls no panel
(``manual``) spent its time on round trips: per service, a transaction to claim it, a
lock, an UPDATE, an INSERT of its history, a commit and a push to Redis. Inside
``locked(due)``, the lifecycle's operations run as they always do, each deciding from the
rule book on its own service, but on rows locked together by one ``SELECT … FOR UPDATE
SKIP LOCKED``, and what they write is gathered: at the end, one UPDATE per set of changed
fields (``update_rows``), one INSERT of the history (``insert_rows``), and one task per
hundred e-mails, queued once the transaction has committed.

Failure isolation is kept without a savepoint per service: an operation writes nothing
until the batch's end, so one refused (``LifecycleError``) or failed (``ModuleError``)
leaves the others' gathered writes alone. A failure of the batch's own writes rolls the
whole batch back, and the caller runs those services one by one
(``hand_over_in_batches``), as before batches. A module that calls a panel must never
be called with a lock held: callers batch only services whose module calls none
(``calls_no_panel``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from clientxcms.claims import ClaimResult
from clientxcms.inserts import insert_rows
from delivery.registry import UnknownModule, get_module

from . import notifications
from .models import Service, ServiceEvent

logger = logging.getLogger(__name__)

#: Services locked and written together: 500 rows make one short UPDATE and INSERT each,
#: and a lock held well under a second.
BATCH_SIZE = 500
#: Rows per UPDATE statement: under SQLite's 32,766 parameters with a dozen fields.
UPDATE_ROWS = 1000


@dataclass
class Batch:
    """The services locked for a batch, and the writes their operations gathered."""

    locked: dict[int, Service]
    updates: defaultdict[tuple[str, ...], list[Service]] = field(
        default_factory=lambda: defaultdict(list)
    )
    events: list[ServiceEvent] = field(default_factory=list)
    notified: list[ServiceEvent] = field(default_factory=list)

    def service(self, pk: int) -> Service | None:
        """The locked row ``pk``, or None when the batch does not hold it."""
        return self.locked.get(pk)

    def update(self, service: Service, fields: list[str]) -> None:
        """Write ``fields`` of ``service`` (and its ``updated_at``) with the batch."""
        service.updated_at = timezone.now()
        self.updates[tuple(sorted({*fields, "updated_at"}))].append(service)

    def record(self, event: ServiceEvent, *, notify: bool) -> None:
        """Insert ``event`` with the batch; e-mail its customer once the batch committed."""
        self.events.append(event)
        if notify:
            self.notified.append(event)

    def flush(self) -> None:
        """Make the gathered writes: one UPDATE per set of fields, one INSERT of history
        (a ``COPY`` on PostgreSQL: half the time of ``bulk_create``'s)."""
        for fields, services in self.updates.items():
            update_rows(services, list(fields))
        insert_rows(ServiceEvent, self.events, keyed=True)
        ids = [event.pk for event in self.notified]
        if ids:
            transaction.on_commit(partial(notifications.enqueue_many, ids))


def update_rows(services: list[Service], fields: list[str]) -> None:
    """Write ``fields`` of each of ``services``, each its own values, in one statement:
    ``UPDATE … FROM (VALUES (id, value, …), …)``.

    What ``bulk_update`` does, without its ``CASE WHEN id = … THEN …`` per row and field,
    which Django builds in Python at a millisecond a service. The values are prepared by
    each field as ``save()`` would; PostgreSQL is told their column types (a column of the
    VALUES that is NULL in every row would otherwise be text), SQLite needs none.
    """
    by_name = {field.name: field for field in Service._meta.concrete_fields}
    columns = [by_name[name] for name in fields]
    quote = connection.ops.quote_name
    typed = connection.vendor == "postgresql"
    assignments = ", ".join(
        f"{quote(field.column)} = "
        + (f"CAST(v.column{i} AS {field.db_type(connection)})" if typed else f"v.column{i}")
        for i, field in enumerate(columns, start=2)
    )
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    table = quote(Service._meta.db_table)
    for start in range(0, len(services), UPDATE_ROWS):
        chunk = services[start : start + UPDATE_ROWS]
        params: list[Any] = []
        for service in chunk:
            params.append(service.pk)
            params += [f.get_db_prep_save(getattr(service, f.attname), connection) for f in columns]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))})"
                f" AS v WHERE {table}.{quote('id')} = v.column1",
                params,
            )


_current: ContextVar[Batch | None] = ContextVar("services_batch", default=None)


def current() -> Batch | None:
    """The batch the lifecycle's operations run in, if any."""
    return _current.get()


@contextmanager
def locked(services: QuerySet[Service]) -> Iterator[list[Service]]:
    """Lock ``services`` in one query, skipping rows another transaction holds, and
    gather the writes of the operations run on them until the block ends.

    The block runs in one transaction; an exception out of it writes nothing. The
    customers (the rule book reads their holds) and servers (the module reads them) come
    with the rows, without a lock of their own, each read once for the batch: joined to
    every row, a server's credentials were decrypted 500 times (the lock took 65 ms for
    500 services at a million, 40 ms with a query per relation).
    """
    with transaction.atomic():
        rows = list(
            services.select_for_update(skip_locked=True, of=("self",)).prefetch_related(
                "customer", "server"
            )
        )
        batch = Batch({service.pk: service for service in rows})
        token = _current.set(batch)
        try:
            yield rows
        finally:
            _current.reset(token)
        batch.flush()


def calls_no_panel(module: str) -> bool:
    """Whether ``module``'s operations are made in place, so that a batch may hold locks
    while it runs them (an unknown module is left to the one-by-one path's refusal)."""
    try:
        return not get_module(module).calls_panel
    except UnknownModule:
        return False


def hand_over_in_batches(
    due: QuerySet[Service],
    handle: Callable[[Service], object],
    one_by_one: Callable[[QuerySet[Service]], ClaimResult],
    *,
    expected: tuple[type[Exception], ...],
) -> ClaimResult:
    """Handle every row of ``due``: in batches where the module calls no panel, else one
    by one (``one_by_one``, the lifecycle's own claim before each panel call).

    A row of a batch that another worker holds, or that stopped being due, is skipped;
    an ``expected`` error is that row's failure; a batch whose writes fail is run again
    one by one, so that the failing row fails alone.
    """
    keys = sorted(due.order_by().values_list("pk", "module"))
    in_place = [pk for pk, module in keys if calls_no_panel(module)]
    calling = [pk for pk, module in keys if not calls_no_panel(module)]
    result = one_by_one(due.filter(pk__in=calling)) if calling else ClaimResult()
    for start in range(0, len(in_place), BATCH_SIZE):
        chunk = in_place[start : start + BATCH_SIZE]
        try:
            _run_batch(due.filter(pk__in=chunk), handle, len(chunk), result, expected)
        except DatabaseError:
            result.add(one_by_one(due.filter(pk__in=chunk)))
    return result


def _run_batch(
    due: QuerySet[Service],
    handle: Callable[[Service], object],
    size: int,
    result: ClaimResult,
    expected: tuple[type[Exception], ...],
) -> None:
    """One batch, counted into ``result`` only once its writes are made."""
    counted = ClaimResult()
    with locked(due) as rows:
        counted.skipped += size - len(rows)
        for service in rows:
            try:
                counted.record(handle(service))
            except expected as exc:
                message = getattr(exc, "message", None) or str(exc)
                logger.warning("Service %s could not be handled: %s", service.pk, message)
                counted.failed.append((service.pk, message))
    result.add(counted)
