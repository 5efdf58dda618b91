"""Bulk actions on services: what they would do, and doing it service by service.

A confirmed bulk action is a ``BulkOperation``. Its task first writes one item per
selected service, each already marked skipped when the action cannot apply to it (the
rule book's reasons, ``services.rules.annotate``, evaluated in SQL so that a million rows
cost one query), then runs the others through the lifecycle layer. Items whose module
calls a panel are claimed and applied one by one, each in its own transaction with the
lifecycle's own changes, several at a time per server (``bulk_calls``); those whose module
makes its changes in place (``manual``) are claimed, applied and written in batches of
their own transaction (``services.batches``). Either way a failure never undoes the
others, and a task that dies and is retried finds each item either untouched or
finished, so nothing is applied twice.

The plan predicts; the lifecycle decides. An item the lifecycle refuses, or finds nothing
to do for, when its turn comes (the service changed in between) is skipped with the
lifecycle's message.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clientxcms.claims import Claimer
from delivery.modules.base import ModuleError
from delivery.registry import UnknownModule, get_module

from . import batches, bulk_calls, lifecycle, rules, stats
from .actions import CATALOGUE
from .choices import (
    BulkAction,
    BulkItemState,
    BulkStatus,
    CancelWhen,
    EventSource,
    OperationState,
    ServiceAction,
    ServiceStatus,
)
from .filters import InvalidFilters, filter_services
from .lifecycle import LifecycleError
from .models import BulkOperation, BulkOperationItem, Service, ServiceEvent

S = ServiceStatus
A = ServiceAction


def service_action(action: str, params: dict[str, Any]) -> tuple[ServiceAction, dict[str, Any]]:
    """The catalogue's action behind a bulk action, and its settings for the lifecycle.

    Cancelling at the end of the period is the lifecycle's scheduled cancellation; adding
    and subtracting days are both a move of the expiration, by signed days.
    """
    params = dict(params)
    if action == BulkAction.CANCEL:
        scheduled = params.get("when") == CancelWhen.END_OF_PERIOD
        return (A.SCHEDULE_CANCEL if scheduled else A.CANCEL), params
    if action in (BulkAction.ADD_DAYS, BulkAction.SUBTRACT_DAYS):
        days = int(params.get("days") or 0)
        params["days"] = -days if action == BulkAction.SUBTRACT_DAYS else days
        return A.SHIFT_EXPIRATION, params
    return ServiceAction(action), params


def _context(action: ServiceAction, params: dict[str, Any]) -> rules.Context:
    return rules.Context(
        source=EventSource.ADMIN, cycles=int(params.get("cycles") or 1), days=params.get("days")
    )


assert all(CATALOGUE[service_action(action, {})[0]].bulk_fields for action in BulkAction.values), (
    "every bulk action's catalogue entry must say which settings bulk asks"
)

#: The permission each bulk action needs (the catalogue's), checked for the whole selection.
PERMISSIONS: dict[str, str] = {
    action: CATALOGUE[service_action(action, {})[0]].permission for action in BulkAction.values
}


@dataclass(frozen=True)
class Plan:
    """What a bulk action would do to a selection: how many change, how many skip, why."""

    total: int
    skipped: list[tuple[str, int]]

    @property
    def skipping(self) -> int:
        return sum(count for _, count in self.skipped)

    @property
    def changing(self) -> int:
        return self.total - self.skipping


def _with_skip_reason(services: QuerySet[Service], action: str, params: dict[str, Any]) -> QuerySet:
    """``services`` with ``rule_message``: the rule book's reason to skip each, or ''."""
    key, params = service_action(action, params)
    return rules.annotate(services.order_by(), key, _context(key, params))


#: The most services a bulk confirmation counts before it shows: the count of what would
#: change and skip reads every selected service (700 ms for 120,000 of a million), so a
#: larger selection says "more than" this and counts in a request of its own.
COUNTED_AT_ONCE = 1_000


def more_than(services: QuerySet[Service], bound: int) -> bool:
    """Whether ``services`` holds more than ``bound`` services; reads at most ``bound + 1``."""
    return services.order_by().values("pk")[: bound + 1].count() > bound


