"""The service lifecycle: the only code that changes a service's status, expiration or
renewal count (DESIGN.md, "The lifecycle layer").

Every operation has the same shape. It opens a transaction and locks the service row;
checks the transition and the business rules, raising ``LifecycleError`` with a message
a person can read; calls the delivery module; saves the changed fields and writes a
``ServiceEvent`` with the field changes; and schedules the customer's notification for
after the commit. A module failure leaves the status as it was, records the error on
the service and in its history (both are committed), and is raised to the caller.

Whether an operation applies, does nothing or is refused is the rule book's answer
(``services.rules``); what needs other rows (room on the server, a resource already
linked, an invoice already applied) is checked here. Operations take a ``Service`` or its
id and return an ``Outcome``: the service as saved and whether anything changed; those
that e-mail the customer take ``notify=False`` to stay silent. ``perform`` runs an
action of the catalogue (``services.actions``) with the settings a form collected.

A caller may wrap one operation in a transaction of its own to commit its outcome with
it (bulk actions do), but must not wrap several: a module failure's record would be
rolled back with the operations that follow.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import User
from delivery.modules.base import DeliveryModule, ModuleError, ModuleResult
from delivery.registry import UnknownModule, get_module
from products.choices import BillingCycle
from products.cycles import add_cycles

from . import notifications, rules
from .actions import CATALOGUE
from .choices import ACTION_TRANSITIONS, LIVE, CancelWhen, EventSource, ServiceAction, ServiceStatus
from .models import EXPIRATION_YEARS, Service, ServiceEvent, ServiceRenewal, validate_expiration
from .rules import Context, Verdict

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
    }
)
#: Fields compared before and after an operation to record its changes.
_AUDITED_FIELDS = [
    f
    for f in Service._meta.concrete_fields
    if f.name not in {"id", "uuid", "updated_at", "created_at"}
]


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the service as saved, and whether anything changed.

    ``message`` says why nothing changed (the rule book's words), when nothing did.
    """

    service: Service
    changed: bool
    message: str = ""


class LifecycleError(Exception):
    """An operation was refused; the message says why, for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _snapshot(service: Service) -> dict[str, Any]:
    return {f.name: getattr(service, f.attname) for f in _AUDITED_FIELDS}


class _Operation:
    """One operation on one locked service: what it changes, and its audit record."""

    def __init__(
        self, service: Service, *, action: str, actor: User | None, source: str, reason: str
    ) -> None:
        self.service = service
        self.action = action
        self.actor = actor
        self.source = source
        self.reason = reason
        self.from_status = service.status
        self.target: str | None = None
        self.noop_reason = ""
        self.result = ModuleResult()
        self._before = _snapshot(service)

    def refuse(self, why: str) -> LifecycleError:
        verb = CATALOGUE[self.action].verb
        return LifecycleError(f"Cannot {verb} service #{self.service.pk}: {why}")

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
        return Outcome(self.service, changed=True)

    @property
    def module(self) -> DeliveryModule:
        try:
            return get_module(self.service.module)
        except UnknownModule as exc:
            raise self.refuse(str(exc)) from exc

    def call(self, operation: Callable[..., ModuleResult], *args: Any) -> ModuleResult:
        """Call a module operation; a ModuleError propagates to ``_operation``."""
        result = operation(self.service, *args)
        self.result = ModuleResult(
            external_id=result.external_id or self.result.external_id,
            data={**self.result.data, **result.data},
            message=" ".join(m for m in (self.result.message, result.message) if m),
        )
        return result

    def changes(self) -> dict[str, list[Any]]:
        after = _snapshot(self.service)
        return {
            name: _json([self._before[name], after[name]])
            for name in after
            if after[name] != self._before[name]
        }

    def save(self, *, notify: bool = True) -> ServiceEvent:
        """Persist the changed fields and the audit row; notify the customer after commit."""
        service = self.service
        if self.target:
            service.status = self.target
        changes = self.changes()
        changed_names = [f.name for f in _AUDITED_FIELDS if f.name in changes]
        try:
            service.full_clean(
                exclude=[f.name for f in Service._meta.fields if f.name not in changes],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            raise self.refuse(_validation_message(exc)) from exc
        try:
            # No savepoint of its own: a failed write aborts the transaction, and the
            # LifecycleError raised here rolls back the operation's atomic block.
            service.save(update_fields=[*changed_names, "updated_at"])
        except IntegrityError as exc:
            raise self.refuse("the change breaks a rule of the database.") from exc
        event = self.record(changes=changes)
        if notify and CATALOGUE[self.action].notifies:
            transaction.on_commit(partial(notifications.enqueue, event.pk))
        return event

    def record(self, *, changes: dict[str, Any], error: str = "") -> ServiceEvent:
        result = self.result.as_dict()
        return ServiceEvent.objects.create(
            service=self.service if self.service.pk else None,
            actor=self.actor,
            source=self.source,
            action=self.action,
            from_status=self.from_status,
            to_status=self.service.status if not error else self.from_status,
            reason=self.reason,
            changes=changes,
            module_result=result,
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
    try:
        return Service.objects.select_for_update(of=("self",)).get(pk=pk)
    except Service.DoesNotExist:
        raise LifecycleError(f"Service #{pk} does not exist.") from None


@contextmanager
def _operation(
    service: ServiceRef, *, action: str, actor: User | None, source: str, reason: str = ""
) -> Iterator[_Operation]:
    """Lock the service for one operation; commit a module failure's record, then raise it."""
    failure: ModuleError | None = None
    with transaction.atomic():
        operation = _Operation(
            _lock(service), action=action, actor=actor, source=source, reason=reason
        )
        try:
            yield operation
        except ModuleError as exc:
            operation.record_failure(exc)
            failure = exc
    if failure is not None:
        raise failure


