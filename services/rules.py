"""The rule book: which action applies to a service, which does nothing, and which is
refused with what message (DESIGN.md §2).

Each action's rules are an ordered list; the first that holds decides. A rule is a
``Condition`` (``services.conditions``), so the same rule is read in memory for one
service and in SQL for a whole selection:

- the lifecycle asks ``decide`` and refuses or does nothing accordingly;
- the details page and the client area offer an action when ``decide`` allows it;
- bulk actions annotate every selected row with ``annotate`` and skip what a rule
  catches, in one query over a million rows.

What needs other rows (room on the server, a resource already linked, an invoice
already applied) is not a rule of one service: the lifecycle checks it itself.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db.models import Case, CharField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from products.choices import BillingCycle

from . import periods
from .choices import (
    ACTION_TRANSITIONS,
    DELETABLE,
    RENEWABLE,
    EventSource,
    ServiceAction,
    ServiceStatus,
)
from .conditions import (
    After,
    Always,
    Before,
    Condition,
    Differs,
    Equals,
    HeldAfter,
    IsNull,
    LimitPassed,
    SameAs,
    StatusIn,
)
from .models import Service

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

S = ServiceStatus
A = ServiceAction


class Verdict(StrEnum):
    ALLOWED = "allowed"
    NOOP = "noop"
    REFUSED = "refused"


@dataclass(frozen=True)
class Rule:
    """When ``when`` holds, the action does nothing (NOOP) or is refused, and says why.

    ``detail`` adds figures of one service to the message (the lifecycle's and the pages'
    wording), ``wording`` says it in other words for one service; a selection in SQL gets
    the message alone.
    """

    when: Condition
    verdict: Verdict
    message: StrOrPromise
    detail: Callable[[Service], str] | None = None
    wording: Callable[[Service], str] | None = None

    def explain(self, service: Service) -> str:
        if self.wording:
            return self.wording(service)
        return f"{self.message} ({self.detail(service)})" if self.detail else str(self.message)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == Verdict.ALLOWED


ALLOWED = Decision(Verdict.ALLOWED)


@dataclass(frozen=True)
class Context:
    """What the rules depend on besides the service: who asks, when, and the settings.

    ``cycles`` is a renewal's number of cycles; ``days`` the days an expiration moves.
    """

    source: str = EventSource.ADMIN
    cycles: int = 1
    days: int | None = None
    now: dt.datetime | None = None

    @property
    def moment(self) -> dt.datetime:
        return self.now or timezone.now()


def _label(status: str) -> str:
    return S(status).label.lower()


def _status_rules(action: str) -> list[Rule]:
    """A status change: nothing to do at its target, refused from a status it does not leave."""
    return list(_status_rules_in(action, get_language()))


@functools.lru_cache(maxsize=128)
def _status_rules_in(action: str, language: str | None) -> tuple[Rule, ...]:
    """``_status_rules`` in ``language``, built once: a batch asks them of every service
    (services.batches), and their messages cost a dozen catalogue lookups."""
    sources, target = ACTION_TRANSITIONS[action]
    return (
        Rule(
            StatusIn({target}),
            Verdict.NOOP,
            _("it is already %(status)s") % {"status": _label(target)},
        ),
        *[
            Rule(
                StatusIn({status}),
                Verdict.REFUSED,
                _("it is %(status)s") % {"status": _label(status)},
            )
            for status in S
            if status not in sources and status != target
        ],
    )


def _refused_in(statuses: Collection[str], message: str = "") -> list[Rule]:
    """Refused in ``statuses``; ``message`` (with ``%(status)s``) says why, else "it is …"."""
    message = message or _("it is %(status)s")
    return [
        Rule(StatusIn({status}), Verdict.REFUSED, message % {"status": _label(status)})
        for status in S
        if status in statuses
    ]


def _expire(context: Context) -> list[Rule]:
    return [
        *_status_rules(A.EXPIRE),
        Rule(
            IsNull("expires_at") | After("expires_at", context.moment),
            Verdict.REFUSED,
            _("its expiration date has not been reached"),
        ),
    ]


def _schedule_cancel(context: Context) -> list[Rule]:
    return [
        Rule(StatusIn({S.CANCELLED}), Verdict.NOOP, _("it is already cancelled")),
        Rule(
            StatusIn({S.PENDING}),
            Verdict.REFUSED,
            _("it has not been delivered, so it has no paid period: cancel it now"),
        ),
        *_refused_in(set(S) - RENEWABLE - {S.CANCELLED, S.PENDING}),
        Rule(IsNull("expires_at"), Verdict.REFUSED, _("it never expires: cancel it now")),
        Rule(
            StatusIn({S.EXPIRED}),
            Verdict.REFUSED,
            _("its paid period is already over: cancel it now"),
        ),
        Rule(
            SameAs("cancel_at", "expires_at"),
            Verdict.NOOP,
            _("its cancellation is already scheduled"),
        ),
    ]


def _uncancel(context: Context) -> list[Rule]:
    rules = [
        *[
            Rule(
                StatusIn({status}),
                Verdict.REFUSED,
                _("it is already %(status)s") % {"status": _label(status)},
            )
            for status in (S.CANCELLED, S.TERMINATED)
        ],
        Rule(IsNull("cancel_at"), Verdict.NOOP, _("no cancellation is scheduled")),
    ]
    if context.source == EventSource.CLIENT:
        # DESIGN §2: the customer may undo only a cancellation the customer scheduled.
        rules.append(
            Rule(
                Differs("cancel_source", EventSource.CLIENT),
                Verdict.REFUSED,
                _("our staff scheduled this cancellation: contact us to keep the service"),
            )
        )
    return rules


def _renewals_left(service: Service) -> str:
    limit = service.max_renewals or 0
    return _("%(left)s of %(limit)s left") % {"left": limit - service.renewal_count, "limit": limit}


def _renew(context: Context) -> list[Rule]:
    grace = periods.renewal_grace_days()
    return [
        *_refused_in(set(S) - RENEWABLE),
        Rule(
            Equals("billing_cycle", BillingCycle.ONE_TIME) | IsNull("expires_at"),
            Verdict.REFUSED,
            _("it is a one-time service and never expires"),
        ),
        Rule(
            LimitPassed("max_renewals", "renewal_count", context.cycles),
            Verdict.REFUSED,
            _("its maximum number of renewals would be passed"),
            _renewals_left,
        ),
        Rule(
            StatusIn({S.EXPIRED}) & Before("expires_at", context.moment - dt.timedelta(days=grace)),
            Verdict.REFUSED,
            ngettext(
                "it expired more than %(count)d day ago",
                "it expired more than %(count)d days ago",
                grace,
            )
            % {"count": grace},
        ),
    ]


def _shift_expiration(context: Context) -> list[Rule]:
    rules = []
    if context.days == 0:
        rules.append(Rule(Always(), Verdict.NOOP, _("it moves by zero days")))
    return [
        *rules,
        *_refused_in({S.CANCELLED, S.TERMINATED}),
        Rule(IsNull("expires_at"), Verdict.REFUSED, _("it has no expiration date")),
    ]


def _delete(context: Context) -> list[Rule]:
    return [
        *_refused_in(
            set(S) - DELETABLE,
            _(
                "it is %(status)s and its resource is still on the server: terminate or "
                "cancel it first"
            ),
        ),
        Rule(
            StatusIn({S.PENDING}) & Differs("external_id", ""),
            Verdict.REFUSED,
            _("a resource was created for it on the server: cancel it first"),
        ),
    ]


def _panel(context: Context) -> list[Rule]:
    """A panel action (power, reinstall) needs a running service."""
    return _refused_in(set(S) - {S.ACTIVE})


def _held(service: Service) -> str:
    """Whose hold it is and until when (the later, when both the service and its customer
    have one)."""
    own, customers = service.hold_until, service.customer.hold_until
    if customers is not None and (own is None or customers > own):
        until = timezone.localtime(customers)
        return _(
            "staff agreed with its customer not to suspend or terminate their services "
            "until %(date)s"
        ) % {"date": f"{until:%Y-%m-%d}"}
    assert own is not None  # the rule holds: one of the two is set
    return _("staff agreed not to suspend or terminate it until %(date)s") % {
        "date": f"{timezone.localtime(own):%Y-%m-%d}"
    }


def _hold(context: Context) -> Rule:
    """The automation neither expires nor terminates a service while a hold agreed with the
    customer lasts; staff still can."""
    return Rule(
        HeldAfter(context.moment),
        Verdict.REFUSED,
        _("staff agreed not to suspend or terminate it until a later date"),
        wording=_held,
    )


#: The actions a hold keeps the automation from taking.
HELD_BACK = frozenset({A.EXPIRE, A.TERMINATE})


def _in_flight(service: Service) -> str:
    started = service.operation_started_at
    if not started:
        return service.operation_label
    return _("%(operation)s, since %(moment)s") % {
        "operation": service.operation_label,
        "moment": f"{timezone.localtime(started):%Y-%m-%d %H:%M}",
    }


#: Every action but creating is refused while another operation is in flight on the
#: service: its module call may be under way, and what it finishes must not be undone.
IN_FLIGHT = Rule(
    Differs("operation", ""),
    Verdict.REFUSED,
    gettext_lazy("another operation is in progress on it"),
    _in_flight,
)


#: A renewal is money already taken: it is applied while the panel starts the service
#: again after an earlier renewal (a second payment), and refused only while another
#: operation is in flight.
RENEW_IN_FLIGHT = Rule(
    Differs("operation", "") & Differs("operation", A.RENEW),
    Verdict.REFUSED,
    gettext_lazy("another operation is in progress on it"),
    _in_flight,
)


def rules(action: str, context: Context | None = None) -> list[Rule]:
    """The rules of ``action``, in the order they are tried."""
    if action == A.CREATE:
        return []
    context = context or Context()
    in_flight = RENEW_IN_FLIGHT if action == A.RENEW else IN_FLIGHT
    held = (
        [_hold(context)] if action in HELD_BACK and context.source == EventSource.AUTOMATION else []
    )
    return [in_flight, *_action_rules(action, context), *held]


def _action_rules(action: str, context: Context) -> list[Rule]:
    if action in ACTION_TRANSITIONS and action not in (A.EXPIRE, A.RENEW):
        return _status_rules(action)
    builders: dict[str, Callable[[Context], list[Rule]]] = {
        A.EXPIRE: _expire,
        A.SCHEDULE_CANCEL: _schedule_cancel,
        A.UNCANCEL: _uncancel,
        A.RENEW: _renew,
        A.SHIFT_EXPIRATION: _shift_expiration,
        A.DELETE: _delete,
        A.PANEL: _panel,
    }
    if action in builders:
        return builders[action](context)
    if action == A.UPDATE:
        return []
    raise ValueError(f"The rule book has no action {action!r}.")


def decide(service: Service, action: str, context: Context | None = None) -> Decision:
    """What ``action`` would do to ``service``: the first rule that holds, else allowed."""
    for rule in rules(action, context):
        if rule.when.holds(service):
            return Decision(rule.verdict, rule.explain(service))
    return ALLOWED


def annotate(
    services: QuerySet[Service], action: str, context: Context | None = None
) -> QuerySet[Service]:
    """``services`` with ``rule_message``: why ``action`` would not change each row ('' if
    it would), the same first-match order as ``decide``, computed by the database."""
    message = Case(
        *[When(rule.when.q(), then=Value(str(rule.message))) for rule in rules(action, context)],
        default=Value(""),
        output_field=CharField(),
    )
    return services.annotate(rule_message=message)