def plan(services: QuerySet[Service], action: str, params: dict[str, Any]) -> Plan:
    """Count what ``action`` would change and skip in ``services``: one GROUP BY query."""
    rows = (
        _with_skip_reason(services, action, params)
        .values("rule_message")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    total = 0
    skipped = []
    for row in rows:
        total += row["n"]
        if row["rule_message"]:
            skipped.append((row["rule_message"], row["n"]))
    return Plan(total=total, skipped=skipped)


#: The bulk actions whose confirmation names the services they change: those that end a
#: service or remove it, where staff must see what they are about to lose.
NAMED_ACTIONS = frozenset({BulkAction.TERMINATE, BulkAction.CANCEL, BulkAction.DELETE})


def changing(
    services: QuerySet[Service], action: str, params: dict[str, Any], limit: int
) -> list[Service]:
    """The first ``limit`` services ``action`` would change, by id, with their customer.

    One query whatever ``limit``: the rule book's reason is filtered on in SQL, the customer
    joined in. ``Plan.changing`` says how many there are in all.
    """
    rows = _with_skip_reason(services, action, params).filter(rule_message="")
    return list(rows.select_related("customer__user").order_by("pk")[:limit])


def selection(operation: BulkOperation) -> QuerySet[Service]:
    """The services an operation applies to: the ticked ids, or its filters run again."""
    if operation.service_ids:
        return Service.objects.filter(pk__in=operation.service_ids)
    return filter_services(QueryDict(operation.query), user=operation.created_by)


# Running -------------------------------------------------------------------------------


def prepare(operation: BulkOperation) -> None:
    """Write one item per selected service, the skipped ones with their reason.

    One ``INSERT … SELECT``: the database reads the selection and the rule book's reasons
    (``rules.annotate``) and writes the items, no row passing through Python: read, built
    and inserted by ``bulk_create``, 10,000 items made a bulk suspend at a million services
    0.3 s slower (4.6 s instead of 4.3).

    Runs once: a retried task finds ``prepared`` set, and the unique (operation, service)
    constraint, with ``ON CONFLICT DO NOTHING``, keeps a half-finished earlier attempt
    from doubling items.
    """
    chosen = (
        _with_skip_reason(selection(operation), operation.action, operation.params)
        .annotate(
            item_ref=F("pk"),
            item_name=F("name"),
            item_state=Case(
                When(rule_message="", then=Value(BulkItemState.PENDING)),
                default=Value(BulkItemState.SKIPPED),
            ),
            item_message=F("rule_message"),
        )
        .values_list("item_ref", "item_name", "item_state", "item_message")
    )
    sql, params = chosen.query.sql_with_params()
    fields = {field.name: field for field in BulkOperationItem._meta.concrete_fields}
    columns = ", ".join(
        connection.ops.quote_name(fields[name].column)
        for name in (
            *("operation", "service", "service_ref", "service_name", "state", "message"),
            *("attempts", "updated_at"),
        )
    )
    now = fields["updated_at"].get_db_prep_save(timezone.now(), connection)
    table = connection.ops.quote_name(BulkOperationItem._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # "WHERE true": SQLite reads an ON CONFLICT after a bare FROM as a join's ON.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                "SELECT %s, item_ref, item_ref, item_name, item_state, item_message, 0, %s "
                f"FROM ({sql}) AS chosen WHERE true ON CONFLICT DO NOTHING",
                [operation.pk, now, *params],
            )
        BulkOperation.objects.filter(pk=operation.pk).update(prepared=True)


def _pending(operation: BulkOperation) -> Claimer[BulkOperationItem]:
    """The operation's items still to run: waiting, or running when a worker was lost."""
    return Claimer(
        BulkOperationItem.objects.filter(
            operation=operation, state__in=[BulkItemState.PENDING, BulkItemState.RUNNING]
        ),
        batch_size=ITEMS_PER_BATCH,
    )


@dataclass(frozen=True)
class ItemReport:
    """How one item went, and the seconds its panel asked to wait (a 429), if it did."""

    state: str
    message: str = ""
    retry_after: float | None = None


def _reference(item: BulkOperationItem) -> str:
    return f"bulk-item:{item.pk}"


def _interrupted(item: BulkOperationItem) -> ItemReport | None:
    """An item whose worker was lost after claiming it: applied, in flight, or untouched?

    The lifecycle records the item's reference on the service's event and on the claim
    of its operation, so a resumed item is never applied twice: an applied one is done,
    one in flight is carried on from its claim (the worker that made it is gone), and an
    untouched one (None) is run as if new.
    """
    reference = _reference(item)
    if ServiceEvent.objects.filter(
        service_id=item.service_ref, reference=reference, error=""
    ).exists():
        return ItemReport(BulkItemState.DONE)
    try:
        outcome = lifecycle.take_over(item.service_ref, reference=reference)
    except LifecycleError as exc:
        return ItemReport(BulkItemState.SKIPPED, exc.message)
    except ModuleError as exc:
        return ItemReport(BulkItemState.FAILED, exc.message, exc.retry_after)
    if outcome is None:
        return None
    return ItemReport(BulkItemState.DONE, outcome.message if outcome.waiting else "")


def _apply(operation: BulkOperation, item: BulkOperationItem) -> ItemReport:
    """Run the operation on the item's service through the lifecycle, no transaction held."""
    key, params = service_action(operation.action, operation.params)
    try:
        outcome = lifecycle.perform(
            key,
            item.service_ref,
            actor=operation.created_by,
            source=EventSource.ADMIN,
            params={**params, "reference": _reference(item)},
        )
    except LifecycleError as exc:
        exists = Service.objects.filter(pk=item.service_ref).exists()
        message = exc.message if exists else _("the service no longer exists")
        return ItemReport(BulkItemState.SKIPPED, message)
    except ModuleError as exc:
        retrying = Service.objects.filter(
            pk=item.service_ref, operation_state=OperationState.RETRYING
        ).exists()
        message = exc.message
        if retrying:
            message = _("%(error)s It will be retried automatically.") % {"error": exc.message}
        return ItemReport(BulkItemState.FAILED, message, exc.retry_after)
    if outcome.changed:
        return ItemReport(BulkItemState.DONE, outcome.message if outcome.waiting else "")
    return ItemReport(BulkItemState.SKIPPED, outcome.message)


def run_item(
    operation: BulkOperation,
    item_id: int,
    *,
    take_over: bool = True,
    service_ref: int | None = None,
) -> ItemReport | None:
    """Claim one item (committed), apply it, and record how it went.

    The item is claimed by one conditional ``UPDATE`` (pending to running, committed at
    once) and applied with no transaction held: the lifecycle calls panels only after its
    own claim has committed. An item left running by a lost worker is carried on only
    with ``take_over``, by the operation's one runner (see ``_run``): a part running
    beside others leaves running items to the runner that holds them. Returns None when
    another runner holds or finished the item. ``service_ref``: the item's, when the
    caller read it already.
    """
    claimed = BulkOperationItem.objects.filter(
        pk=item_id, operation=operation, state=BulkItemState.PENDING
    ).update(state=BulkItemState.RUNNING, attempts=F("attempts") + 1, updated_at=timezone.now())
    if claimed:
        if service_ref is None:
            service_ref = BulkOperationItem.objects.values_list("service_ref", flat=True).get(
                pk=item_id
            )
        item = BulkOperationItem(pk=item_id, operation=operation, service_ref=service_ref)
        report = _apply(operation, item)
    elif take_over:
        with transaction.atomic():
            found = (
                BulkOperationItem.objects.select_for_update(skip_locked=True)
                .filter(pk=item_id, operation=operation, state=BulkItemState.RUNNING)
                .first()
            )
            if found is None:
                return None
            found.attempts += 1
            found.save(update_fields=["attempts", "updated_at"])
        item = found
        report = _interrupted(item) or _apply(operation, item)
    else:
        return None
    BulkOperationItem.objects.filter(pk=item.pk, state=BulkItemState.RUNNING).update(
        state=report.state, message=report.message, updated_at=timezone.now()
    )
    return report


#: The actions whose items are applied in batches when the module calls no panel
#: (``services.batches``): those whose operation writes nothing but the service and its
#: history. The others go one item at a time.
BATCHED_ACTIONS = frozenset({BulkAction.SUSPEND, BulkAction.UNSUSPEND, BulkAction.TERMINATE})


def _run_in_place(operation: BulkOperation, ids: list[int]) -> list[int]:
    """Apply pending items whose module calls no panel together: the items and their
    services locked in one transaction, written together with the items' outcomes.

    A worker lost in the middle leaves all of them pending (nothing committed), so none
    is applied twice. Returns the items left for one-by-one: held by another worker, or
    whose service is (a sweep's lock on it, say).
    """
    with transaction.atomic():
        items = {
            item.service_ref: item
            for item in _pending(operation)
            .due.filter(pk__in=ids, state=BulkItemState.PENDING)
            .select_for_update(skip_locked=True)
        }
        reports: dict[tuple[str, str], list[int]] = defaultdict(list)
        with batches.locked(Service.objects.filter(pk__in=items)) as services:
            for service in services:
                report = _apply(operation, items[service.pk])
                reports[report.state, report.message].append(items[service.pk].pk)
        for (state, message), item_ids in reports.items():
            BulkOperationItem.objects.filter(pk__in=item_ids).update(
                state=state, message=message, attempts=F("attempts") + 1, updated_at=timezone.now()
            )
    applied = {pk for item_ids in reports.values() for pk in item_ids}
    return [pk for pk in ids if pk not in applied]


#: Items read, and changed in place, together: as many as ``services.batches`` locks.
ITEMS_PER_BATCH = batches.BATCH_SIZE
#: A panel call to make: the item, its service's server, and the service.
Call = tuple[int, int | None, int | None]
#: Panel calls gathered over batches before they are made, ``per_server`` at a time per
#: server: the threads and their connections then serve thousands of calls, not one
#: batch's, and a batch's last calls no longer wait alone for the slowest server.
CALLS_GATHERED = 5_000


def _run_batch(
    operation: BulkOperation,
    ids: list[int],
    heartbeat: Heartbeat,
    *,
    take_over: bool = True,
) -> list[Call]:
    """Run a batch of items: those whose module makes its changes in place together
    (``_run_in_place``), the others one after the other, except those whose module calls
    a panel where the database allows several calls at once: those are returned, to be
    made with others (``_call_panels``). ``take_over``: carry on the items a lost worker
    left running (``run_item``)."""
    refs = dict(BulkOperationItem.objects.filter(pk__in=ids).values_list("pk", "service_ref"))
    services = {
        pk: (server_id, module)
        for pk, server_id, module in Service.objects.filter(pk__in=refs.values()).values_list(
            "pk", "server_id", "module"
        )
    }
    in_place = [
        item_id
        for item_id in ids
        if operation.action in BATCHED_ACTIONS
        and batches.calls_no_panel(services.get(refs.get(item_id, 0), (None, ""))[1])
    ]
    left: list[int] = []
    if in_place:
        try:
            left = _run_in_place(operation, in_place)
        except DatabaseError:
            # The batch's writes failed and were rolled back: one by one, the failing
            # service fails alone.
            left = in_place
        heartbeat.beat()
    batched = set(in_place)
    calls: list[Call] = []
    for item_id in [pk for pk in ids if pk not in batched] + left:
        server_id, module = services.get(refs.get(item_id, 0), (None, ""))
        if _calls_panel(module) and _threads_see_our_rows():
            calls.append((item_id, server_id, refs.get(item_id)))
        else:
            run_item(operation, item_id, take_over=take_over, service_ref=refs.get(item_id))
            heartbeat.beat()
    return calls


def _call_panels(
    operation: BulkOperation,
    calls: list[Call],
    heartbeat: Heartbeat,
    *,
    per_server: int,
    take_over: bool,
) -> None:
    """Run the items of ``calls`` ``per_server`` at a time per server (``bulk_calls``)."""
    refs = {item_id: service_ref for item_id, _server, service_ref in calls}

    def run(item_id: int) -> float | None:
        report = run_item(operation, item_id, take_over=take_over, service_ref=refs[item_id])
        return report.retry_after if report else None

    items = [(item_id, server_id) for item_id, server_id, _ref in calls]
    bulk_calls.run_bounded(items, run, per_server=per_server, on_done=heartbeat.beat)


def _threads_see_our_rows() -> bool:
    """Whether other connections see what this one wrote: not within an open transaction
    (a test case's), and not on SQLite, whose single writer would only queue them."""
    return connection.vendor != "sqlite" and not connection.in_atomic_block


def _calls_panel(module: str) -> bool:
    try:
        return get_module(module).calls_panel
    except UnknownModule:
        return False


# Several runners -------------------------------------------------------------------------
#
# A bulk operation of thousands of panel calls is CPU work in the worker too (the lifecycle,
# the ORM, HTTP, the call log: about 8 ms a service), and one process runs Python on one core
# whatever its threads. So its task spreads the pending items over ``parts()`` tasks
# (worker processes): each claims pending items by the same conditional UPDATE, so none is
# applied twice, and each makes ``BULK_CALLS_PER_SERVER // parts()`` calls at once per server,
# so that together they never make more than the bound.
#
# Who may carry on an item left running, and mark the operation done, is told by PostgreSQL
# advisory locks held on each runner's connection (session locks: no transaction stays open,
# and PostgreSQL drops them when the process or its connection dies). A part holds its slot
# (at most ``parts()`` parts, whatever tasks are queued twice) and the operation's lock in
# shared mode. A runner that holds the operation's lock alone (exclusive) knows no other
# runner is alive: it carries on the items left running, with the whole bound, and marks the
# operation done once nothing is left. A part that runs out of items tries to become that
# runner; when another is still alive, it stops and leaves the end to the last one.

#: Fewest pending panel items per part for an operation to be spread: below, one runner
#: with the whole bound is as fast, and no task is queued for nothing.
MIN_ITEMS_PER_PART = 100
#: Advisory lock classes (the first key): the operation's lock, then one slot per part.
_OPERATION_LOCK = 0x42554C00
_SLOT_LOCK = 0x42554C01


def parts() -> int:
    """The parts a large operation is spread over: ``BULK_PARTS``, at most one per call the
    bound allows on a server (each part makes at least one at a time)."""
    return max(1, min(settings.BULK_PARTS, settings.BULK_CALLS_PER_SERVER))


def calls_per_part() -> int:
    """Calls a part makes at once per server: its share of ``BULK_CALLS_PER_SERVER``."""
    return settings.BULK_CALLS_PER_SERVER // parts()


def planned_parts(operation: BulkOperation) -> int:
    """How many parts to spread the operation over now: ``parts()`` when it has at least
    ``MIN_ITEMS_PER_PART`` pending panel items per part and other connections see its rows
    (PostgreSQL, outside a transaction), else 1. One grouped query.

    Items changed in place are not counted: their batches keep the worker and PostgreSQL
    busy, not waiting, and two parts of 10,000 of them on this 2-core machine took longer
    than one (1,009 to 1,186 services a second against 1,290, bench/bulk_suspend.py).
    """
    most = parts()
    if most < 2 or not _threads_see_our_rows():
        return 1
    per_module = (
        BulkOperationItem.objects.filter(operation=operation, state=BulkItemState.PENDING)
        .order_by()
        .values_list("service__module")
        .annotate(n=Count("pk"))
    )
    panel = sum(n for module, n in per_module if module and _calls_panel(module))
    return most if panel >= most * MIN_ITEMS_PER_PART else 1


class _Runners:
    """The advisory locks this runner holds on operation ``operation_id`` (see above)."""

    def __init__(self, operation_id: int) -> None:
        self.key = operation_id % 2**31  # the second key is an int4
        self.held: list[tuple[str, int]] = []

    def _try(self, function: str, lock: int) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, %s)", [lock, self.key])
            return bool(cursor.fetchone()[0])

    def alone(self) -> bool:
        """Take the operation's lock exclusively: True when no other runner is alive."""
        if self._try("pg_try_advisory_lock", _OPERATION_LOCK):
            self.held.append(("pg_advisory_unlock", _OPERATION_LOCK))
            return True
        return False

    def join(self, part: int) -> bool:
        """Take part ``part``'s slot and the operation's lock shared: False when that part
        runs already, or a runner is finishing the operation alone."""
        if not self._try("pg_try_advisory_lock", _SLOT_LOCK + part):
            return False
        self.held.append(("pg_advisory_unlock", _SLOT_LOCK + part))
        if not self._try("pg_try_advisory_lock_shared", _OPERATION_LOCK):
            self.release()
            return False
        self.held.append(("pg_advisory_unlock_shared", _OPERATION_LOCK))
        return True

    def release(self) -> None:
        try:
            while self.held:
                function, lock = self.held.pop()
                self._try(function, lock)
        except DatabaseError:
            # The connection is gone, and its locks with it.
            self.held.clear()


