"""Many new rows of one model in one statement: ``COPY`` on PostgreSQL.

``bulk_create`` writes an ``INSERT … SELECT FROM UNNEST`` of one array per column on
PostgreSQL, which the driver dumps element by element in Python (quoting every string),
or, elsewhere, an ``INSERT … VALUES`` of thousands of parameters, which the driver parses
in Python. A batch's 500 renewal invoices of 28 columns took 5 s of the 10,000 of a sweep
that way, then 1 s by ``COPY`` (bench/sweeps.py); a bulk suspend's 500 history rows took
twice as long to insert by ``bulk_create`` (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import nullcontext
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper

#: Parameters per INSERT statement where there is no COPY: under SQLite's 32,766.
INSERT_PARAMETERS = 30_000


def insert_rows(
    model: type[models.Model],
    rows: list[Any],
    *,
    keyed: bool = False,
    same: Collection[str] = (),
) -> None:
    """Insert ``rows``, new instances of ``model``, each value prepared as ``save()``
    prepares it; ``keyed``: each row is given its primary key. The fields named in
    ``same`` have the same value in every row: prepared once.

    On PostgreSQL, one ``COPY`` (the keys taken from the table's sequence first);
    elsewhere, ``INSERT … VALUES (…), (…)`` returning the keys in the rows' order, as
    ``bulk_create`` relies on SQLite to return them.
    """
    if not rows:
        return
    db = connections[router.db_for_write(model)]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    first = rows[0]
    prepare = [
        _constant(field.get_db_prep_save(field.pre_save(first, True), db))
        if field.name in same
        else _preparer(field, db)
        for field in fields
    ]
    values = [[column(row) for column in prepare] for row in rows]
    quote = db.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    assert pk is not None
    columns = [quote(field.column) for field in fields]
    if db.vendor == "postgresql":
        if keyed:
            with db.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [model._meta.db_table, pk.column, len(rows)],
                )
                keys = sorted(key for (key,) in cursor.fetchall())
            for row, key, prepared in zip(rows, keys, values, strict=True):
                row.pk = key
                prepared.insert(0, key)
            columns.insert(0, quote(pk.column))
        _copy(db, f"COPY {table} ({', '.join(columns)}) FROM STDIN", values)
    else:
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        returning = f" RETURNING {quote(pk.column)}" if keyed else ""
        keys = _insert_values(db, head, values, returning)
        if keyed:
            for row, (key,) in zip(rows, keys, strict=True):
                row.pk = key
    for row in rows:
        row._state.adding = False
        row._state.db = db.alias


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda row: value


def _preparer(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    """How ``save()`` prepares ``field``'s value of a row; a string of a plain text field
    as it is (what its preparation comes to, in a fraction of the time)."""
    if type(field) in (models.CharField, models.TextField):
        name = field.attname

        def text(row: Any) -> Any:
            value = getattr(row, name)
            return value if isinstance(value, str) else field.get_db_prep_save(value, db)

        return text
    return lambda row: field.get_db_prep_save(field.pre_save(row, True), db)


def _copy(db: BaseDatabaseWrapper, sql: str, values: list[list[Any]]) -> None:
    """``COPY … FROM STDIN`` of ``values`` through the driver, its errors Django's, and
    logged as a query where queries are (the tests' counts, ``DEBUG``)."""
    db.validate_no_broken_transaction()
    with db.cursor() as cursor:
        logged = cursor.debug_sql(sql) if isinstance(cursor, CursorDebugWrapper) else nullcontext()
        with logged, db.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for prepared in values:
                copy.write_row(prepared)


def _insert_values(
    db: BaseDatabaseWrapper, head: str, values: list[list[Any]], returning: str
) -> list[tuple[Any, ...]]:
    """``INSERT … VALUES (…), (…)`` of ``values``, ``INSERT_PARAMETERS`` at most a
    statement; what ``returning`` returns of each row, in order."""
    row = "(" + ", ".join(["%s"] * len(values[0])) + ")"
    per_statement = max(1, INSERT_PARAMETERS // len(values[0]))
    found: list[tuple[Any, ...]] = []
    with db.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            params = [value for prepared in chunk for value in prepared]
            cursor.execute(head + ", ".join([row] * len(chunk)) + returning, params)
            if returning:
                found += cursor.fetchall()
    return found
