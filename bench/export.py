"""The CSV export at scale: rows per second and memory, against the old export and ``COPY``.

Three ways to write the same columns of the same rows (every service, newest first, as
``/admin/services/export/?format=csv`` with no filter):

* **ours**: the export view through Django's test client (the whole request, streamed:
  ``services.export.csv_chunks``, ``values_list`` over a server-side cursor), over every
  service, then over the newest ``SLICE`` of them (the same function on a sliced queryset);
* **old**: the export this replaced (django-import-export's ``ServiceResource``, one model
  instance with four joined ones per row, each server's credentials decrypted, each cell
  formatted by the library's widgets), kept here as it was, on the newest ``OLD_SLICE``
  services: at ~4,000 rows/s a million would take minutes;
* **COPY**: PostgreSQL writing the CSV of the same ``SELECT`` itself
  (``COPY (...) TO STDOUT WITH (FORMAT csv)``), read by psycopg: the floor.

Each figure is the median of ``RUNS`` runs. Memory is the growth of the process's peak
resident set during one run (``VmHWM`` of ``/proc/self/status``, reset before the run by
writing 5 to ``/proc/self/clear_refs``), so that it is measured in the timed run itself;
and, on the slices, the peak of Python's allocations (``tracemalloc``, in a run of its own
because tracing slows everything down).
"""

from __future__ import annotations

import csv
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import common

URL = "/admin/services/export/"
SLICE = 100_000
OLD_SLICE = 20_000
RUNS = 3


@dataclass(frozen=True)
class Figure:
    label: str
    rows: int
    seconds: float
    #: Growth of the peak resident set during the run, in MiB (None where /proc is not there).
    rss_mib: float | None
    #: Peak of Python's allocations in a traced run, in MiB (None: not traced).
    traced_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


# Resident memory ----------------------------------------------------------------------------


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> int | None:
    """Reset the peak resident set to the current one; return the current one (KiB)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_kib("VmRSS")


def timed(label: str, rows: int, write: Callable[[], int], runs: int = RUNS) -> Figure:
    """The median of ``runs`` runs of ``write`` (which returns the rows it wrote)."""
    seconds, growth = [], []
    write()  # warms the caches (PostgreSQL's buffers, the OS's)
    for _ in range(runs):
        before = _reset_peak()
        started = time.perf_counter()
        written = write()
        seconds.append(time.perf_counter() - started)
        peak = _status_kib("VmHWM")
        if before is not None and peak is not None:
            growth.append((peak - before) / 1024)
        if written != rows:
            raise SystemExit(f"{label}: {written:,} rows written, {rows:,} expected")
    rss = statistics.median(growth) if growth else None
    return Figure(label, rows, statistics.median(seconds), rss)


def traced_mib(write: Callable[[], int]) -> float:
    """The peak of Python's allocations during one run of ``write``, in MiB."""
    tracemalloc.start()
    try:
        write()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# The three ways -----------------------------------------------------------------------------


def _count_lines(chunks: Iterable[bytes | str]) -> int:
    """Rows in a CSV stream (a record ends with CRLF; a newline inside a value is LF)."""
    lines = 0
    for chunk in chunks:
        lines += chunk.count(b"\r\n") if isinstance(chunk, bytes) else chunk.count("\r\n")
    return lines - 1  # the header


def ours_http(client: Any) -> int:
    response = client.get(URL, {"format": "csv"})
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"The export answered {response.status_code}")
    try:
        return _count_lines(response.streaming_content)
    finally:
        response.close()


def ours_slice(size: int) -> int:
    from services.export import csv_chunks
    from services.models import Service

    return _count_lines(csv_chunks(Service.objects.all()[:size]))


class _Echo:
    def write(self, value: str) -> str:
        return value


def old_resource() -> Any:
    """The ``ServiceResource`` of the old export (``services/resources.py``), as it was."""
    from import_export import fields, resources

    from services.export import FORMULA_PREFIXES, HEADERS
    from services.models import Service

    class ServiceResource(resources.ModelResource):
        customer_name = fields.Field(column_name="customer_name")
        customer_email = fields.Field(
            attribute="customer__user__email", column_name="customer_email"
        )
        product = fields.Field(attribute="product__name", column_name="product")
        server = fields.Field(attribute="server__name", column_name="server")

        class Meta:
            model = Service
            fields = HEADERS
            export_order = HEADERS

        def dehydrate_customer_name(self, service: Service) -> str:
            return service.customer.full_name

        def export_field(self, field: Any, instance: Service, **kwargs: Any) -> Any:
            value = super().export_field(field, instance, **kwargs)
            if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                return "'" + value
            return value

    return ServiceResource()