def _run_items(
    operation: BulkOperation,
    heartbeat: Heartbeat,
    *,
    per_server: int,
    take_over: bool,
    part: int = 0,
    of: int = 1,
) -> None:
    """Run the operation's pending items (and those left running, with ``take_over``).

    Part ``part`` of ``of`` starts its walk through the items at its share of them and
    goes round, so that parts mostly claim different items rather than race for the same.
    """
    due = (
        _pending(operation)
        if take_over
        else Claimer(_waiting(operation), batch_size=ITEMS_PER_BATCH)
    )
    keys = servers_taking_turns(due.due)
    start = len(keys) * part // of
    keys = keys[start:] + keys[:start]
    calls: list[Call] = []
    for offset in range(0, len(keys), due.batch_size):
        calls += _run_batch(
            operation, keys[offset : offset + due.batch_size], heartbeat, take_over=take_over
        )
        if len(calls) >= CALLS_GATHERED:
            _call_panels(operation, calls, heartbeat, per_server=per_server, take_over=take_over)
            calls = []
    if calls:
        _call_panels(operation, calls, heartbeat, per_server=per_server, take_over=take_over)


def servers_taking_turns(items: QuerySet[BulkOperationItem]) -> list[int]:
    """The keys of ``items``, their services' servers taking turns (each server's in key
    order).

    A selection lists a server's services together (they were ordered, or imported, one
    server at a time): walked in key order, a batch would call one server, ``per_server``
    calls at once, while the other servers wait for their turn. In turns, each batch calls
    every server of the selection, and the calls at once add up over them.
    """
    per_server: defaultdict[int | None, list[int]] = defaultdict(list)
    for pk, server_id in items.order_by().values_list("pk", "service__server_id"):
        per_server[server_id].append(pk)
    # Each server's keys in order, the servers in the order of their first key.
    turns = zip_longest(*sorted(sorted(keys) for keys in per_server.values()))
    return [pk for turn in turns for pk in turn if pk is not None]


