"""The service lifecycle: the only code that changes a service's status, expiration or
renewal count (DESIGN.md, "The lifecycle layer").

Every operation has the same shape. It opens a short transaction and locks the service
row; checks the transition and the business rules, raising ``LifecycleError`` with a
message a person can read; and, when the module must be called, either

- calls it there and then, when the module calls no panel (``manual``): one transaction;
- or claims the operation (the service records it in flight, with a token, and commits),
  calls the module with no lock and no transaction held, then finishes under the lock:
  checks that its claim still holds, saves the changed fields and writes a
  ``ServiceEvent``. A panel that is slow or times out then holds no row and no connection.

The customer's notification is scheduled for after the commit. A module failure leaves the
status as it was and records the error on the service and in its history; a retryable
one keeps the operation in flight, to be tried again with backoff by the periodic task
(``resume``), which also takes over a claim whose process died (module operations are
idempotent) and follows an operation the panel is still working on (an install).

Whether an operation applies, does nothing or is refused is the rule book's answer
(``services.rules``), including "another operation is in progress"; what needs other rows
(room on the server, a resource already linked, an invoice already applied) is checked
here. Operations take a ``Service`` or its id and return an ``Outcome``: the service as
saved and whether anything changed; those that e-mail the customer take ``notify=False``
to stay silent. ``perform`` runs an action of the catalogue (``services.actions``) with
the settings a form collected.

A caller may wrap one operation in a transaction of its own (a payment renewing a
service): the claim is then committed with the caller's work and the module is called by
a task after the commit. It must not wrap several: a module failure's record would be
rolled back with the operations that follow.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import User
from delivery.calllog import calling, link_to_service
from delivery.modules.base import DeliveryModule, ModuleError, ModuleResult, Tab, TabAction
from delivery.registry import UnknownModule, get_module
from products.choices import BillingCycle
from products.cycles import add_cycles

from . import batches, notifications, rules
from .actions import CATALOGUE
from .choices import (
    ACTION_TRANSITIONS,
    LIVE,
    CancelWhen,
    EventSource,
    OperationState,
    ServiceAction,
    ServiceStatus,
)
from .models import EXPIRATION_YEARS, Service, ServiceEvent, ServiceRenewal, validate_expiration
from .rules import Context, Verdict

logger = logging.getLogger(__name__)
S = ServiceStatus
A = ServiceAction
ServiceRef = Service | int

#: Fields that ``update`` may change: the seed's "Editing" list.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "notes",
        "status",
        "module",
        "product",
        "server",
        "price",
        "initial_price",
        "currency",
        "billing_cycle",
        "expires_at",
        "max_renewals",
        "hold_until",
    }
)
#: Fields compared before and after an operation to record its changes; the bookkeeping of
#: the operation in flight is not a change of the service.
_OPERATION_FIELDS = [
    "operation",
    "operation_state",
    "operation_token",
    "operation_started_at",
    "operation_due_at",
    "operation_attempts",
    "operation_params",
]
_AUDITED_FIELDS = [
    f
    for f in Service._meta.concrete_fields
    if f.name not in {"id", "uuid", "updated_at", "created_at", *_OPERATION_FIELDS}
]
OS = OperationState


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the service as saved, and whether anything changed.

    ``message`` says why nothing changed (the rule book's words), when nothing did.
    ``waiting`` says the panel is still working on it (an install, a call made after the
    caller's commit): the outcome arrives later, as an event in the service's history.
    """

    service: Service
    changed: bool
    message: str = ""
    waiting: bool = False