def _require_server(op: _Operation) -> None:
    service = op.service
    if not op.module.requires_server:
        return
    server = service.server
    if server is None:
        raise op.refuse(f"the {op.module.label} module needs a server and none is set.")
    if server.module != service.module:
        raise op.refuse(f"server {server} is a {server.module} server, not {service.module}.")


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
    unknown = set(fields) - EDITABLE_FIELDS - {"customer", "module_data"}
    if unknown:
        raise LifecycleError(f"These fields cannot be set: {', '.join(sorted(unknown))}.")
    fields.pop("status", None)
    options = fields.pop("module_data", None) or {}
    service = Service(**fields, status=S.PENDING)
    try:
        service.module_data = _json(get_module(service.module).clean_service_options(options))
    except UnknownModule as exc:
        raise LifecycleError(f"Cannot create the service: {exc}") from exc
    except ValidationError as exc:
        raise LifecycleError(f"Cannot create the service: {_validation_message(exc)}") from exc
    try:
        if service.expires_at is not None:
            service.billing_anchor_day = _anchor(service.expires_at)
        service.full_clean(validate_constraints=True)
    except ValidationError as exc:
        raise LifecycleError(f"Cannot create the service: {_validation_message(exc)}") from exc
    with transaction.atomic():
        service.save()
        operation = _Operation(service, action=A.CREATE, actor=actor, source=source, reason="")
        operation.from_status = ""
        operation.record(
            changes={
                name: _json([None, value])
                for name, value in _snapshot(service).items()
                if value not in (None, "", {})
            }
        )
    return service


def deliver(
    service: ServiceRef, *, actor: User | None, source: str, notify: bool = True
) -> Outcome:
    """Create the service's resource through its module and make the service active."""
    with _operation(service, action=A.DELIVER, actor=actor, source=source) as op:
        if not op.check():
            return op.unchanged()
        _require_server(op)
        svc = op.service
        server = svc.server
        if server is not None and server.status == "disabled":
            raise op.refuse(f"server {server} is disabled.")
        if server is not None and server.max_accounts is not None:
            used = server.services.filter(status__in=LIVE).exclude(pk=svc.pk).count()
            if used >= server.max_accounts:
                raise op.refuse(f"server {server} is full ({used} of {server.max_accounts}).")
        svc.delivery_attempts += 1
        result = op.call(op.module.create)
        _mark_delivered(svc, result)
        op.save(notify=notify)
    return op.done()


