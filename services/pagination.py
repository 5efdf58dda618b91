"""Keyset pagination: pages that cost the same at row 25 and at row 1,000,000.

``OFFSET n`` makes the database produce and throw away ``n`` rows, and a page count needs
a ``COUNT(*)`` of everything that matches; both grow with the table (DESIGN.md, "Data and
scale"). A keyset page instead starts *after* the last row of the page before, by
comparing the sort columns: ``WHERE (sort, id) > (last sort value, last id)``, and fetches
``per_page + 1`` rows to learn whether another page follows. The price is that pages are
reached by walking (first, previous, next) rather than by number; the number shown is
carried in the cursor.

Nullable sort columns sort last in both directions, so that the comparisons below know
where the nulls are; the last ordering field must be the primary key, which makes the
order total and the cursor exact.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy, RawSQL
from django.db.models.sql.compiler import SQLCompiler

NEXT, PREVIOUS = "n", "p"


class InvalidCursor(ValueError):
    """A cursor that was not made by this paginator, or that no longer fits the ordering."""


@dataclass(frozen=True)
class OrderKey:
    """One column of the ordering: ``customer__last_name`` or ``-expires_at``."""

    path: str
    descending: bool
    nullable: bool
    field: models.Field

    @classmethod
    def parse(cls, model: type[models.Model], spec: str) -> OrderKey:
        path = spec.removeprefix("-")
        field, nullable = _resolve(model, path)
        return cls(path=path, descending=spec.startswith("-"), nullable=nullable, field=field)

    def order_by(self, *, reverse: bool = False) -> OrderBy:
        descending = self.descending != reverse
        nulls: dict[str, bool] = {}
        if self.nullable:
            # Nulls last in the page's order, hence first when walking backwards. Only
            # for nullable columns: PostgreSQL will not read an index backwards for
            # "id DESC NULLS LAST", even though id is never null.
            nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        expression = F(self.path)
        return expression.desc(**nulls) if descending else expression.asc(**nulls)

    def equal(self, value: Any) -> Q:
        if value is None:
            return Q(**{f"{self.path}__isnull": True})
        return Q(**{self.path: value})

    def beyond(self, value: Any, *, forward: bool) -> Q | None:
        """Rows strictly past ``value`` on this column, or None when there can be none."""
        if value is None:
            # Nulls are last: nothing follows them; every non-null precedes them.
            return None if forward else Q(**{f"{self.path}__isnull": False})
        lookup = "gt" if forward != self.descending else "lt"
        condition = Q(**{f"{self.path}__{lookup}": value})
        if forward and self.nullable:
            condition |= Q(**{f"{self.path}__isnull": True})
        return condition


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    number: int
    per_page: int
    has_previous: bool
    has_next: bool
    previous_cursor: str | None
    next_cursor: str | None

    @property
    def start_index(self) -> int:
        """The position of the first row, counting from 1 (0 for an empty page)."""
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)


class KeysetPaginator:
    """Pages of ``queryset`` in ``ordering``, whose last field must be ``id`` or ``-id``;
    each row a dict of ``columns`` (``QuerySet.values``), which hold the ordering's fields.

    A page is one query in two parts: the subquery picks the page's primary keys from
    ``queryset`` (its filters, and the joins its ordering needs), and the row's columns
    are read by those keys, joined to what they name. Joined in one level, PostgreSQL
    sized its join caches (``Memoize``) for every row of the table rather than the page's
    26, which cost 1.5 ms at a million services; the page's joins now see 26 rows.

    Only the subquery changes from page to page: the rest of the statement is compiled
    once per ordering and connection (``RowsStatement``).
    """

    def __init__(
        self, queryset: QuerySet, ordering: Sequence[str], per_page: int, *, columns: Sequence[str]
    ) -> None:
        if not ordering or ordering[-1].removeprefix("-") not in {"id", "pk"}:
            raise ValueError("A keyset ordering must end with the primary key.")
        self.keys = [OrderKey.parse(queryset.model, spec) for spec in ordering]
        missing = {key.path for key in self.keys} - set(columns)
        if missing:
            raise ValueError(f"The rows must hold the ordering's fields: {sorted(missing)}.")
        self.queryset = queryset
        self.columns = tuple(columns)
        self.per_page = per_page

    def page(self, cursor: str | None = None) -> KeysetPage:
        """The first page, or the page a cursor from a previous page points to."""
        if not cursor:
            rows = self._fetch(self.queryset, reverse=False)
            return self._build(rows, number=1, has_previous=False, has_next=self._more(rows))
        direction, number, values = self._decode(cursor)
        forward = direction == NEXT
        rows = self._fetch(self.queryset.filter(self._after(values, forward=forward)), not forward)
        more = self._more(rows)
        if forward:
            return self._build(rows, number=number, has_previous=True, has_next=more)
        rows.reverse()
        if not more:  # walked back to the start of the list
            number = 1
        return self._build(rows, number=number, has_previous=more, has_next=True)

    def _fetch(self, queryset: QuerySet, reverse: bool) -> list[Any]:
        ordering = [key.order_by(reverse=reverse) for key in self.keys]
        keys = queryset.order_by(*ordering).values("pk")[: self.per_page + 1]
        try:
            keys_sql, keys_params = keys.query.get_compiler(keys.db).as_sql()
        except EmptyResultSet:  # a filter no row can match (``status__in=[]``)
            return []
        statement = _rows_statement(
            self.queryset.model, self.columns, self.keys, reverse, connections[keys.db]
        )
        return statement.fetch(keys_sql, keys_params)

    def _more(self, rows: list[Any]) -> bool:
        """Whether a row was fetched past the page, dropping it (it is only a look-ahead)."""
        if len(rows) > self.per_page:
            del rows[self.per_page :]
            return True
        return False

    def _build(
        self, rows: list[Any], *, number: int, has_previous: bool, has_next: bool
    ) -> KeysetPage:
        return KeysetPage(
            rows=rows,
            number=number,
            per_page=self.per_page,
            has_previous=has_previous,
            has_next=has_next,
            previous_cursor=self._encode(PREVIOUS, number - 1, rows[0])
            if has_previous and rows
            else None,
            next_cursor=self._encode(NEXT, number + 1, rows[-1]) if has_next and rows else None,
        )

    def _after(self, values: list[Any], *, forward: bool) -> Q:
        """Rows past the cursor's row, in lexicographic order of the keys."""
        condition = Q(pk__in=[])
        equal_so_far = Q()
        for key, value in zip(self.keys, values, strict=True):
            beyond = key.beyond(value, forward=forward)
            if beyond is not None:
                condition |= equal_so_far & beyond
            equal_so_far &= key.equal(value)
        return condition

    def cursor_for(self, row: dict[str, Any], *, number: int) -> str:
        """A cursor to the page that follows ``row``, numbered ``number`` (used by the bench)."""
        return self._encode(NEXT, number, row)

    def _encode(self, direction: str, number: int, row: dict[str, Any]) -> str:
        values = [_to_json(row[key.path]) for key in self.keys]
        raw = json.dumps([direction, number, values], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode(self, cursor: str) -> tuple[str, int, list[Any]]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            direction, number, values = json.loads(raw)
            if direction not in {NEXT, PREVIOUS} or not isinstance(number, int) or number < 1:
                raise InvalidCursor(cursor)
            if len(values) != len(self.keys):
                raise InvalidCursor(cursor)
            values = [
                None if value is None else key.field.to_python(value)
                for key, value in zip(self.keys, values, strict=True)
            ]
        except (binascii.Error, ValueError, TypeError, ValidationError) as exc:
            raise InvalidCursor(cursor) from exc
        return direction, number, values


#: Stands for the keys' subquery in a compiled ``RowsStatement``, which is cut around it.
_KEYS_MARK = "SELECT NULL /* the keys of the page */"


class RowsStatement:
    """A page's statement without its keys: the columns of the rows whose keys a subquery
    picks, in the page's order, compiled once and kept for every page after.

    Compiling it took one instruction in sixteen of a page of the staff list (0.5 to 0.7
    ms at a million services): sixteen columns over four joins, ordered, for the same SQL
    every time. The subquery, which holds the filters and the cursor, is compiled per page and
    put in the mark's place. The rows come back through the compiler's own converters, as
    ``QuerySet.values`` would give them.
    """

    def __init__(self, rows: QuerySet, ordering: list[OrderBy]) -> None:
        query = rows.filter(pk__in=RawSQL(_KEYS_MARK, ())).order_by(*ordering).query
        self.compiler: SQLCompiler = query.get_compiler(rows.db)
        sql, params = self.compiler.as_sql()
        if params or sql.count(_KEYS_MARK) != 1:
            raise ValueError("The rows' statement must take no parameters but its keys.")
        self.before, self.after = sql.split(_KEYS_MARK)
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]

    def fetch(self, keys_sql: str, keys_params: Sequence[Any]) -> list[dict[str, Any]]:
        """The rows whose keys ``keys_sql`` selects, each as a dict of the columns."""
        with self.compiler.connection.cursor() as cursor:
            cursor.execute(f"{self.before}{keys_sql}{self.after}", keys_params)
            found = cursor.fetchall()
        names = self.names
        rows = self.compiler.results_iter(results=[found])
        return [dict(zip(names, row, strict=True)) for row in rows]