class LifecycleError(Exception):
    """An operation was refused; the message says why, for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Values that JSON keeps as they are.
_JSON_NATIVE = (str, int, bool, type(None))


def _json(value: Any) -> Any:
    """``value`` as the history's JSON keeps it: dates, decimals and uuids as Django's
    encoder writes them. A list of strings, integers and None (most of a status change's
    fields) is copied as it is, without a round trip through the encoder for each."""
    if isinstance(value, list) and all(isinstance(item, _JSON_NATIVE) for item in value):
        return list(value)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _snapshot(service: Service) -> dict[str, Any]:
    return {f.name: getattr(service, f.attname) for f in _AUDITED_FIELDS}


class _Operation:
    """One operation on one locked service: what it changes, and its audit record."""

    def __init__(
        self,
        service: Service,
        *,
        action: str,
        actor: User | None,
        source: str,
        reason: str,
        notify: bool = True,
        params: Mapping[str, Any] | None = None,
        reference: str = "",
    ) -> None:
        self.service = service
        self.action = action
        self.actor = actor
        self.source = source
        self.reason = reason
        self.notify = notify
        self.params = dict(params or {})
        self.reference = reference
        self.from_status = service.status
        self.target: str | None = None
        self.noop_reason = ""
        self.result = ModuleResult()
        self.calls_module = False
        self.claimed: uuid.UUID | None = None
        self.final: Outcome | None = None
        self._before = _snapshot(service)

    @classmethod
    def resumed(cls, service: Service, *, actor: User | None = None) -> _Operation:
        """The operation in flight on the locked ``service``, as its claim recorded it.

        ``actor``: the claim's actor when the caller has it already (not read again).
        """
        params = service.operation_params
        actor_id = params.get("actor")
        if actor_id and (actor is None or actor.pk != actor_id):
            actor = User.objects.filter(pk=actor_id).first()
        op = cls(
            service,
            action=service.operation,
            actor=actor if actor_id else None,
            source=params.get("source", EventSource.AUTOMATION),
            reason=params.get("reason", ""),
            notify=params.get("notify", True),
            params=params,
            reference=params.get("reference", ""),
        )
        sources, target = ACTION_TRANSITIONS.get(op.action, (frozenset(), None))
        if service.status in sources:
            op.target = target
        return op

    def refuse(self, why: str) -> LifecycleError:
        verb = CATALOGUE[self.action].verb
        return LifecycleError(
            _("Cannot %(verb)s service #%(id)s: %(why)s")
            % {"verb": verb, "id": self.service.pk, "why": why}
        )

    def check(self, context: Context | None = None) -> bool:
        """Ask the rule book; False when there is nothing to do, a refusal is raised.

        An allowed status change (``choices.ACTION_TRANSITIONS``) sets the target status.
        """
        decision = rules.decide(self.service, self.action, context or Context(source=self.source))
        if decision.verdict == Verdict.REFUSED:
            raise self.refuse(f"{decision.message}.")
        if decision.verdict == Verdict.NOOP:
            self.noop_reason = decision.message
            return False
        sources, target = ACTION_TRANSITIONS.get(self.action, (frozenset(), None))
        if self.service.status in sources:
            self.target = target
        return True

    def unchanged(self) -> Outcome:
        return Outcome(self.service, changed=False, message=self.noop_reason)

    def done(self) -> Outcome:
        return self.final or Outcome(self.service, changed=True)

    @property
    def module(self) -> DeliveryModule:
        try:
            return get_module(self.service.module)
        except UnknownModule as exc:
            raise self.refuse(str(exc)) from exc

    def absorb(self, result: ModuleResult) -> None:
        """Add a module result to what the operation reports (its history's module result)."""
        self.result = ModuleResult(
            external_id=result.external_id or self.result.external_id,
            data={**self.result.data, **result.data},
            message=" ".join(m for m in (self.result.message, result.message) if m),
        )

    def changes(self) -> dict[str, list[Any]]:
        after = _snapshot(self.service)
        return {
            name: _json([self._before[name], after[name]])
            for name in after
            if after[name] != self._before[name]
        }

    def rebase(self, *, reason: str) -> None:
        """Start a second record after a first was saved: what follows is its own event."""
        self._before = _snapshot(self.service)
        self.from_status = self.service.status
        self.params.pop("changes", None)
        self.result = ModuleResult()
        self.reason = reason
        self.notify = False

    def will_call(self) -> None:
        """The checks passed and the module must be called: ``_operation`` does it next."""
        self.calls_module = True

    def call_in_place(self) -> None:
        """Call a module that calls no panel, in this transaction, and apply its result."""
        step = _STEPS[self.action]
        with calling(service_id=self.service.pk, operation=self.action):
            self.absorb(step.run(self.module, self.service, self.params))
        step.apply(self)
        self.save()

    def claim(self) -> None:
        """Record the operation in flight on the service; committed before the module call.

        What the checks already changed (an attempt counted, a resource reserved) is saved
        with the claim and recorded in the history when the operation finishes.
        """
        service = self.service
        now = timezone.now()
        changes = self.changes()
        self.claimed = uuid.uuid4()
        service.operation = self.action
        service.operation_state = OS.CALLING
        service.operation_token = self.claimed
        service.operation_started_at = now
        service.operation_due_at = now + _stale_after()
        service.operation_attempts = 1
        service.operation_params = _json(
            {
                **self.params,
                "actor": self.actor.pk if self.actor else None,
                "source": self.source,
                "reason": self.reason,
                "notify": self.notify,
                "reference": self.reference,
                "changes": changes,
            }
        )
        changed = [f.name for f in _AUDITED_FIELDS if f.name in changes]
        service.save(update_fields=[*changed, *_OPERATION_FIELDS, "updated_at"])

    def save(self, *, also: list[str] | None = None) -> ServiceEvent:
        """Persist the changed fields and the audit row; notify the customer after commit."""
        service = self.service
        if self.target:
            service.status = self.target
        changed_now = self.changes()
        changes = {**self.params.get("changes", {}), **changed_now}
        changed_names = [f.name for f in _AUDITED_FIELDS if f.name in changed_now]
        try:
            service.full_clean(
                exclude=[f.name for f in Service._meta.fields if f.name not in changes],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            raise self.refuse(_validation_message(exc)) from exc
        notify = self.notify and CATALOGUE[self.action].notifies
        batch = batches.current()
        if batch is not None:
            # Written with the batch's others (services.batches), after every check passed.
            batch.update(service, [*changed_names, *(also or [])])
            event = self._event(changes=changes)
            batch.record(event, notify=notify)
            return event
        try:
            # No savepoint of its own: a failed write aborts the transaction, and the
            # LifecycleError raised here rolls back the operation's atomic block.
            service.save(update_fields=[*changed_names, *(also or []), "updated_at"])
        except IntegrityError as exc:
            raise self.refuse(_("the change breaks a rule of the database.")) from exc
        event = self.record(changes=changes)
        if notify:
            transaction.on_commit(partial(notifications.enqueue, event.pk))
        return event

    def record(
        self, *, changes: dict[str, Any], error: str = "", extra: Mapping[str, Any] | None = None
    ) -> ServiceEvent:
        event = self._event(changes=changes, error=error, extra=extra)
        event.save()
        return event

    def _event(
        self, *, changes: dict[str, Any], error: str = "", extra: Mapping[str, Any] | None = None
    ) -> ServiceEvent:
        """The history row of the operation, not yet saved."""
        result = {**self.result.as_dict(), **(extra or {})}
        return ServiceEvent(
            service=self.service if self.service.pk else None,
            actor=self.actor,
            source=self.source,
            action=self.action,
            from_status=self.from_status,
            to_status=self.service.status if not error else self.from_status,
            reason=self.reason,
            reference=self.reference,
            changes=changes,
            module_result=_json(result),
            error=error,
        )

    def record_failure(self, exc: ModuleError) -> None:
        """Keep the module's error on the service and in its history; the status stays."""
        Service.objects.filter(pk=self.service.pk).update(
            last_delivery_error=exc.message,
            delivery_attempts=self.service.delivery_attempts,
            updated_at=timezone.now(),
        )
        self.result = ModuleResult(data={"retryable": exc.retryable})
        self.service.status = self.from_status
        self.record(changes={}, error=exc.message)


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


def _lock(service: ServiceRef) -> Service:
    pk = service.pk if isinstance(service, Service) else service
    batch = batches.current()
    if batch is not None:
        locked = batch.service(pk)
        if locked is None:
            # A caller's mistake (services.batches locks what it runs), not a person's.
            raise LifecycleError(f"Service #{pk} is not in this batch.")
        return locked
    try:
        return Service.objects.select_for_update(of=("self",)).get(pk=pk)
    except Service.DoesNotExist:
        raise LifecycleError(_("Service #%(id)s does not exist.") % {"id": pk}) from None


@contextmanager
def _operation(
    service: ServiceRef,
    *,
    action: str,
    actor: User | None,
    source: str,
    reason: str = "",
    notify: bool = True,
    params: Mapping[str, Any] | None = None,
    reference: str = "",
) -> Iterator[_Operation]:
    """Lock the service for one operation's checks; then call the module as it must be.

    The body checks and, when the module must be called, says so (``will_call``). A
    module that calls no panel is called in this transaction; otherwise the operation is
    claimed here, and called and finished once the transaction has committed.
    """
    failure: ModuleError | None = None
    # In a batch (services.batches) the batch's transaction holds the lock; an operation
    # writes nothing before its checks pass, so a refusal leaves the others' writes.
    with nullcontext() if batches.current() is not None else transaction.atomic():
        op = _Operation(
            _lock(service),
            action=action,
            actor=actor,
            source=source,
            reason=reason,
            notify=notify,
            params=params,
            reference=reference,
        )
        try:
            yield op
            if op.calls_module:
                if op.module.calls_panel:
                    op.claim()
                else:
                    op.call_in_place()
        except ModuleError as exc:
            op.record_failure(exc)
            failure = exc
    if failure is not None:
        raise failure
    if op.claimed is not None:
        op.final = _carry_out(op, op.claimed)


def _in_callers_transaction() -> bool:
    """Whether the caller holds a transaction (a test case's own does not count)."""
    blocks = transaction.get_connection().atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def _carry_out(op: _Operation, token: uuid.UUID) -> Outcome:
    """Call the module for a claimed operation and finish it; after the caller's commit
    when the caller holds a transaction (a task does it then)."""
    service = op.service
    if _in_callers_transaction():
        transaction.on_commit(partial(_enqueue, "continue_operation", service.pk, str(token)))
        message = _("%(operation)s on the server in the background") % {
            "operation": service.operation_label
        }
        return Outcome(service, changed=True, message=message, waiting=True)
    return _call_and_finish(service.pk, token, claimed=service, actor=op.actor)


def _enqueue(task_name: str, service_id: int, *args: Any, countdown: float = 0) -> None:
    """Queue a task of this app; with tasks run in-process (``make run``, no Redis), one
    that must wait runs later on a timer thread, not at once: eager Celery ignores the
    countdown, and a panel still installing would be asked again and again at once."""
    from . import tasks  # the tasks module imports this one

    task = getattr(tasks, task_name)
    if countdown and getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        timer = threading.Timer(countdown, _run_in_thread, (task, service_id, *args))
        timer.daemon = True
        timer.start()
        return
    task.apply_async((service_id, *args), countdown=countdown)


def _run_in_thread(task: Any, *args: Any) -> None:
    try:
        task(*args)
    finally:
        connections.close_all()


def _stale_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.OPERATION_STALE_MINUTES)


def _backoff(attempts: int, retry_after: float | None) -> dt.timedelta:
    """The wait before the next try: doubled at every attempt, at most an hour, and never
    shorter than what the panel asked for (``Retry-After``)."""
    seconds = min(3600.0, settings.OPERATION_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=max(seconds, retry_after or 0))


def _release(service: Service) -> None:
    """Clear the operation in flight (saved with ``_OPERATION_FIELDS``)."""
    service.operation = ""
    service.operation_state = ""
    service.operation_token = None
    service.operation_started_at = None
    service.operation_due_at = None
    service.operation_attempts = 0
    service.operation_params = {}


def _call_and_finish(
    service_id: int,
    token: uuid.UUID,
    follow: bool = False,
    *,
    claimed: Service | None = None,
    actor: User | None = None,
) -> Outcome:
    """Call the module for the claim ``token`` with no lock held, then finish under the lock.

    ``follow`` asks the panel whether an operation it was still working on has finished.
    A ModuleError is recorded (``_fail``) and raised; any other exception leaves the claim
    as it is, for the periodic task to take over once it is stale, as if the process died.
    ``claimed``: the service as this process's claim saved it, just committed, which the
    call then reads instead of the row (a bulk operation of thousands of calls spends a
    third of its CPU reading services); ``actor``, the claim's, for the same reason.
    """
    if claimed is None:
        service = Service.objects.select_related("server", "customer__user", "product").get(
            pk=service_id
        )
        if service.operation_token != token:
            message = _("another run finished this operation")
            return Outcome(service, changed=False, message=message)
    else:
        service = claimed
    action = service.operation
    module = get_module(service.module)
    try:
        with calling(service_id=service_id, operation=action):
            if follow:
                result = module.follow(service, action)
            else:
                result = _STEPS[action].run(module, service, service.operation_params)
    except ModuleError as exc:
        _fail(service_id, token, exc, follow=follow, actor=actor)
        raise
    return _finish(service_id, token, result, actor=actor)


def _finish(
    service_id: int, token: uuid.UUID, result: ModuleResult, *, actor: User | None = None
) -> Outcome:
    """Apply a module's answer to the service, if the claim ``token`` still holds."""
    with transaction.atomic():
        service = _lock(service_id)
        if service.operation_token != token:
            message = _("another run finished this operation")
            return Outcome(service, changed=False, message=message)
        op = _Operation.resumed(service, actor=actor)
        op.absorb(result)
        if result.waiting:
            return _wait(op)
        _STEPS[op.action].apply(op)
        _release(service)
        op.save(also=_OPERATION_FIELDS)
    return Outcome(service, changed=True)


def _wait(op: _Operation) -> Outcome:
    """The panel accepted the operation and is still working: keep what it said and
    follow it with a task (the periodic task catches a lost one)."""
    service = op.service
    wait = settings.OPERATION_FOLLOW_SECONDS
    service.external_id = op.result.external_id or service.external_id
    service.module_data = {**service.module_data, **op.result.data}
    # Recorded with the operation's other changes in the event that ends it.
    service.operation_params = _json(
        {**service.operation_params, "changes": {**op.params.get("changes", {}), **op.changes()}}
    )
    service.operation_state = OS.WAITING
    service.operation_due_at = timezone.now() + dt.timedelta(seconds=wait)
    service.save(update_fields=["external_id", "module_data", *_OPERATION_FIELDS, "updated_at"])
    transaction.on_commit(partial(_enqueue, "follow_operation", service.pk, countdown=wait))
    message = _("the panel is still working on it (%(operation)s)") % {
        "operation": service.operation_label
    }
    return Outcome(service, changed=True, message=message, waiting=True)


def _fail(
    service_id: int,
    token: uuid.UUID,
    exc: ModuleError,
    *,
    follow: bool = False,
    actor: User | None = None,
) -> None:
    """Record a module failure under the claim ``token``: retried later when it may
    succeed and attempts remain, given up otherwise (the status stays as it was)."""
    with transaction.atomic():
        service = _lock(service_id)
        if service.operation_token != token:
            return
        op = _Operation.resumed(service, actor=actor)
        service.last_delivery_error = exc.message
        retry = exc.retryable and service.operation_attempts < settings.OPERATION_MAX_ATTEMPTS
        extra: dict[str, Any] = {"retryable": exc.retryable, "attempt": service.operation_attempts}
        if follow and exc.retryable:
            wait = dt.timedelta(seconds=settings.OPERATION_FOLLOW_SECONDS)
            service.operation_state = OS.WAITING
            service.operation_due_at = timezone.now() + max(wait, _backoff(1, exc.retry_after))
            extra["next_try"] = service.operation_due_at
        elif retry:
            service.operation_state = OS.RETRYING
            service.operation_due_at = timezone.now() + _backoff(
                service.operation_attempts, exc.retry_after
            )
            extra["next_try"] = service.operation_due_at
        else:
            _STEPS[op.action].undo(service)
            _release(service)
        service.save(
            update_fields=[
                "last_delivery_error",
                "external_id",
                "module_data",
                *_OPERATION_FIELDS,
                "updated_at",
            ]
        )
        op.record(changes={}, error=exc.message, extra=extra)


# Taking over operations in flight ----------------------------------------------------


def resume(service: ServiceRef, *, force: bool = False) -> Outcome:
    """Take over the operation in flight on a service once it is due, and carry it on.

    Due means: its retry time has come, its process died (its claim is stale), or the
    panel was working on it and it is time to ask again. ``force`` (staff's "retry now",
    a follow-up task) does not wait for the due time, but never takes over a call that
    may still be under way. After ``OPERATION_MAX_ATTEMPTS`` tries, or when the panel
    has worked for longer than ``OPERATION_FOLLOW_LIMIT_MINUTES``, the operation is given
    up with its error. Raises the ModuleError of a failed try.
    """
    pk = service.pk if isinstance(service, Service) else service
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Service.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=pk)
            .exclude(operation="")
            .first()
        )
        if locked is None:
            return Outcome(Service(pk=pk), changed=False, message=_("no operation is in progress"))
        due = locked.operation_due_at is None or locked.operation_due_at <= now
        if not due and not force:
            return Outcome(locked, changed=False, message=_("it is not due yet"))
        if not due and locked.operation_state == OS.CALLING:
            raise LifecycleError(
                _("Service #%(id)s is being called right now (%(operation)s): wait for the answer.")
                % {"id": pk, "operation": locked.operation_label}
            )
        taken = _take_over(locked, now)
    return taken if isinstance(taken, Outcome) else _call_and_finish(pk, *taken)