def _waiting(operation: BulkOperation) -> QuerySet[BulkOperationItem]:
    return BulkOperationItem.objects.filter(operation=operation, state=BulkItemState.PENDING)


def _end(operation_id: int) -> None:
    """Mark the operation done if no item is left pending or running: by whichever runner
    finds so after its own items, once (the UPDATE is conditional)."""
    unfinished = BulkOperationItem.objects.filter(
        operation=OuterRef("pk"), state__in=[BulkItemState.PENDING, BulkItemState.RUNNING]
    )
    ended = (
        BulkOperation.objects.filter(pk=operation_id)
        .exclude(status=BulkStatus.DONE)
        .exclude(Exists(unfinished))
        .update(status=BulkStatus.DONE, finished_at=timezone.now(), abandoned=False, error="")
    )
    if ended:
        stats.fold_status_counts()


def _run(operation: BulkOperation, part: int | None) -> None:
    """Run the operation's items as its only runner (``part`` None), or as part ``part``
    beside others, then end it if this runner is the last (see "Several runners")."""
    heartbeat = Heartbeat(operation.pk)
    full = settings.BULK_CALLS_PER_SERVER
    if not _threads_see_our_rows():
        # SQLite, or within a transaction: no other runner can work at the same time.
        _run_items(operation, heartbeat, per_server=full, take_over=True)
        _end(operation.pk)
        return
    runners = _Runners(operation.pk)
    try:
        if part is None and not runners.alone():
            part = 0  # runners of an earlier attempt are alive: run beside them
        if part is not None:
            if not runners.join(part):
                return
            _run_items(
                operation,
                heartbeat,
                per_server=calls_per_part(),
                take_over=False,
                part=part,
                of=parts(),
            )
            runners.release()
            if not runners.alone():
                return  # another runner is alive: the last one ends the operation
        _run_items(operation, heartbeat, per_server=full, take_over=True)
        _end(operation.pk)
    finally:
        runners.release()


