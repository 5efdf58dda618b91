"""The keyset paginator's rows statement: compiled once, per connection, and giving the rows
as ``QuerySet.values`` does (services.pagination.RowsStatement)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from services.choices import ServiceStatus
from services.filters import ordering_for
from services.models import Service
from services.pagination import KeysetPaginator, _statements, order_expressions
from services.views.admin_list import LIST_FIELDS
from tests.factories import FakeServerFactory, ProductFactory, ServiceFactory


@pytest.fixture
def compiled(monkeypatch):
    """The SQL each compiler writes, in order."""
    written: list[str] = []
    as_sql = SQLCompiler.as_sql

    def record(self, *args, **kwargs):
        sql, params = as_sql(self, *args, **kwargs)
        written.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", record)
    return written


def _statements_among(sql: list[str]) -> list[str]:
    """The rows statements among compiled SQL (the keys' subquery is in them as a mark)."""
    return [text for text in sql if "the keys of the page" in text]


def test_the_rows_statement_is_compiled_once_and_then_only_the_keys(db, compiled):
    ServiceFactory.create_batch(5)
    # Columns of their own, so that no other test has compiled this statement already.
    columns = ("id", "name", "price")
    paginator = KeysetPaginator(Service.objects.all(), ["-price", "-id"], 2, columns=columns)

    first = paginator.page()
    assert len(compiled) == 2
    assert len(_statements_among(compiled)) == 1

    compiled.clear()
    paginator.page(first.next_cursor)
    assert len(compiled) == 1
    assert _statements_among(compiled) == []
    assert "LIMIT 3" in compiled[0]


def test_each_ordering_and_direction_has_its_own_statement(db, compiled):
    ServiceFactory.create_batch(5)
    columns = ("id", "name", "created_at")
    by_name = KeysetPaginator(Service.objects.all(), ["name", "id"], 2, columns=columns)
    by_date = KeysetPaginator(Service.objects.all(), ["-created_at", "-id"], 2, columns=columns)

    second = by_name.page(by_name.page().next_cursor)
    by_name.page(second.previous_cursor)  # walks backwards: the reverse order
    by_date.page()
    statements = _statements_among(compiled)

    # Each orders by the columns' positions in its SELECT: id 1, name 2, created_at 3.
    assert [text.rsplit(" ORDER BY ", 1)[1] for text in statements] == [
        "2 ASC, 1 ASC",
        "2 DESC, 1 DESC",
        "3 DESC, 1 DESC",
    ]


def test_the_rows_are_those_values_gives_with_their_types(db):
    """Dates, amounts and uuids come back converted as the ORM converts them, whatever the
    database (SQLite returns text for some of them)."""
    now = timezone.now()
    product = ProductFactory()
    for n in range(4):
        ServiceFactory(
            product=product if n % 2 else None,
            server=FakeServerFactory() if n % 3 else None,
            price=Decimal("9.99") * n,
            expires_at=None if n == 1 else now + timedelta(days=n),
            cancel_at=now if n == 2 else None,
            status=[ServiceStatus.ACTIVE, ServiceStatus.PENDING][n % 2],
        )
    ordering = ordering_for("expires")

    rows = KeysetPaginator(Service.objects.all(), ordering, 10, columns=LIST_FIELDS).page().rows

    expected = list(
        Service.objects.values(*LIST_FIELDS).order_by(*order_expressions(Service, ordering))
    )
    assert rows == expected
    assert [type(row["price"]) for row in rows] == [Decimal] * 4
    assert [list(row) for row in rows] == [list(LIST_FIELDS)] * 4


def test_a_filter_nothing_can_match_asks_the_database_nothing(db, django_assert_num_queries):
    ServiceFactory()
    paginator = KeysetPaginator(
        Service.objects.filter(pk__in=[]), ordering_for("-id"), 25, columns=LIST_FIELDS
    )

    with django_assert_num_queries(0):
        page = paginator.page()

    assert (page.rows, page.has_next, page.has_previous) == ([], False, False)


@pytest.mark.django_db(transaction=True)
def test_each_connection_compiles_its_own_statement():
    """A compiled statement holds its connection: another thread (another connection)
    never uses it, and gets the same rows from its own."""
    ServiceFactory.create_batch(3)
    columns = ("id", "name", "status")
    ordering = ["status", "id"]
    here = [
        row["id"]
        for row in KeysetPaginator(Service.objects.all(), ordering, 5, columns=columns).page().rows
    ]
    there: dict[str, object] = {}

    def other_thread() -> None:
        from django.db import connections as own_connections

        own = own_connections["default"]
        try:
            page = KeysetPaginator(Service.objects.all(), ordering, 5, columns=columns).page()
            there["ids"] = [row["id"] for row in page.rows]
            there["statement"] = next(
                statement.compiler.connection
                for key, statement in _statements[own].items()
                if key[1] == columns
            )
            there["connection"] = own
        finally:
            own.close()

    connection = connections["default"]
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert there["ids"] == here
    assert there["connection"] is not connection
    assert there["statement"] is there["connection"]
    mine = [s for key, s in _statements[connection].items() if key[1] == columns]
    assert [statement.compiler.connection for statement in mine] == [connection]