def take_over(service: ServiceRef, *, reference: str) -> Outcome | None:
    """Carry on at once the operation in flight that ``reference`` asked for, whose process
    is known to be lost (a bulk item resumed after its worker died); None when no such
    operation is in flight, or another process holds the row."""
    pk = service.pk if isinstance(service, Service) else service
    with transaction.atomic():
        locked = (
            Service.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=pk, operation_params__reference=reference)
            .exclude(operation="")
            .first()
        )
        if locked is None:
            return None
        taken = _take_over(locked, timezone.now())
    return taken if isinstance(taken, Outcome) else _call_and_finish(pk, *taken)


def _take_over(locked: Service, now: dt.datetime) -> Outcome | tuple[uuid.UUID, bool]:
    """Claim the locked service's operation afresh: its new token and whether it is a
    check on a panel still working; or the outcome of giving it up at its limit."""
    follow = locked.operation_state in (OS.WAITING, OS.FOLLOWING)
    given_up = _limit_reached(locked, follow=follow, now=now)
    if given_up:
        _give_up(locked, given_up)
        return Outcome(locked, changed=True, message=given_up)
    token = uuid.uuid4()
    locked.operation_token = token
    locked.operation_state = OS.FOLLOWING if follow else OS.CALLING
    locked.operation_attempts += 0 if follow else 1
    locked.operation_due_at = now + _stale_after()
    locked.save(update_fields=[*_OPERATION_FIELDS, "updated_at"])
    return token, follow