def process(operation_id: int, spread: Callable[[int], None] | None = None) -> None:
    """Prepare the operation if needed, run its pending items, and mark it finished.

    ``spread(n)`` queues parts 1 to ``n - 1`` (the task's), when the operation is large
    enough to be spread over several processes (``planned_parts``); this runner is part 0.
    """
    now = timezone.now()
    claimed = (
        BulkOperation.objects.filter(pk=operation_id)
        .exclude(status=BulkStatus.DONE)
        .update(status=BulkStatus.RUNNING, started_at=now, finished_at=None, heartbeat_at=now)
    )
    if not claimed:
        return
    operation = BulkOperation.objects.select_related("created_by").get(pk=operation_id)
    if not operation.prepared:
        try:
            prepare(operation)
        except (InvalidFilters, PermissionDenied) as exc:
            # Retrying cannot help: the filters no longer validate (a product in them was
            # deleted, say) or the person who ran it lost the right to see services.
            BulkOperation.objects.filter(pk=operation_id).update(
                status=BulkStatus.DONE, finished_at=timezone.now(), error=str(exc)
            )
            return
    count = planned_parts(operation) if spread is not None else 1
    if count > 1 and spread is not None:
        spread(count)
        _run(operation, part=0)
    else:
        _run(operation, part=None)


