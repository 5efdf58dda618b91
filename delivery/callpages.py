"""Keyset pages of the module call log, newest first (DESIGN.md, "Data and scale").

The log is the fastest-growing table of the panel: every call to a panel adds a row.
``OFFSET`` would make page 1,000 read and drop 50,000 rows and a page count would scan
them all, so a page starts after the last row of the page before instead:
``WHERE (created_at, id) < (its created_at, its id) ORDER BY created_at DESC, id DESC``,
which the indexes on ``created_at`` (and on ``server``/``service_ref`` with it) serve.
Pages are walked (first, previous, next); the cursor carries the page number shown.

The services list has a general keyset paginator (``services/pagination.py``), but
delivery sits below services (DESIGN.md §3); this one knows one fixed ordering only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import ModuleCall

NEXT, PREVIOUS = "n", "p"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: The most page numbers a cursor may carry: far beyond any walk, and a small integer.
_MAX_NUMBER = 10**9


class InvalidCursor(ValueError):
    """A cursor this module did not make."""


@dataclass(frozen=True)
class CallPage:
    """One page of calls; what ``{% keyset_pages %}`` (``clientxcms.links``) reads."""

    rows: list[ModuleCall]
    number: int
    has_previous: bool
    has_next: bool
    previous_cursor: str | None
    next_cursor: str | None


def _encode(direction: str, number: int, call: ModuleCall) -> str:
    micros = (call.created_at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{direction}.{number}.{micros}.{call.pk}"


def _decode(cursor: str) -> tuple[str, int, dt.datetime, int]:
    parts = cursor.split(".")
    if len(parts) != 4 or parts[0] not in (NEXT, PREVIOUS):
        raise InvalidCursor(cursor)
    try:
        number, micros, pk = (int(part) for part in parts[1:])
        moment = _EPOCH + dt.timedelta(microseconds=micros)
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor(cursor) from exc
    if not (1 <= number <= _MAX_NUMBER and 1 <= pk < 2**63):
        raise InvalidCursor(cursor)
    return parts[0], number, moment, pk


def call_page(queryset: QuerySet[ModuleCall], cursor: str | None, per_page: int) -> CallPage:
    """The first page of ``queryset``, or the page ``cursor`` (from a page link) names."""
    if not cursor:
        rows = list(queryset.order_by("-created_at", "-id")[: per_page + 1])
        more = len(rows) > per_page
        return _build(rows[:per_page], 1, has_previous=False, has_next=more)
    direction, number, moment, pk = _decode(cursor)
    if direction == NEXT:
        older = Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk)
        rows = list(queryset.filter(older).order_by("-created_at", "-id")[: per_page + 1])
        more = len(rows) > per_page
        return _build(rows[:per_page], number, has_previous=True, has_next=more)
    newer = Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk)
    rows = list(queryset.filter(newer).order_by("created_at", "id")[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page][::-1]
    return _build(rows, max(number, 2) if more else 1, has_previous=more, has_next=True)


def _build(rows: list[ModuleCall], number: int, *, has_previous: bool, has_next: bool) -> CallPage:
    return CallPage(
        rows=rows,
        number=number,
        has_previous=has_previous and bool(rows),
        has_next=has_next and bool(rows),
        previous_cursor=_encode(PREVIOUS, number - 1, rows[0]) if has_previous and rows else None,
        next_cursor=_encode(NEXT, number + 1, rows[-1]) if has_next and rows else None,
    )
