"""Conditions on a service that read the same in Python and in SQL.

The rule book (``services.rules``) states each rule once, as one of these. The lifecycle
and the pages test a rule on one service in memory (``holds``); bulk actions test it on
a whole selection in one query (``q``). Each condition keeps SQL's meaning in Python:
a comparison with a NULL column is false, as it is in a ``CASE WHEN``.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q

from .models import Service


class Condition(ABC):
    """Something that holds, or not, for a service; combine with ``&`` and ``|``."""

    @abstractmethod
    def holds(self, service: Service) -> bool:
        """Whether the condition holds for ``service`` as it is in memory."""

    @abstractmethod
    def q(self) -> Q:
        """The same condition as a filter on ``Service`` rows."""

    def __and__(self, other: Condition) -> Condition:
        return AllOf((self, other))

    def __or__(self, other: Condition) -> Condition:
        return AnyOf((self, other))


@dataclass(frozen=True)
class Always(Condition):
    """Holds for every service: for a rule that depends only on the request's parameters."""

    def holds(self, service: Service) -> bool:
        return True

    def q(self) -> Q:
        return ~Q(pk=None)


@dataclass(frozen=True)
class StatusIn(Condition):
    statuses: frozenset[str]

    def __init__(self, statuses: Iterable[str]) -> None:
        object.__setattr__(self, "statuses", frozenset(statuses))

    def holds(self, service: Service) -> bool:
        return service.status in self.statuses

    def q(self) -> Q:
        return Q(status__in=sorted(self.statuses))


@dataclass(frozen=True)
class IsNull(Condition):
    field: str

    def holds(self, service: Service) -> bool:
        return getattr(service, self.field) is None

    def q(self) -> Q:
        return Q(**{f"{self.field}__isnull": True})


@dataclass(frozen=True)
class Equals(Condition):
    field: str
    value: Any

    def holds(self, service: Service) -> bool:
        return bool(getattr(service, self.field) == self.value)

    def q(self) -> Q:
        return Q(**{self.field: self.value})


@dataclass(frozen=True)
class Differs(Condition):
    """The field is set and differs from ``value`` (NULL never matches, as in SQL)."""

    field: str
    value: Any

    def holds(self, service: Service) -> bool:
        current = getattr(service, self.field)
        return current is not None and current != self.value

    def q(self) -> Q:
        return Q(**{f"{self.field}__isnull": False}) & ~Q(**{self.field: self.value})


@dataclass(frozen=True)
class Before(Condition):
    """The date field is set and earlier than ``moment``."""

    field: str
    moment: dt.datetime

    def holds(self, service: Service) -> bool:
        value = getattr(service, self.field)
        return value is not None and value < self.moment

    def q(self) -> Q:
        return Q(**{f"{self.field}__lt": self.moment})


@dataclass(frozen=True)
class After(Condition):
    """The date field is set and later than ``moment``."""

    field: str
    moment: dt.datetime

    def holds(self, service: Service) -> bool:
        value = getattr(service, self.field)
        return value is not None and value > self.moment

    def q(self) -> Q:
        return Q(**{f"{self.field}__gt": self.moment})


@dataclass(frozen=True)
class SameAs(Condition):
    """Two fields are both set and equal."""

    field: str
    other: str

    def holds(self, service: Service) -> bool:
        value = getattr(service, self.field)
        return value is not None and value == getattr(service, self.other)

    def q(self) -> Q:
        return Q(**{self.field: F(self.other)})


@dataclass(frozen=True)
class LimitPassed(Condition):
    """``limit`` is set and ``count + extra`` goes past it (a maximum of renewals)."""

    limit: str
    count: str
    extra: int

    def holds(self, service: Service) -> bool:
        limit = getattr(service, self.limit)
        return limit is not None and limit < getattr(service, self.count) + self.extra

    def q(self) -> Q:
        return Q(
            **{f"{self.limit}__isnull": False, f"{self.limit}__lt": F(self.count) + self.extra}
        )


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, service: Service) -> bool:
        return all(part.holds(service) for part in self.parts)

    def q(self) -> Q:
        combined = Q()
        for part in self.parts:
            combined &= part.q()
        return combined


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, service: Service) -> bool:
        return any(part.holds(service) for part in self.parts)

    def q(self) -> Q:
        combined = Q()
        for part in self.parts:
            combined |= part.q()
        return combined


@dataclass(frozen=True)
class HeldAfter(Condition):
    """Staff agreed with the customer not to suspend or terminate the service until after
    ``moment``: the service's own ``hold_until``, or its customer's, is later.

    Read in memory, the customer's hold costs a query unless the customer was loaded with
    the service; the rule book asks it only of the automation.
    """

    moment: dt.datetime

    def holds(self, service: Service) -> bool:
        return any(
            hold is not None and hold > self.moment
            for hold in (service.hold_until, service.customer.hold_until)
        )

    def q(self) -> Q:
        return Q(hold_until__gt=self.moment) | Q(customer__hold_until__gt=self.moment)