def run_part(operation_id: int, part: int) -> None:
    """Run part ``part`` of a running operation its first task spread (``process``)."""
    operation = (
        BulkOperation.objects.select_related("created_by")
        .filter(pk=operation_id, status=BulkStatus.RUNNING, prepared=True)
        .first()
    )
    if operation is not None:
        _run(operation, part=part)


def retry_failed(operation: BulkOperation) -> int:
    """Put the failed items back in the queue; returns how many. The caller enqueues."""
    with transaction.atomic():
        count = operation.items.filter(state=BulkItemState.FAILED).update(
            state=BulkItemState.PENDING, message=""
        )
        if count:
            BulkOperation.objects.filter(pk=operation.pk).update(
                status=BulkStatus.PENDING, finished_at=None, abandoned=False, error="", resumes=0
            )
    return count


def progress(operation: BulkOperation) -> dict[str, int]:
    """Items per state and in all, counted from the items: one GROUP BY query."""
    counts = dict.fromkeys(BulkItemState.values, 0)
    for row in operation.items.order_by().values("state").annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    counts["total"] = sum(counts.values())
    unfinished = counts[BulkItemState.PENDING] + counts[BulkItemState.RUNNING]
    counts["finished"] = counts["total"] - unfinished
    counts["percent"] = round(100 * counts["finished"] / counts["total"]) if counts["total"] else 0
    return counts