#: Per connection (a thread's own, as Django keeps them), each statement by what it reads.
_statements: weakref.WeakKeyDictionary[
    BaseDatabaseWrapper, dict[tuple[Any, ...], RowsStatement]
] = weakref.WeakKeyDictionary()


def _rows_statement(
    model: type[models.Model],
    columns: tuple[str, ...],
    keys: Sequence[OrderKey],
    reverse: bool,
    connection: BaseDatabaseWrapper,
) -> RowsStatement:
    """The statement of ``columns`` of ``model`` in the order of ``keys`` (walked
    backwards if ``reverse``) on ``connection``, compiled the first time it is asked for."""
    key = (model, columns, tuple(keys), reverse)
    statements = _statements.setdefault(connection, {})
    statement = statements.get(key)
    if statement is None:
        rows = model._default_manager.using(connection.alias).values(*columns)
        ordering = [order_key.order_by(reverse=reverse) for order_key in keys]
        statement = statements[key] = RowsStatement(rows, ordering)
    return statement


def order_expressions(model: type[models.Model], ordering: Sequence[str]) -> list[OrderBy]:
    """``ordering`` as the paginator orders it (nulls last), for querysets outside it."""
    return [OrderKey.parse(model, spec).order_by() for spec in ordering]


def _resolve(model: type[models.Model], path: str) -> tuple[models.Field, bool]:
    """The field at the end of ``path`` and whether it can be null on the way there."""
    nullable = False
    field: Any = None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            if part != "pk":
                raise
            field = model._meta.pk
        nullable = nullable or field.null
        if field.is_relation:
            model = field.related_model
            field = model._meta.pk
    return field, nullable


def _to_json(value: Any) -> Any:
    """Exact JSON for a sort value (DjangoJSONEncoder would round datetimes to milliseconds)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value