def import_existing(
    service: ServiceRef, *, resource_id: str, actor: User | None, source: str
) -> Outcome:
    """Link an existing resource on the server to the service and make it active.

    Nothing is created on the server. A resource already linked to another live service
    cannot be imported again.
    """
    with _operation(service, action=A.IMPORT, actor=actor, source=source) as op:
        if not op.check():
            return op.unchanged()
        _require_server(op)
        svc = op.service
        resource_id = str(resource_id).strip()
        if not resource_id:
            raise op.refuse("choose the resource to import.")
        owner = (
            Service.objects.filter(server=svc.server, external_id=resource_id, status__in=LIVE)
            .exclude(pk=svc.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if owner is not None:
            raise op.refuse(f"resource {resource_id} is already linked to service #{owner}.")
        result = op.call(op.module.import_existing, resource_id)
        _mark_delivered(svc, result, default_external_id=resource_id)
        op.save()
    return op.done()


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


def suspend(
    service: ServiceRef, *, actor: User | None, source: str, reason: str = "", notify: bool = True
) -> Outcome:
    """Stop the service on its server, keeping its data; ``notify`` e-mails the customer."""
    with _operation(service, action=A.SUSPEND, actor=actor, source=source, reason=reason) as op:
        if not op.check():
            return op.unchanged()
        op.call(op.module.suspend)
        op.service.suspended_at = timezone.now()
        op.service.suspend_reason = reason
        op.service.last_delivery_error = ""
        op.save(notify=notify)
    return op.done()


def unsuspend(
    service: ServiceRef, *, actor: User | None, source: str, reason: str = "", notify: bool = True
) -> Outcome:
    """Start a suspended service again."""
    with _operation(service, action=A.UNSUSPEND, actor=actor, source=source, reason=reason) as op:
        if not op.check():
            return op.unchanged()
        op.call(op.module.unsuspend)
        op.service.suspended_at = None
        op.service.suspend_reason = ""
        op.service.last_delivery_error = ""
        op.save(notify=notify)
    return op.done()


def expire(
    service: ServiceRef,
    *,
    actor: User | None = None,
    source: str = EventSource.AUTOMATION,
    notify: bool = True,
) -> Outcome:
    """Mark a service whose expiration has passed as expired; its resource is suspended."""
    with _operation(service, action=A.EXPIRE, actor=actor, source=source) as op:
        if not op.check():
            return op.unchanged()
        if op.service.status != S.SUSPENDED:
            op.call(op.module.suspend)
        op.save(notify=notify)
    return op.done()


def terminate(
    service: ServiceRef,
    *,
    actor: User | None,
    source: str,
    reason: str = "",
    notify: bool = True,
) -> Outcome:
    """Delete the service's resource from the server and mark the service terminated."""
    with _operation(service, action=A.TERMINATE, actor=actor, source=source, reason=reason) as op:
        if not op.check():
            return op.unchanged()
        op.call(op.module.terminate)
        op.service.terminated_at = timezone.now()
        _clear_scheduled_cancel(op.service)
        op.service.last_delivery_error = ""
        op.save(notify=notify)
    return op.done()


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
) -> Outcome:
    """Cancel now (the resource is removed), or at the end of the paid period.

    A scheduled cancellation keeps the service as it is with ``cancel_at`` set to its
    expiration, and remembers who scheduled it; ``uncancel`` undoes it until it comes due.
    """
    if when == CancelWhen.END_OF_PERIOD:
        return _schedule_cancel(service, actor=actor, source=source, reason=reason, notify=notify)
    if when != CancelWhen.NOW:
        raise LifecycleError(f"Unknown cancellation time: {when!r}.")
    with _operation(service, action=A.CANCEL, actor=actor, source=source, reason=reason) as op:
        if not op.check():
            return op.unchanged()
        svc = op.service
        if svc.status != S.PENDING or svc.external_id:
            op.call(op.module.terminate)
        svc.cancelled_at = timezone.now()
        _clear_scheduled_cancel(svc)
        svc.cancel_reason = reason or svc.cancel_reason
        svc.last_delivery_error = ""
        op.save(notify=notify)
    return op.done()


def _schedule_cancel(
    service: ServiceRef, *, actor: User | None, source: str, reason: str, notify: bool
) -> Outcome:
    with _operation(
        service, action=A.SCHEDULE_CANCEL, actor=actor, source=source, reason=reason
    ) as op:
        if not op.check():
            return op.unchanged()
        svc = op.service
        svc.cancel_at = svc.expires_at
        svc.cancel_reason = reason
        svc.cancel_source = source
        op.save(notify=notify)
    return op.done()


def uncancel(service: ServiceRef, *, actor: User | None, source: str, reason: str = "") -> Outcome:
    """Undo a scheduled cancellation that has not come due.

    Staff may undo any; the customer only one the customer scheduled (the rule book).
    """
    with _operation(service, action=A.UNCANCEL, actor=actor, source=source, reason=reason) as op:
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
    outside = f"the new expiration date is outside the supported years ({years.start} to "
    outside += f"{years.stop - 1})."
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
) -> Outcome:
    """Extend the service by ``cycles`` billing cycles from its old expiration date.

    Each cycle counts as one renewal against the maximum. An expired service becomes
    active again when renewed within the grace period, unless it had been suspended
    before it expired: paying does not lift a suspension (for abuse, say), so it goes
    back to suspended. A renewal pays for the next period, so it withdraws a scheduled
    cancellation. A renewal carrying an invoice reference that was already applied does
    nothing, so a retried payment is safe.
    """
    with _operation(service, action=A.RENEW, actor=actor, source=source) as op:
        svc = op.service
        if invoice_reference and svc.renewals.filter(invoice_reference=invoice_reference).exists():
            op.noop_reason = f"invoice {invoice_reference} was already applied"
            return op.unchanged()
        if cycles < 1:
            raise op.refuse("renew by one cycle or more.")
        op.check(Context(source=source, cycles=cycles))
        old = svc.expires_at
        assert old is not None  # the rule book refuses a service that never expires
        svc.expires_at = _moved(
            op,
            lambda: add_cycles(old, svc.billing_cycle, cycles, anchor_day=svc.billing_anchor_day),
        )
        if svc.status == S.EXPIRED:
            if svc.suspended_at is not None:
                op.target = S.SUSPENDED
            else:
                op.call(op.module.unsuspend)
        svc.renewal_count += cycles
        _clear_scheduled_cancel(svc)
        svc.cancel_reason = ""
        svc.last_delivery_error = ""
        op.call(op.module.on_renew)
        op.save(notify=notify)
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
    return op.done()


