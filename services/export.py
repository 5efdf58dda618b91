"""What the service list exports to CSV and XLSX: its columns, and the rows as plain values.

The columns are an allow-list: a field added to ``Service`` later is not exported until
someone adds it here on purpose. Nothing secret is reachable from these columns: no server
credentials, no module data, no external ids, no staff notes.

The rows are read with ``values_list`` over exactly the exported columns (the joins to
customer, user, product and server included), never as model instances: a ``Server``
instance decrypts its credentials when it is loaded (``delivery.fields``), which cost a
Fernet decryption per row and put every server's plaintext credentials in memory for an
export that never shows them. Formatting is done here, once per column kind, rather than
per cell through django-import-export's widgets (4,372 rows/s at a million services with
the library; docs/performance.md, "Export").

CSV is streamed from a server-side cursor in chunks of ``CSV_CHUNK_SIZE`` rows, so memory
does not depend on the number of rows. XLSX is built whole in memory by tablib (through
django-import-export's format), so it is capped at ``XLSX_MAX_ROWS``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any
from uuid import UUID

import tablib
from django.db import connections, transaction
from django.db.models import CharField, DateTimeField, F, Func, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import formats, timezone
from import_export.formats.base_formats import XLSX

from .models import Service

#: The XLSX workbook is built whole in memory: above this many services, CSV.
XLSX_MAX_ROWS = 50_000
#: Rows fetched per round trip from the server-side cursor, and written per response chunk.
CSV_CHUNK_SIZE = 5_000

#: The header row of both formats, in order.
HEADERS = (
    "id",
    "uuid",
    "name",
    "customer_name",
    "customer_email",
    "product",
    "server",
    "module",
    "status",
    "price",
    "initial_price",
    "currency",
    "billing_cycle",
    "expires_at",
    "max_renewals",
    "renewal_count",
    "created_at",
)

#: What is selected, in this order: the header's columns, with the customer's name as its
#: two parts (joined in Python: ``Customer.full_name``).
FIELDS = (
    "id",
    "uuid",
    "name",
    "customer__first_name",
    "customer__last_name",
    "customer__user__email",
    "product__name",
    "server__name",
    "module",
    "status",
    "price",
    "initial_price",
    "currency",
    "billing_cycle",
    "expires_at",
    "max_renewals",
    "renewal_count",
    "created_at",
)

#: A cell starting with one of these is a formula to a spreadsheet; customers choose their
#: own names, so a name like "=HYPERLINK(...)" must arrive as text (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: The date format of both the old export (django-import-export's first
#: ``DATETIME_INPUT_FORMATS``) and this one: local time, to the second, no zone.
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Row = tuple[Any, ...]


def export_rows(queryset: QuerySet[Service], *, text_dates: str = "") -> QuerySet[Service, Row]:
    """``queryset`` (filtered and ordered as the list is) as tuples of ``FIELDS`` only.

    Any ``select_related`` of the caller is dropped by ``values_list``: only the exported
    columns are read, so the servers' encrypted credentials never leave the database.

    With ``text_dates`` (a time zone's name; PostgreSQL only) the two dates come as the
    export's text, written by PostgreSQL in that zone (``to_char``), and the uuid as text:
    reading a ``timestamptz`` into a Python ``datetime`` (Django's loader, in Python) and
    formatting it again was half the export's time.
    """
    if not text_dates:
        return queryset.values_list(*FIELDS)
    as_text = {
        "uuid": Cast("uuid", output_field=CharField()),
        "expires_at": _local_text("expires_at", text_dates),
        "created_at": _local_text("created_at", text_dates),
    }
    return queryset.values_list(*(as_text.get(field, field) for field in FIELDS))


def _local_text(field: str, zone: str) -> Func:
    """``field`` as "YYYY-MM-DD HH:MM:SS" in ``zone`` (``DATETIME_FORMAT``), by PostgreSQL."""
    local = Func(Value(zone), F(field), function="timezone", output_field=DateTimeField())
    return Func(local, Value("YYYY-MM-DD HH24:MI:SS"), function="to_char", output_field=CharField())


def as_text(value: str | None) -> str | None:
    """A text cell, with a formula prefix neutralised by a leading quote."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_row_maker() -> Callable[[Row], tuple[Any, ...]]:
    """A function making one CSV row of one ``export_rows`` tuple, for the active request.

    The active language's decimal separator and the current time zone are read once here,
    in the request (the old export rendered prices with ``number_format``: "8,00" for a
    French staff member, "8.00" in English; dates in local time).
    """
    separator = formats.get_format("DECIMAL_SEPARATOR")
    zone = timezone.get_current_timezone()

    def stamp(value: dt.datetime | str | None) -> str | None:
        if value is None or isinstance(value, str):  # None, or written by PostgreSQL
            return value
        return value.astimezone(zone).strftime(DATETIME_FORMAT)

    def money(value: Decimal) -> str:
        return str(value) if separator == "." else str(value).replace(".", separator)

    def make(row: Row) -> tuple[Any, ...]:
        (pk, uuid, name, first, last, email, product, server, module, status, price,
         initial, currency, cycle, expires, max_renewals, renewals, created) = row  # fmt: skip
        # csv.writer writes None as an empty cell and calls str() on ints and UUIDs.
        return (
            pk,
            uuid,
            as_text(name),
            as_text(f"{first} {last}".strip()),
            as_text(email),
            as_text(product),
            as_text(server),
            as_text(module),
            status,
            money(price),
            money(initial),
            as_text(currency),
            cycle,
            stamp(expires),
            max_renewals,
            renewals,
            stamp(created),
        )

    return make


def csv_chunks(queryset: QuerySet[Service], chunk_size: int | None = None) -> Iterator[str]:
    """The CSV of ``queryset``: a BOM (so that Excel reads UTF-8), the header, the rows.

    Each chunk is the CSV of up to ``chunk_size`` (``CSV_CHUNK_SIZE``) rows, written by
    one ``writerows`` call. The rows come from a server-side cursor (``iterator``) inside
    a transaction of their own: outside a transaction Django declares the cursor ``WITH
    HOLD``, and PostgreSQL then materialises the whole result before the first row is sent.

    Called in the request (the language and the time zone are read now); the rows are read
    when the response is iterated.
    """
    make_row = _csv_row_maker()
    postgresql = connections[queryset.db].vendor == "postgresql"
    zone = timezone.get_current_timezone_name() if postgresql else ""
    rows = export_rows(queryset, text_dates=zone)
    size = chunk_size or CSV_CHUNK_SIZE

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(HEADERS)
        yield "\ufeff" + buffer.getvalue()
        with transaction.atomic():
            iterator = rows.iterator(chunk_size=size)
            while batch := list(islice(iterator, size)):
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(map(make_row, batch))
                yield buffer.getvalue()

    return chunks()


def xlsx_bytes(queryset: QuerySet[Service]) -> bytes:
    """The XLSX workbook of ``queryset`` (at most ``XLSX_MAX_ROWS``: built whole in memory).

    Native cell types, as the old export wrote them: numbers stay numbers, dates are dates
    in local time without a zone (Excel has none), an empty value is an empty cell.
    """
    zone = timezone.get_current_timezone()

    def local(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(zone).replace(tzinfo=None)

    def text(value: str | None) -> str | None:
        return None if value is None else as_text(value)

    dataset = tablib.Dataset(headers=list(HEADERS))
    for row in export_rows(queryset).iterator(chunk_size=CSV_CHUNK_SIZE):
        (pk, uuid, name, first, last, email, product, server, module, status, price,
         initial, currency, cycle, expires, max_renewals, renewals, created) = row  # fmt: skip
        dataset.append(
            (
                pk,
                str(uuid) if isinstance(uuid, UUID) else uuid,
                text(name),
                text(f"{first} {last}".strip()),
                text(email),
                text(product),
                text(server),
                text(module),
                status,
                price,
                initial,
                text(currency),
                cycle,
                local(expires),
                max_renewals,
                renewals,
                local(created),
            )
        )
    return XLSX().export_data(dataset)


def xlsx_content_type() -> str:
    return XLSX().get_content_type()