def _limit_reached(service: Service, *, follow: bool, now: dt.datetime) -> str:
    """Why the operation in flight is given up now, or ""."""
    if follow:
        limit = dt.timedelta(minutes=settings.OPERATION_FOLLOW_LIMIT_MINUTES)
        started = service.operation_started_at or now
        if now - started > limit:
            minutes = settings.OPERATION_FOLLOW_LIMIT_MINUTES
            return ngettext(
                "The panel had not finished after %(minutes)s minute.",
                "The panel had not finished after %(minutes)s minutes.",
                1 if minutes == 1 else 2,
            ) % {"minutes": f"{minutes:g}"}
        return ""
    if service.operation_attempts >= settings.OPERATION_MAX_ATTEMPTS:
        last = service.last_delivery_error or "it was interrupted every time"
        attempts = service.operation_attempts
        return ngettext(
            "Given up after %(count)d attempt: %(last)s",
            "Given up after %(count)d attempts: %(last)s",
            attempts,
        ) % {"count": attempts, "last": last}
    return ""


def _give_up(service: Service, why: str, *, actor: User | None = None) -> None:
    """End the operation in flight on the locked service without applying it."""
    op = _Operation.resumed(service)
    if actor is not None:
        op.actor, op.source = actor, EventSource.ADMIN
    _STEPS[op.action].undo(service)
    _release(service)
    service.last_delivery_error = why
    service.save(
        update_fields=[
            "last_delivery_error",
            "external_id",
            "module_data",
            *_OPERATION_FIELDS,
            "updated_at",
        ]
    )
    op.record(changes={}, error=why, extra={"given_up": True})


def abandon(service: ServiceRef, *, actor: User | None) -> Outcome:
    """Staff give up the operation in flight: nothing more is asked of the panel.

    A call that may still be under way cannot be given up: its answer would be lost.
    """
    with transaction.atomic():
        locked = _lock(service)
        if not locked.operation:
            return Outcome(locked, changed=False, message=_("no operation is in progress"))
        still_due = locked.operation_due_at is not None and locked.operation_due_at > timezone.now()
        if locked.operation_state == OS.CALLING and still_due:
            raise LifecycleError(
                _("Service #%(id)s is being called right now (%(operation)s): wait for the answer.")
                % {"id": locked.pk, "operation": locked.operation_label}
            )
        label = locked.operation_label
        _give_up(locked, f"The {label} was given up by staff.", actor=actor)
    return Outcome(locked, changed=True)