# Stalled operations ---------------------------------------------------------------------
#
# A worker killed outright (SIGKILL, OOM, a lost machine) leaves its operation ``running``
# and its message unacknowledged in Redis until the broker's visibility timeout, hours later.
# ``process`` therefore beats a heartbeat while it works; a running operation whose heartbeat
# is older than ``BULK_STALL_MINUTES`` has lost its worker, and the periodic stall check
# queues it again. The new task carries on from the first pending item: ``run_item`` claims
# pending items only, so what was done is never applied again.

logger = logging.getLogger(__name__)


class Heartbeat:
    """Writes an operation's ``heartbeat_at`` while its task works, a few times per stall period.

    Often enough that a live task is never taken for a stalled one, rarely enough to cost
    nothing: one UPDATE every ``BULK_STALL_MINUTES / 5``, at most every 30 seconds.
    """

    def __init__(self, operation_id: int) -> None:
        self.operation_id = operation_id
        self.every = min(30.0, settings.BULK_STALL_MINUTES * 60 / 5)
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        BulkOperation.objects.filter(pk=self.operation_id).update(heartbeat_at=timezone.now())
        self.last = time.monotonic()


def _stall_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=settings.BULK_STALL_MINUTES)


def _is_stalled(now: datetime | None = None) -> Q:
    return Q(status=BulkStatus.RUNNING, heartbeat_at__lt=_stall_cutoff(now))


