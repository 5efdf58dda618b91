"""Bulk actions on services: what they would do, and doing it one service at a time.

A confirmed bulk action is a ``BulkOperation``. Its task first writes one item per
selected service, each already marked skipped when the action cannot apply to it (the
reasons come from ``skip_reasons``, evaluated in SQL so that a million rows cost one
query), then runs the others through the lifecycle layer. Each item is claimed and
applied in its own transaction, together with the lifecycle's own changes: a failure
never undoes the others, and a task that dies and is retried finds the item either
untouched or finished, so nothing is applied twice.

``skip_reasons`` predicts; the lifecycle decides. An item the lifecycle refuses when its
turn comes (the service changed in between) is skipped with the lifecycle's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.http import QueryDict
from django.utils import timezone

from customers.models import User
from delivery.modules.base import ModuleError
from products.choices import BillingCycle

from . import lifecycle, stats
from .choices import (
    ACTION_TRANSITIONS,
    DELETABLE,
    RENEWABLE,
    BulkAction,
    BulkItemState,
    BulkStatus,
    CancelWhen,
    EventSource,
    ServiceStatus,
)
from .filters import InvalidFilters, filter_services
from .lifecycle import LifecycleError
from .models import BulkOperation, BulkOperationItem, Service

S = ServiceStatus
BATCH_SIZE = 500

#: The permission each action needs, checked for the whole selection.
PERMISSIONS: dict[str, str] = {
    **dict.fromkeys(BulkAction.values, "services.change_service"),
    BulkAction.DELETE: "services.delete_service",
}

#: The lifecycle operation behind each action whose status change it checks.
_STATUS_ACTIONS = {
    BulkAction.SUSPEND: "suspend",
    BulkAction.UNSUSPEND: "unsuspend",
    BulkAction.TERMINATE: "terminate",
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


def _it_is(status: str) -> str:
    return f"it is {S(status).label.lower()}"


def _status_rules(operation: str) -> list[tuple[Q, str]]:
    sources, target = ACTION_TRANSITIONS[operation]
    rules = [(Q(status=target), f"already {S(target).label.lower()}")]
    rules += [(Q(status=s), _it_is(s)) for s in S if s not in sources and s != target]
    return rules


def skip_reasons(action: str, params: dict[str, Any]) -> list[tuple[Q, str]]:
    """The conditions under which ``action`` skips a service, first match wins."""
    if action in _STATUS_ACTIONS:
        return _status_rules(_STATUS_ACTIONS[action])
    if action == BulkAction.CANCEL and params.get("when") == CancelWhen.END_OF_PERIOD:
        return [
            (Q(status=S.CANCELLED), "already cancelled"),
            *[(Q(status=s), _it_is(s)) for s in (S.PENDING, S.EXPIRED, S.TERMINATED)],
            (Q(expires_at__isnull=True), "it never expires"),
            (Q(cancel_at=F("expires_at")), "its cancellation is already scheduled"),
        ]
    if action == BulkAction.CANCEL:
        return _status_rules("cancel")
    if action == BulkAction.RENEW:
        grace = timezone.now() - timedelta(days=settings.SERVICE_RENEWAL_GRACE_DAYS)
        cycles = int(params.get("cycles", 1))
        return [
            *[(Q(status=s), _it_is(s)) for s in S if s not in RENEWABLE],
            (
                Q(billing_cycle=BillingCycle.ONE_TIME) | Q(expires_at__isnull=True),
                "it never expires",
            ),
            (
                Q(max_renewals__isnull=False) & Q(max_renewals__lt=F("renewal_count") + cycles),
                "its maximum number of renewals is reached",
            ),
            (Q(status=S.EXPIRED, expires_at__lt=grace), "it expired past the grace period"),
        ]
    if action in (BulkAction.ADD_DAYS, BulkAction.SUBTRACT_DAYS):
        return [
            *[(Q(status=s), _it_is(s)) for s in (S.CANCELLED, S.TERMINATED)],
            (Q(expires_at__isnull=True), "it has no expiration date"),
        ]
    if action == BulkAction.DELETE:
        return [
            *[
                (Q(status=s), f"{_it_is(s)}: terminate or cancel it first")
                for s in S
                if s not in DELETABLE
            ],
            (Q(status=S.PENDING) & ~Q(external_id=""), "a resource exists on its server"),
        ]
    raise ValueError(f"Unknown bulk action: {action!r}")


def _with_skip_reason(services: QuerySet[Service], action: str, params: dict[str, Any]) -> QuerySet:
    rules = skip_reasons(action, params)
    reason = Case(
        *[When(condition, then=Value(why)) for condition, why in rules],
        default=Value(""),
        output_field=CharField(),
    )
    return services.order_by().annotate(skip_reason=reason)


def plan(services: QuerySet[Service], action: str, params: dict[str, Any]) -> Plan:
    """Count what ``action`` would change and skip in ``services``: one GROUP BY query."""
    rows = (
        _with_skip_reason(services, action, params)
        .values("skip_reason")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    total = 0
    skipped = []
    for row in rows:
        total += row["n"]
        if row["skip_reason"]:
            skipped.append((row["skip_reason"], row["n"]))
    return Plan(total=total, skipped=skipped)


def selection(operation: BulkOperation) -> QuerySet[Service]:
    """The services an operation applies to: the ticked ids, or its filters run again."""
    if operation.service_ids:
        return Service.objects.filter(pk__in=operation.service_ids)
    return filter_services(QueryDict(operation.query), user=operation.created_by)


# Running -------------------------------------------------------------------------------


def _apply(action: str, service_id: int, params: dict[str, Any], actor: User) -> None:
    """Run one service through the lifecycle operation behind ``action``."""
    common = {"actor": actor, "source": EventSource.ADMIN}
    notify = {"notify": params.get("notify", True)}
    reason = params.get("reason", "")
    days = int(params.get("days", 0))
    operations: dict[str, Callable[[], object]] = {
        BulkAction.SUSPEND: lambda: lifecycle.suspend(
            service_id, reason=reason, **notify, **common
        ),
        BulkAction.UNSUSPEND: lambda: lifecycle.unsuspend(
            service_id, reason=reason, **notify, **common
        ),
        BulkAction.CANCEL: lambda: lifecycle.cancel(
            service_id, when=params.get("when", CancelWhen.NOW), reason=reason, **notify, **common
        ),
        BulkAction.TERMINATE: lambda: lifecycle.terminate(
            service_id, reason=reason, **notify, **common
        ),
        BulkAction.DELETE: lambda: lifecycle.delete(service_id, reason=reason, **common),
        BulkAction.RENEW: lambda: lifecycle.renew(
            service_id, cycles=int(params.get("cycles", 1)), **notify, **common
        ),
        BulkAction.ADD_DAYS: lambda: lifecycle.shift_expiration(
            service_id, days=days, reason=reason, **common
        ),
        BulkAction.SUBTRACT_DAYS: lambda: lifecycle.shift_expiration(
            service_id, days=-days, reason=reason, **common
        ),
    }
    operations[action]()


def prepare(operation: BulkOperation) -> None:
    """Write one item per selected service, the skipped ones with their reason.

    Runs once: a retried task finds ``prepared`` set, and the unique (operation,
    service) constraint keeps a half-finished earlier attempt from doubling items.
    """
    rows = _with_skip_reason(selection(operation), operation.action, operation.params).values_list(
        "pk", "name", "skip_reason"
    )
    with transaction.atomic():
        batch: list[BulkOperationItem] = []
        for pk, name, reason in rows.iterator(chunk_size=5000):
            batch.append(
                BulkOperationItem(
                    operation=operation,
                    service_id=pk,
                    service_ref=pk,
                    service_name=name,
                    state=BulkItemState.SKIPPED if reason else BulkItemState.PENDING,
                    message=reason,
                )
            )
            if len(batch) >= 5000:
                BulkOperationItem.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        BulkOperationItem.objects.bulk_create(batch, ignore_conflicts=True)
        BulkOperation.objects.filter(pk=operation.pk).update(prepared=True)


def _pending_batches(operation: BulkOperation) -> Iterator[list[int]]:
    after = 0
    while True:
        ids = list(
            operation.items.filter(state=BulkItemState.PENDING, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return
        yield ids
        after = ids[-1]


def run_item(operation: BulkOperation, item_id: int) -> str | None:
    """Apply the operation to one item, in one transaction with its outcome.

    Returns the item's new state, or None when another worker holds or finished it.
    """
    with transaction.atomic():
        item = (
            BulkOperationItem.objects.select_for_update(skip_locked=True)
            .filter(pk=item_id, state=BulkItemState.PENDING)
            .first()
        )
        if item is None:
            return None
        item.attempts += 1
        target = ACTION_TRANSITIONS.get(_STATUS_ACTIONS.get(operation.action, ""), (None, None))[1]
        current = (
            Service.objects.filter(pk=item.service_ref).values_list("status", flat=True).first()
        )
        if current is None:
            item.state, item.message = BulkItemState.SKIPPED, "the service no longer exists"
        elif target is not None and current == target:
            item.state, item.message = BulkItemState.SKIPPED, f"already {S(target).label.lower()}"
        else:
            try:
                _apply(operation.action, item.service_ref, operation.params, operation.created_by)
            except LifecycleError as exc:
                item.state, item.message = BulkItemState.SKIPPED, exc.message
            except ModuleError as exc:
                item.state, item.message = BulkItemState.FAILED, exc.message
            else:
                item.state, item.message = BulkItemState.DONE, ""
        item.save(update_fields=["state", "message", "attempts", "updated_at"])
        return item.state


def process(operation_id: int) -> None:
    """Prepare the operation if needed, run every pending item, then mark it finished."""
    claimed = (
        BulkOperation.objects.filter(pk=operation_id)
        .exclude(status=BulkStatus.DONE)
        .update(status=BulkStatus.RUNNING, started_at=timezone.now(), finished_at=None)
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
    for ids in _pending_batches(operation):
        for item_id in ids:
            run_item(operation, item_id)
    BulkOperation.objects.filter(pk=operation_id).update(
        status=BulkStatus.DONE, finished_at=timezone.now()
    )
    stats.forget_status_counts()


def retry_failed(operation: BulkOperation) -> int:
    """Put the failed items back in the queue; returns how many. The caller enqueues."""
    with transaction.atomic():
        count = operation.items.filter(state=BulkItemState.FAILED).update(
            state=BulkItemState.PENDING, message=""
        )
        if count:
            BulkOperation.objects.filter(pk=operation.pk).update(
                status=BulkStatus.PENDING, finished_at=None
            )
    return count


def progress(operation: BulkOperation) -> dict[str, int]:
    """Items per state and in all, counted from the items: one GROUP BY query."""
    counts = dict.fromkeys(BulkItemState.values, 0)
    for row in operation.items.order_by().values("state").annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    counts["total"] = sum(counts.values())
    counts["finished"] = counts["total"] - counts[BulkItemState.PENDING]
    counts["percent"] = round(100 * counts["finished"] / counts["total"]) if counts["total"] else 0
    return counts