def continue_claimed(service_id: int, token: str) -> Outcome:
    """Call and finish an operation claimed inside a caller's transaction (its task)."""
    return _call_and_finish(service_id, uuid.UUID(token))


# Panel actions (power, reinstall) ------------------------------------------------------


def run_panel_action(
    service: ServiceRef, *, tab: Tab, action: TabAction, actor: User | None, source: str
) -> Outcome:
    """Run a tab's action on the panel (start, restart, reinstall...) and record it.

    Nothing of the service changes, so nothing is claimed: the rule book is asked (a
    running service, nothing in flight), the panel is called with no lock held, and the
    answer or the error is written in the history. An action the panel is still working
    on when it answers (a reinstall that clones a VM again) becomes the operation in
    flight, followed like an install, and recorded when the panel is done.
    """
    pk = service.pk if isinstance(service, Service) else service
    with transaction.atomic():
        op = _Operation(_lock(pk), action=A.PANEL, actor=actor, source=source, reason="")
        op.reason = f"{tab.label}: {action.label}"
        op.check()
    fresh = Service.objects.select_related("server", "customer__user", "product").get(pk=pk)
    try:
        with calling(service_id=pk, operation=f"{tab.key} {action.key}"):
            result = action.run(fresh)
    except ModuleError as exc:
        op.record(changes={}, error=exc.message)
        raise
    op.absorb(result)
    if result.waiting:
        return _follow_panel_action(pk, op)
    op.record(changes={})
    return Outcome(fresh, changed=True, message=op.result.message)


def _follow_panel_action(pk: int, op: _Operation) -> Outcome:
    """Claim the panel action the panel is still working on, to follow it to its end.

    Another operation claimed in the meantime (the action ran with no lock held) keeps
    the service: the action is recorded as started, not followed.
    """
    with transaction.atomic():
        op.service = _lock(pk)
        if op.service.operation:
            op.record(changes={})
            message = _("%(message)s Not followed: %(operation)s began.") % {
                "message": op.result.message,
                "operation": op.service.operation_label,
            }
            return Outcome(op.service, changed=True, message=message, waiting=True)
        op.claim()
        return _wait(op)


def _require_server(op: _Operation) -> None:
    service = op.service
    if not op.module.requires_server:
        return
    server = service.server
    if server is None:
        raise op.refuse(
            _("the %(module)s module needs a server and none is set.") % {"module": op.module.label}
        )
    if server.module != service.module:
        raise op.refuse(
            _("server %(server)s is a %(module)s server, not %(type)s.")
            % {"server": server, "module": server.module, "type": service.module}
        )


def _anchor(moment: dt.datetime) -> int:
    """The day of month renewals come back to; a date out of range is a ValidationError."""
    validate_expiration(moment)
    return timezone.localtime(moment).day


# Creating and delivering ---------------------------------------------------------------


def create(*, actor: User | None, source: str, **fields: Any) -> Service:
    """Create a pending service from ``fields`` (model field names) and record it.

    ``module_data`` holds the options of the module's ``service_form``, validated here by
    the module. No invoice is made: creating a service is not an order.
    """
    service = _new_service(fields)
    with transaction.atomic():
        service.save()
        _record_creation(service, actor=actor, source=source)
    return service


def _new_service(fields: dict[str, Any]) -> Service:
    """A pending service from ``fields``, validated and not saved."""
    unknown = set(fields) - EDITABLE_FIELDS - {"customer", "module_data"}
    if unknown:
        raise LifecycleError(f"These fields cannot be set: {', '.join(sorted(unknown))}.")
    fields.pop("status", None)
    options = fields.pop("module_data", None) or {}
    service = Service(**fields, status=S.PENDING)
    try:
        service.module_data = _json(get_module(service.module).clean_service_options(options))
    except UnknownModule as exc:
        raise LifecycleError(_("Cannot create the service: %(error)s") % {"error": exc}) from exc
    except ValidationError as exc:
        raise LifecycleError(
            _("Cannot create the service: %(error)s") % {"error": _validation_message(exc)}
        ) from exc
    try:
        if service.expires_at is not None:
            service.billing_anchor_day = _anchor(service.expires_at)
        service.full_clean(validate_constraints=True)
    except ValidationError as exc:
        raise LifecycleError(
            _("Cannot create the service: %(error)s") % {"error": _validation_message(exc)}
        ) from exc
    return service


def _record_creation(service: Service, *, actor: User | None, source: str) -> None:
    operation = _Operation(service, action=A.CREATE, actor=actor, source=source, reason="")
    operation.from_status = ""
    operation.record(
        changes={
            name: _json([None, value])
            for name, value in _snapshot(service).items()
            if value not in (None, "", {})
        }
    )


def create_imported(*, resource_id: str, actor: User | None, source: str, **fields: Any) -> Service:
    """Create a service for an existing resource on its server, already active.

    The panel is asked first, with nothing written and no transaction held; only when it
    knows the resource is the service created and linked to it, in one transaction. So a
    failed import keeps nothing, and a slow panel holds no lock. A resource already linked
    to a live service is refused (the database's unique constraint settles two at once).
    """
    service = _new_service(fields)
    resource_id = str(resource_id).strip()
    if not resource_id:
        raise LifecycleError(_("Cannot import the resource: choose the resource to import."))
    try:
        module = get_module(service.module)
    except UnknownModule as exc:
        raise LifecycleError(_("Cannot import the resource: %(error)s") % {"error": exc}) from exc
    if module.requires_server and service.server is None:
        raise LifecycleError(
            _("Cannot import the resource: the %(module)s module needs a server.")
            % {"module": module.label}
        )
    owner = (
        Service.objects.filter(server=service.server, external_id=resource_id, status__in=LIVE)
        .values_list("pk", flat=True)
        .first()
    )
    if owner is not None:
        raise LifecycleError(
            _(
                "Cannot import the resource: resource %(resource)s is already linked to "
                "service #%(service)s."
            )
            % {"resource": resource_id, "service": owner}
        )
    with calling(service_id=None, operation="import") as calls:
        result = module.import_existing(service, resource_id)
    try:
        with transaction.atomic():
            service.save()
            _record_creation(service, actor=actor, source=source)
            op = _Operation(service, action=A.IMPORT, actor=actor, source=source, reason="")
            op.target = S.ACTIVE
            op.absorb(result)
            _mark_delivered(service, result, default_external_id=resource_id)
            op.save()
            link_to_service(calls, service.pk)
    except IntegrityError as exc:
        raise LifecycleError(
            _("Cannot import the resource: resource %(resource)s was linked meanwhile.")
            % {"resource": resource_id}
        ) from exc
    return service