def old_stream(size: int) -> Iterator[str]:
    """The old ``stream_csv`` of the newest ``size`` services, as it was."""
    from services.models import Service

    resource = old_resource()
    queryset = Service.objects.select_related("customer__user", "product", "server")[:size]
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(resource.get_export_headers())
    for service in queryset.iterator(chunk_size=2_000):
        yield writer.writerow(resource.export_resource(service))


def copy_csv(size: int | None) -> int:
    """PostgreSQL's own CSV of the same SELECT (the export's query), read whole."""
    from django.db import connection

    from services.export import export_rows
    from services.models import Service

    queryset = Service.objects.all()
    rows = export_rows(queryset if size is None else queryset[:size])
    sql, params = rows.query.sql_with_params()
    lines = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                lines += bytes(block).count(b"\n")
    return lines


# The bench ----------------------------------------------------------------------------------


def measure(total: int, runs: int) -> list[Figure]:
    from django.test import Client

    client = Client()
    client.force_login(common.bench_superuser())
    figures = [timed(f"ours, every service (HTTP), {total:,}", total, lambda: ours_http(client))]
    figures.append(timed(f"COPY ... TO STDOUT, {total:,}", total, lambda: copy_csv(None), runs))
    size = min(SLICE, total)
    ours = timed(f"ours, newest {size:,}", size, lambda: ours_slice(size), runs)
    figures.append(replace(ours, traced_mib=traced_mib(lambda: ours_slice(size))))
    figures.append(timed(f"COPY ... TO STDOUT, {size:,}", size, lambda: copy_csv(size), runs))
    old_size = min(OLD_SLICE, total)
    small = timed(f"ours, newest {old_size:,}", old_size, lambda: ours_slice(old_size), runs)
    figures.append(replace(small, traced_mib=traced_mib(lambda: ours_slice(old_size))))
    old = timed(
        f"old (django-import-export), newest {old_size:,}",
        old_size,
        lambda: _count_lines(old_stream(old_size)),
        runs,
    )
    old_traced = traced_mib(lambda: _count_lines(old_stream(old_size)))
    figures.append(replace(old, traced_mib=old_traced))
    return figures


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def run(context: common.BenchContext) -> None:
    from services.models import Service

    total = Service.objects.count()
    runs = min(context.runs, RUNS)
    figures = measure(total, runs)
    by_label = {figure.label: figure for figure in figures}
    size, old_size = min(SLICE, total), min(OLD_SLICE, total)
    compared = {
        f"ours, every service (HTTP), {total:,}": (f"COPY ... TO STDOUT, {total:,}", None),
        f"ours, newest {size:,}": (f"COPY ... TO STDOUT, {size:,}", None),
        f"ours, newest {old_size:,}": (None, f"old (django-import-export), newest {old_size:,}"),
    }
    rows = []
    for figure in figures:
        copy_label, old_label = compared.get(figure.label, (None, None))
        vs_copy = f"{figure.rate / by_label[copy_label].rate:.2f}" if copy_label else ""
        vs_old = f"{figure.rate / by_label[old_label].rate:.1f}×" if old_label else ""
        goal = ""
        if figure.label.startswith("ours"):
            goal = "yes" if figure.rate >= 50_000 else "**no**"
        rows.append(
            [
                figure.label,
                f"{figure.rows:,}",
                f"{figure.seconds:.2f}",
                f"{figure.rate:,.0f}",
                vs_copy,
                vs_old,
                _mib(figure.rss_mib),
                _mib(figure.traced_mib),
                goal,
            ]
        )
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    common.print_table(
        f"CSV export, {total:,} services, median of {runs} runs (load average {load})",
        ["export", "rows", "s", "rows/s", "vs COPY", "vs old", "peak RSS growth MiB",
         "Python peak MiB (traced)", "≥ 50,000 rows/s"],
        rows,
    )  # fmt: skip