def stalled(now: datetime | None = None) -> QuerySet[BulkOperation]:
    """Running operations that have made no progress for ``BULK_STALL_MINUTES`` at ``now``
    (the current time by default)."""
    return BulkOperation.objects.filter(_is_stalled(now))


def stalled_since(operation: BulkOperation) -> datetime | None:
    """When a stalled operation last made progress; None when it is not stalled."""
    if (
        operation.status == BulkStatus.RUNNING
        and operation.heartbeat_at is not None
        and operation.heartbeat_at < _stall_cutoff()
    ):
        return operation.heartbeat_at
    return None


def can_resume(operation: BulkOperation) -> bool:
    """Stalled, or given up by the automatic resumes: staff may queue it again."""
    return operation.abandoned or stalled_since(operation) is not None


def resume(operation: BulkOperation, *, automatic: bool = False) -> bool:
    """Mark a stalled or abandoned operation running again; False when it is neither.

    The caller enqueues the task when this returns True. The conditional UPDATE makes two
    resumes at once (two stall checks, a double click) count once, and refuses an operation
    that finished or moved in between. An automatic resume counts towards
    ``BULK_MAX_RESUMES``; one by staff starts the count again.
    """
    if automatic:
        resumable = _is_stalled() & Q(resumes__lt=settings.BULK_MAX_RESUMES)
        count: Any = F("resumes") + 1
    else:
        resumable = _is_stalled() | Q(abandoned=True)
        count = 0
    return bool(
        BulkOperation.objects.filter(resumable, pk=operation.pk).update(
            status=BulkStatus.RUNNING,
            heartbeat_at=timezone.now(),
            finished_at=None,
            abandoned=False,
            error="",
            resumes=count,
        )
    )


def abandon(operation: BulkOperation) -> bool:
    """Mark a stalled operation finished with an error, once the automatic resumes ran out."""
    minutes = settings.BULK_STALL_MINUTES
    stalled = ngettext(
        "It made no progress for %(minutes)s minute,",
        "It made no progress for %(minutes)s minutes,",
        1 if minutes == 1 else 2,
    ) % {"minutes": f"{minutes:g}"}
    times = ngettext("%(count)d time in a row:", "%(count)d times in a row:", operation.resumes) % {
        "count": operation.resumes
    }
    error = f"{stalled} {times} its workers may be down. Resume it once they are running."
    return bool(
        BulkOperation.objects.filter(_is_stalled(), pk=operation.pk).update(
            status=BulkStatus.DONE, finished_at=timezone.now(), abandoned=True, error=error
        )
    )


@dataclass
class StallCheck:
    """What one stall check did: the operations it queued again, those it gave up, and how
    many it left because they moved or were resumed by another check in between."""

    resumed: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    left: int = 0


def check_stalled() -> StallCheck:
    """Resume each stalled operation, or give it up after ``BULK_MAX_RESUMES``.

    The caller enqueues the resumed ones (``services.automation``).
    """
    result = StallCheck()
    for operation in stalled().only("pk", "action", "resumes", "heartbeat_at"):
        if operation.resumes >= settings.BULK_MAX_RESUMES:
            if abandon(operation):
                logger.warning(
                    "%s: no progress since %s, given up", operation, operation.heartbeat_at
                )
                result.abandoned.append(operation.pk)
            else:
                result.left += 1
        elif resume(operation, automatic=True):
            logger.warning("%s: no progress since %s, resumed", operation, operation.heartbeat_at)
            result.resumed.append(operation.pk)
        else:
            result.left += 1
    return result