def deliver(
    service: ServiceRef, *, actor: User | None, source: str, notify: bool = True
) -> Outcome:
    """Create the service's resource through its module and make the service active."""
    with _operation(service, action=A.DELIVER, actor=actor, source=source, notify=notify) as op:
        if not op.check():
            return op.unchanged()
        _require_server(op)
        svc = op.service
        server = svc.server
        if server is not None and server.status == "disabled":
            raise op.refuse(_("server %(server)s is disabled.") % {"server": server})
        if server is not None and server.max_accounts is not None:
            used = server.services.filter(status__in=LIVE).exclude(pk=svc.pk).count()
            if used >= server.max_accounts:
                raise op.refuse(
                    _("server %(server)s is full (%(used)s of %(max)s).")
                    % {"server": server, "used": used, "max": server.max_accounts}
                )
        svc.delivery_attempts += 1
        op.will_call()
    return op.done()


def import_existing(
    service: ServiceRef, *, resource_id: str, actor: User | None, source: str
) -> Outcome:
    """Link an existing resource on the server to the service and make it active.

    Nothing is created on the server. A resource already linked to another live service
    cannot be imported again: the resource is reserved on the service from the claim on.
    """
    resource_id = str(resource_id).strip()
    params = {"resource_id": resource_id}
    with _operation(service, action=A.IMPORT, actor=actor, source=source, params=params) as op:
        if not op.check():
            return op.unchanged()
        _require_server(op)
        svc = op.service
        if not resource_id:
            raise op.refuse(_("choose the resource to import."))
        owner = (
            Service.objects.filter(server=svc.server, external_id=resource_id, status__in=LIVE)
            .exclude(pk=svc.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if owner is not None:
            raise op.refuse(
                _("resource %(resource)s is already linked to service #%(service)s.")
                % {"resource": resource_id, "service": owner}
            )
        op.params["previous_external_id"] = svc.external_id
        svc.external_id = resource_id
        op.will_call()
    return op.done()


def _imported(op: _Operation) -> None:
    _mark_delivered(op.service, op.result, default_external_id=op.params["resource_id"])


def _unreserve(service: Service) -> None:
    """An import that did not happen gives its resource back."""
    service.external_id = service.operation_params.get("previous_external_id", "")


def _delivered(op: _Operation) -> None:
    _mark_delivered(op.service, op.result)


def _mark_delivered(
    service: Service, result: ModuleResult, *, default_external_id: str = ""
) -> None:
    now = timezone.now()
    service.external_id = result.external_id or default_external_id or service.external_id
    service.module_data = {**service.module_data, **result.data}
    service.delivered_at = now
    service.last_delivery_error = ""
    if service.expires_at is None and service.billing_cycle != BillingCycle.ONE_TIME:
        first = add_cycles(now, service.billing_cycle)
        if first is not None:
            service.expires_at = first
            service.billing_anchor_day = _anchor(first)


# Suspending, expiring, ending ----------------------------------------------------------


def _call_module(action: str, service: ServiceRef, **operation: Any) -> Outcome:
    """An operation the rule book alone decides, which calls the module and applies its
    step (``_STEPS``) once the module has answered."""
    with _operation(service, action=action, **operation) as op:
        if not op.check():
            return op.unchanged()
        op.will_call()
    return op.done()


def suspend(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    reason: str = "",
    notify: bool = True,
    reference: str = "",
) -> Outcome:
    """Stop the service on its server, keeping its data; ``notify`` e-mails the customer."""
    return _call_module(
        A.SUSPEND,
        service,
        actor=actor,
        source=source,
        reason=reason,
        notify=notify,
        reference=reference,
    )


def _suspended(op: _Operation) -> None:
    op.service.suspended_at = timezone.now()
    op.service.suspend_reason = op.reason
    op.service.last_delivery_error = ""


def unsuspend(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    reason: str = "",
    notify: bool = True,
    reference: str = "",
) -> Outcome:
    """Start a suspended service again."""
    return _call_module(
        A.UNSUSPEND,
        service,
        actor=actor,
        source=source,
        reason=reason,
        notify=notify,
        reference=reference,
    )


def _unsuspended(op: _Operation) -> None:
    op.service.suspended_at = None
    op.service.suspend_reason = ""
    op.service.last_delivery_error = ""


def expire(
    service: ServiceRef,
    *,
    actor: User | None = None,
    source: str = EventSource.AUTOMATION,
    notify: bool = True,
) -> Outcome:
    """Mark a service whose expiration has passed as expired; its resource is suspended
    (a service staff suspended already is)."""
    with _operation(service, action=A.EXPIRE, actor=actor, source=source, notify=notify) as op:
        if not op.check():
            return op.unchanged()
        if op.service.status == S.SUSPENDED:
            op.save()
        else:
            op.will_call()
    return op.done()


def terminate(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    reason: str = "",
    notify: bool = True,
    reference: str = "",
) -> Outcome:
    """Delete the service's resource from the server and mark the service terminated."""
    return _call_module(
        A.TERMINATE,
        service,
        actor=actor,
        source=source,
        reason=reason,
        notify=notify,
        reference=reference,
    )


def _terminated(op: _Operation) -> None:
    op.service.terminated_at = timezone.now()
    _clear_scheduled_cancel(op.service)
    op.service.last_delivery_error = ""


def _clear_scheduled_cancel(service: Service) -> None:
    service.cancel_at = None
    service.cancel_source = ""


def cancel(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    when: str = CancelWhen.NOW,
    reason: str = "",
    notify: bool = True,
    reference: str = "",
) -> Outcome:
    """Cancel now (the resource is removed), or at the end of the paid period.

    A scheduled cancellation keeps the service as it is with ``cancel_at`` set to its
    expiration, and remembers who scheduled it; ``uncancel`` undoes it until it comes due.
    """
    if when == CancelWhen.END_OF_PERIOD:
        return _schedule_cancel(
            service,
            actor=actor,
            source=source,
            reason=reason,
            notify=notify,
            reference=reference,
        )
    if when != CancelWhen.NOW:
        raise LifecycleError(f"Unknown cancellation time: {when!r}.")
    with _operation(
        service,
        action=A.CANCEL,
        actor=actor,
        source=source,
        reason=reason,
        notify=notify,
        reference=reference,
    ) as op:
        if not op.check():
            return op.unchanged()
        svc = op.service
        if svc.status != S.PENDING or svc.external_id:
            op.will_call()
        else:
            _cancelled(op)
            op.save()
    return op.done()


def _cancelled(op: _Operation) -> None:
    svc = op.service
    svc.cancelled_at = timezone.now()
    _clear_scheduled_cancel(svc)
    svc.cancel_reason = op.reason or svc.cancel_reason
    svc.last_delivery_error = ""


def _schedule_cancel(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    reason: str,
    notify: bool,
    reference: str = "",
) -> Outcome:
    with _operation(
        service,
        action=A.SCHEDULE_CANCEL,
        actor=actor,
        source=source,
        reason=reason,
        notify=notify,
        reference=reference,
    ) as op:
        if not op.check():
            return op.unchanged()
        svc = op.service
        svc.cancel_at = svc.expires_at
        svc.cancel_reason = reason
        svc.cancel_source = source
        op.save()
    return op.done()


def uncancel(
    service: ServiceRef, *, actor: User | None, source: str, reason: str = "", reference: str = ""
) -> Outcome:
    """Undo a scheduled cancellation that has not come due.

    Staff may undo any; the customer only one the customer scheduled (the rule book).
    """
    with _operation(
        service, action=A.UNCANCEL, actor=actor, source=source, reason=reason, reference=reference
    ) as op:
        if not op.check():
            return op.unchanged()
        _clear_scheduled_cancel(op.service)
        op.service.cancel_reason = ""
        op.save()
    return op.done()


# Renewing and moving the expiration ----------------------------------------------------


def _moved(op: _Operation, moment: Callable[[], dt.datetime | None]) -> dt.datetime:
    """A new expiration date, or a refusal when it falls outside the supported years."""
    years = EXPIRATION_YEARS
    outside = _(
        "the new expiration date is outside the supported years (%(first)s to %(last)s)."
    ) % {"first": years.start, "last": years.stop - 1}
    try:
        value = moment()
    except (OverflowError, ValueError) as exc:
        raise op.refuse(outside) from exc
    if value is None or value.year not in years:
        raise op.refuse(outside)
    return value


def renew(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    cycles: int = 1,
    price: Decimal | None = None,
    invoice_reference: str = "",
    notify: bool = True,
    reference: str = "",
) -> Outcome:
    """Extend the service by ``cycles`` billing cycles from its old expiration date.

    Each cycle counts as one renewal against the maximum. An expired service becomes
    active again when renewed within the grace period, unless it had been suspended
    before it expired: paying does not lift a suspension (for abuse, say), so it goes
    back to suspended. A renewal pays for the next period, so it withdraws a scheduled
    cancellation. A renewal carrying an invoice reference that was already applied does
    nothing, so a retried payment is safe.

    The renewal itself (expiration, count, the renewal row) is applied at once, in the
    caller's transaction when there is one: money moves exactly once. When a panel must
    start the service again, that follows as an operation of its own, recorded as a
    second event once the panel has answered.
    """
    with _operation(
        service, action=A.RENEW, actor=actor, source=source, notify=notify, reference=reference
    ) as op:
        svc = op.service
        if invoice_reference and svc.renewals.filter(invoice_reference=invoice_reference).exists():
            op.noop_reason = _("invoice %(reference)s was already applied") % {
                "reference": invoice_reference
            }
            return op.unchanged()
        if cycles < 1:
            raise op.refuse(_("renew by one cycle or more."))
        op.check(Context(source=source, cycles=cycles))
        old = svc.expires_at
        assert old is not None  # the rule book refuses a service that never expires
        svc.expires_at = _moved(
            op,
            lambda: add_cycles(old, svc.billing_cycle, cycles, anchor_day=svc.billing_anchor_day),
        )
        # A renewal already starting the service again on the panel (an earlier payment)
        # is left to do it: this one extends the expiration only.
        starting = svc.operation == A.RENEW
        reactivate = svc.status == S.EXPIRED and svc.suspended_at is None and not starting
        if svc.status == S.EXPIRED and svc.suspended_at is not None:
            op.target = S.SUSPENDED
        svc.renewal_count += cycles
        _clear_scheduled_cancel(svc)
        svc.cancel_reason = ""
        svc.last_delivery_error = ""
        ServiceRenewal.objects.create(
            service=svc,
            old_expires_at=old,
            new_expires_at=svc.expires_at,
            cycles=cycles,
            price=svc.price * cycles if price is None else price,
            currency=svc.currency,
            source=source,
            actor=actor,
            invoice_reference=invoice_reference,
        )
        op.params["reactivate"] = reactivate
        module = op.module
        if starting:
            op.target = None  # the renewal in flight changes the status once started
            op.save()
        elif not module.calls_panel:
            op.will_call()
        elif reactivate or type(module).on_renew is not DeliveryModule.on_renew:
            if reactivate:
                op.target = None  # the status changes once the panel has started it again
            op.save()
            op.rebase(reason="Started again on the server after the renewal.")
            op.will_call()
        else:
            op.save()
    return op.done()


def _renew_on_server(
    module: DeliveryModule, service: Service, params: Mapping[str, Any]
) -> ModuleResult:
    """Start an expired service again, then the module's own renewal hook."""
    result = module.unsuspend(service) if params.get("reactivate") else ModuleResult()
    hook = module.on_renew(service)
    return ModuleResult(
        external_id=hook.external_id or result.external_id,
        data={**result.data, **hook.data},
        message=" ".join(m for m in (result.message, hook.message) if m),
    )


def shift_expiration(
    service: ServiceRef,
    *,
    days: int,
    actor: User | None,
    source: str,
    reason: str = "",
    reference: str = "",
) -> Outcome:
    """Add (positive) or subtract (negative) days to the expiration, without a renewal."""
    with _operation(
        service,
        action=A.SHIFT_EXPIRATION,
        actor=actor,
        source=source,
        reason=reason,
        reference=reference,
    ) as op:
        if not op.check(Context(source=source, days=days)):
            return op.unchanged()
        svc = op.service
        old = svc.expires_at
        assert old is not None  # the rule book refuses a service without an expiration
        svc.expires_at = _moved(op, lambda: old + dt.timedelta(days=days))
        svc.billing_anchor_day = timezone.localtime(svc.expires_at).day
        if svc.cancel_at is not None:
            svc.cancel_at = svc.expires_at
        op.save()
    return op.done()


# Editing and deleting ------------------------------------------------------------------


def update(
    service: ServiceRef,
    *,
    changes: dict[str, Any],
    actor: User | None,
    source: str,
    reason: str = "",
) -> Outcome:
    """Edit fields (the seed's "Editing"); each change is recorded with its old and new value.

    Editing the status calls no module: it exists for repairs, and the actions are the
    way to change a status in normal use.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise LifecycleError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    with _operation(
        service, action=A.UPDATE, actor=actor, source=source, reason=reason, notify=False
    ) as op:
        op.check()
        svc = op.service
        for name, value in changes.items():
            setattr(svc, name, value)
        if "expires_at" in changes and svc.expires_at is not None:
            try:
                svc.billing_anchor_day = _anchor(svc.expires_at)
            except ValidationError as exc:
                raise op.refuse(_validation_message(exc)) from exc
        if svc.billing_cycle == BillingCycle.ONE_TIME and svc.expires_at is not None:
            raise op.refuse(_("a one-time service has no expiration date: clear it."))
        if svc.server is not None and svc.server.module != svc.module:
            raise op.refuse(
                _("server %(server)s is a %(module)s server, not %(type)s.")
                % {"server": svc.server, "module": svc.server.module, "type": svc.module}
            )
        if svc.max_renewals is not None and svc.max_renewals < svc.renewal_count:
            raise op.refuse(
                ngettext(
                    "it has already been renewed %(count)d time, more than a maximum of %(max)d.",
                    "it has already been renewed %(count)d times, more than a maximum of %(max)d.",
                    svc.renewal_count,
                )
                % {"count": svc.renewal_count, "max": svc.max_renewals}
            )
        if "status" in changes and svc.status != op.from_status:
            op.target = svc.status
        if not op.changes():
            op.noop_reason = _("nothing was changed")
            return op.unchanged()
        op.save()
    return op.done()


def delete(
    service: ServiceRef, *, actor: User | None, source: str, reason: str = "", reference: str = ""
) -> Outcome:
    """Delete a service once nothing remains on the server; its history and renewals stay."""
    with _operation(
        service, action=A.DELETE, actor=actor, source=source, reason=reason, reference=reference
    ) as op:
        op.check()
        svc = op.service
        snapshot = {"id": svc.pk, "uuid": svc.uuid, **_snapshot(svc)}
        op.record(changes={name: _json([value, None]) for name, value in snapshot.items()})
        svc.delete()
    return op.done()


# Running an action of the catalogue ----------------------------------------------------


def perform(
    action: str,
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    params: Mapping[str, Any],
) -> Outcome:
    """Run the catalogue's ``action`` with the settings its form collected.

    ``params`` may hold ``reason``, ``notify``, ``when`` (cancel), ``cycles`` (renew) and
    ``days`` (shift_expiration, signed). The details page, bulk actions and the client
    area run actions through here.
    """
    reason = params.get("reason") or ""
    notify = params.get("notify", True)
    # Who asks, and what asked (a bulk item's reference, applied once).
    who: dict[str, Any] = {
        "actor": actor,
        "source": source,
        "reference": params.get("reference") or "",
    }
    operations: dict[str, Callable[[], Outcome]] = {
        A.DELIVER: lambda: deliver(service, notify=notify, actor=actor, source=source),
        A.SUSPEND: lambda: suspend(service, reason=reason, notify=notify, **who),
        A.UNSUSPEND: lambda: unsuspend(service, reason=reason, notify=notify, **who),
        A.RENEW: lambda: renew(service, cycles=int(params.get("cycles", 1)), notify=notify, **who),
        A.SHIFT_EXPIRATION: lambda: shift_expiration(
            service, days=int(params["days"]), reason=reason, **who
        ),
        A.CANCEL: lambda: cancel(
            service,
            when=params.get("when", CancelWhen.NOW),
            reason=reason,
            notify=notify,
            **who,
        ),
        A.SCHEDULE_CANCEL: lambda: cancel(
            service, when=CancelWhen.END_OF_PERIOD, reason=reason, notify=notify, **who
        ),
        A.UNCANCEL: lambda: uncancel(service, reason=reason, **who),
        A.TERMINATE: lambda: terminate(service, reason=reason, notify=notify, **who),
        A.DELETE: lambda: delete(service, reason=reason, **who),
    }
    if action not in operations:
        raise LifecycleError(f"{CATALOGUE[action].label} is not an action staff or customers run.")
    return operations[action]()


# What each operation asks of the module, and applies once it has answered -----------------


@dataclass(frozen=True)
class _Step:
    """An operation's module call (``run``, with no lock held when the module calls a
    panel), what it applies under the lock once the module answered (``apply``), and what
    a failed or abandoned claim gives back (``undo``)."""

    run: Callable[[DeliveryModule, Service, Mapping[str, Any]], ModuleResult]
    apply: Callable[[_Operation], None]
    undo: Callable[[Service], None] = lambda service: None


def _nothing_more(op: _Operation) -> None:
    """The target status is all an operation applies: expiring, and a renewal starting a
    service again (the renewal itself was applied when it was asked for)."""


_STEPS: dict[str, _Step] = {
    A.DELIVER: _Step(lambda module, service, params: module.create(service), _delivered),
    A.IMPORT: _Step(
        lambda module, service, params: module.import_existing(service, params["resource_id"]),
        _imported,
        _unreserve,
    ),
    A.SUSPEND: _Step(lambda module, service, params: module.suspend(service), _suspended),
    A.UNSUSPEND: _Step(lambda module, service, params: module.unsuspend(service), _unsuspended),
    A.EXPIRE: _Step(lambda module, service, params: module.suspend(service), _nothing_more),
    A.TERMINATE: _Step(lambda module, service, params: module.terminate(service), _terminated),
    A.CANCEL: _Step(lambda module, service, params: module.terminate(service), _cancelled),
    A.RENEW: _Step(_renew_on_server, _nothing_more),
    # A tab's action the panel went on working on: taken over, it is asked again.
    A.PANEL: _Step(lambda module, service, params: module.follow(service, A.PANEL), _nothing_more),
}