def shift_expiration(
    service: ServiceRef, *, days: int, actor: User | None, source: str, reason: str = ""
) -> Outcome:
    """Add (positive) or subtract (negative) days to the expiration, without a renewal."""
    with _operation(
        service, action=A.SHIFT_EXPIRATION, actor=actor, source=source, reason=reason
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
    with _operation(service, action=A.UPDATE, actor=actor, source=source, reason=reason) as op:
        svc = op.service
        for name, value in changes.items():
            setattr(svc, name, value)
        if "expires_at" in changes and svc.expires_at is not None:
            try:
                svc.billing_anchor_day = _anchor(svc.expires_at)
            except ValidationError as exc:
                raise op.refuse(_validation_message(exc)) from exc
        if svc.billing_cycle == BillingCycle.ONE_TIME and svc.expires_at is not None:
            raise op.refuse("a one-time service has no expiration date: clear it.")
        if svc.server is not None and svc.server.module != svc.module:
            raise op.refuse(
                f"server {svc.server} is a {svc.server.module} server, not {svc.module}."
            )
        if svc.max_renewals is not None and svc.max_renewals < svc.renewal_count:
            raise op.refuse(
                f"it has already been renewed {svc.renewal_count} times, "
                f"more than a maximum of {svc.max_renewals}."
            )
        if "status" in changes and svc.status != op.from_status:
            op.target = svc.status
        if not op.changes():
            op.noop_reason = "nothing was changed"
            return op.unchanged()
        op.save(notify=False)
    return op.done()


def delete(service: ServiceRef, *, actor: User | None, source: str, reason: str = "") -> Outcome:
    """Delete a service once nothing remains on the server; its history and renewals stay."""
    with _operation(service, action=A.DELETE, actor=actor, source=source, reason=reason) as op:
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
    operations: dict[str, Callable[[], Outcome]] = {
        A.DELIVER: lambda: deliver(service, notify=notify, actor=actor, source=source),
        A.SUSPEND: lambda: suspend(
            service, reason=reason, notify=notify, actor=actor, source=source
        ),
        A.UNSUSPEND: lambda: unsuspend(
            service, reason=reason, notify=notify, actor=actor, source=source
        ),
        A.RENEW: lambda: renew(
            service, cycles=int(params.get("cycles", 1)), notify=notify, actor=actor, source=source
        ),
        A.SHIFT_EXPIRATION: lambda: shift_expiration(
            service, days=int(params["days"]), reason=reason, actor=actor, source=source
        ),
        A.CANCEL: lambda: cancel(
            service,
            when=params.get("when", CancelWhen.NOW),
            reason=reason,
            notify=notify,
            actor=actor,
            source=source,
        ),
        A.SCHEDULE_CANCEL: lambda: cancel(
            service,
            when=CancelWhen.END_OF_PERIOD,
            reason=reason,
            notify=notify,
            actor=actor,
            source=source,
        ),
        A.UNCANCEL: lambda: uncancel(service, reason=reason, actor=actor, source=source),
        A.TERMINATE: lambda: terminate(
            service, reason=reason, notify=notify, actor=actor, source=source
        ),
        A.DELETE: lambda: delete(service, reason=reason, actor=actor, source=source),
    }
    if action not in operations:
        raise LifecycleError(f"{CATALOGUE[action].label} is not an action staff or customers run.")
    return operations[action]()
