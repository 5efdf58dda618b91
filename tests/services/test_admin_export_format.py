"""The export's exact format, its query count and that it decrypts nothing.

The expected bytes and cells below were taken from the django-import-export export (the
``ServiceResource`` that ``services.export`` replaced) run on these same services, so that
the faster export writes what the old one wrote: dates in local time to the second,
prices with the language's decimal separator, raw status and cycle values, empty cells
for missing values, formula prefixes quoted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from services.choices import ServiceStatus
from services.models import Service
from tests.factories import CustomerFactory, FakeServerFactory, ProductFactory, ServiceFactory
from tests.services.test_admin_export import URL, csv_rows, xlsx_rows

UTC = dt.UTC

EXPECTED_CSV = (
    b"\xef\xbb\xbfid,uuid,name,customer_name,customer_email,product,server,module,status,"
    b"price,initial_price,currency,billing_cycle,expires_at,max_renewals,renewal_count,"
    b"created_at\r\n"
    b'{b},99999999-8888-4777-8666-555555555555,"\'+Custom, ""quoted""\nline",\'@Corp,'
    b"'-ops@example.com,,,manual,pending,7.00,9.99,USD,monthly,,,0,2025-06-01 00:00:00\r\n"
    b"{a},11111111-2222-4333-8444-555555555555,Game server,Zo\xc3\xa9 Dubois,zoe@example.com,"
    b"Minecraft 4 GB,EU-1,test,suspended,1234.50,0.00,EUR,annually,2031-02-03 04:05:06,12,3,"
    b"2024-12-31 23:59:59\r\n"
)


@pytest.fixture
def pinned(db):
    """Two services covering every kind of cell: a full one, and one of empty values and
    formula prefixes (a custom service: no product, no server)."""
    full = ServiceFactory(
        uuid=uuid.UUID("11111111-2222-4333-8444-555555555555"),
        name="Game server",
        customer=CustomerFactory(
            first_name="Zoé", last_name="Dubois", user__email="zoe@example.com"
        ),
        product=ProductFactory(name="Minecraft 4 GB", module="test"),
        server=FakeServerFactory(name="EU-1"),  # credentials {"api_key": "secret-api-key-123"}
        status=ServiceStatus.SUSPENDED,
        price=Decimal("1234.50"),
        initial_price=Decimal("0.00"),
        currency="EUR",
        billing_cycle="annually",
        expires_at=dt.datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC),
        max_renewals=12,
        renewal_count=3,
        created_at=dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    custom = ServiceFactory(
        uuid=uuid.UUID("99999999-8888-4777-8666-555555555555"),
        name='+Custom, "quoted"\nline',
        customer=CustomerFactory(first_name="", last_name="@Corp", user__email="-ops@example.com"),
        product=None,
        module="manual",
        server=None,
        status=ServiceStatus.PENDING,
        price=Decimal("7"),
        initial_price=Decimal("9.99"),
        currency="USD",
        billing_cycle="monthly",
        expires_at=None,
        max_renewals=None,
        renewal_count=0,
        created_at=dt.datetime(2025, 6, 1, 0, 0, 0, tzinfo=UTC),
    )
    return full, custom


def test_the_csv_is_byte_for_byte_the_old_export(client, admin_user, pinned):
    full, custom = pinned
    client.force_login(admin_user)

    response = client.get(URL, {"format": "csv"})

    body = b"".join(response.streaming_content)
    expected = EXPECTED_CSV.replace(b"{a}", str(full.pk).encode())
    assert body == expected.replace(b"{b}", str(custom.pk).encode())


def test_prices_take_the_decimal_separator_of_the_staff_members_language(
    client, admin_user, pinned
):
    client.force_login(admin_user)

    rows = csv_rows(client.get(URL, {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="fr"))

    assert [(row[9], row[10]) for row in rows[1:]] == [("7,00", "9,99"), ("1234,50", "0,00")]


def test_dates_are_in_the_current_time_zone(client, admin_user, pinned, settings):
    settings.TIME_ZONE = "Europe/Paris"
    client.force_login(admin_user)

    rows = csv_rows(client.get(URL, {"format": "csv"}))

    assert rows[2][13] == "2031-02-03 05:05:06"  # 04:05:06 UTC, winter time in Paris
    assert rows[1][16] == "2025-06-01 02:00:00"  # midnight UTC, summer time


def test_the_xlsx_has_the_old_exports_cells(client, admin_user, pinned):
    full, custom = pinned
    client.force_login(admin_user)

    rows = xlsx_rows(client.get(URL, {"format": "xlsx"}))

    assert rows[1:] == [
        [custom.pk, "99999999-8888-4777-8666-555555555555", '\'+Custom, "quoted"\nline',
         "'@Corp", "'-ops@example.com", None, None, "manual", "pending", 7, 9.99, "USD",
         "monthly", None, None, 0, dt.datetime(2025, 6, 1, 0, 0)],
        [full.pk, "11111111-2222-4333-8444-555555555555", "Game server", "Zoé Dubois",
         "zoe@example.com", "Minecraft 4 GB", "EU-1", "test", "suspended", 1234.5, 0, "EUR",
         "annually", dt.datetime(2031, 2, 3, 4, 5, 6, 789000), 12, 3,
         dt.datetime(2024, 12, 31, 23, 59, 59)],
    ]  # fmt: skip


def test_the_export_follows_the_search(client, admin_user, pinned):
    full, _ = pinned
    client.force_login(admin_user)

    rows = csv_rows(client.get(URL, {"format": "csv", "q": "Dubois"}))

    assert [row[0] for row in rows[1:]] == [str(full.pk)]


# Queries and decryption ----------------------------------------------------------------------


@contextmanager
def recorded_sql() -> Iterator[list[str]]:
    """Every statement run in the block (the test client empties ``connection.queries``)."""
    statements: list[str] = []

    def record(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def export_statements(client, count: int) -> list[str]:
    ServiceFactory.create_batch(count, server=FakeServerFactory())
    with recorded_sql() as statements:
        response = client.get(URL, {"format": "csv", "status": "pending", "sort": "-price"})
        rows = csv_rows(response)
    assert len(rows) == Service.objects.count() + 1
    return statements


@pytest.mark.parametrize("chunk_size", [3, 5_000])
def test_the_csv_export_runs_the_same_queries_whatever_the_number_of_rows(
    client, admin_user, monkeypatch, chunk_size
):
    """Rows are fetched in chunks from one query: more rows, or smaller chunks, add none."""
    monkeypatch.setattr("services.export.CSV_CHUNK_SIZE", chunk_size)
    client.force_login(admin_user)

    few = export_statements(client, 2)
    many = export_statements(client, 23)

    # User (the session is read from the cache), and the rows (the rest is the savepoint
    # around the rows' cursor).
    assert len(few) == len(many) == 4
    assert sum('FROM "services_service"' in sql for sql in many) == 1


def test_the_rows_query_reads_only_the_exported_columns(client, admin_user, pinned):
    client.force_login(admin_user)

    with recorded_sql() as statements:
        csv_rows(client.get(URL, {"format": "csv"}))

    (rows_sql,) = [sql for sql in statements if 'FROM "services_service"' in sql]
    for column in ("credentials", "module_data", "external_id", "notes", "password"):
        assert column not in rows_sql


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_no_server_credential_is_decrypted(client, admin_user, pinned, export_format):
    client.force_login(admin_user)
    with mock.patch("delivery.fields.decrypt", wraps=lambda token: "{}") as decrypt:
        Service.objects.select_related("server").get(pk=pinned[0].pk)  # loading one does
        assert decrypt.call_count == 1
        decrypt.reset_mock()

        response = client.get(URL, {"format": export_format})
        rows = csv_rows(response) if export_format == "csv" else xlsx_rows(response)

    assert rows[2][6] == "EU-1"  # the server's name is read, its credentials are not
    decrypt.assert_not_called()
