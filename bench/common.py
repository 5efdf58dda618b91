"""What every benchmark shares: the PostgreSQL database, the seed data and the timing.

Benchmarks are scripts, not tests: they run against a real PostgreSQL filled with
``manage.py seed_demo`` and print figures for ``docs/performance.md``. Each bench module
in this folder defines ``run(context)``; ``bench/run.py`` finds and runs them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"


@dataclass(frozen=True)
class BenchContext:
    """What ``run.py`` hands every bench module."""

    runs: int
    services: int
    customers: int


def configure_django() -> None:
    """Point Django at the bench database (created if missing) and set it up."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientxcms.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # The test client's host, besides the defaults.
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("The benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    create_database_if_missing(os.environ["DATABASE_URL"])

    import django

    django.setup()


def create_database_if_missing(url: str) -> None:
    """CREATE DATABASE for ``url`` unless it exists, through the server's ``postgres`` DB."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    params: dict[str, Any] = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"Created database {config['NAME']}.")


def prepare_data(context: BenchContext) -> None:
    """Migrate, and seed the bench rows once: a second run reuses them."""
    from django.core.management import call_command
    from django.db import connection

    from services.models import Service

    call_command("migrate", verbosity=0)
    missing = context.services - Service.objects.count()
    if missing > 0:
        customers = max(context.customers * missing // context.services, 1)
        print(f"Seeding {missing:,} services and {customers:,} customers...")
        call_command("seed_demo", services=missing, customers=customers)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"{Service.objects.count():,} services in the database.\n")


def production_env() -> dict[str, str]:
    """The environment of a bench child process with production settings (``DEBUG`` off).

    It keeps this process's keys: with ``DEBUG`` on and no ``FIELD_ENCRYPTION_KEY``, the
    field key is derived from ``SECRET_KEY`` (``delivery.crypto``), and the child must
    read the server credentials this process wrote.
    """
    from django.conf import settings

    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return {
        "DJANGO_SETTINGS_MODULE": "clientxcms.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": ",".join(keys),
        "LOG_LEVEL": "WARNING",
    }


def bench_superuser() -> Any:
    """The staff member the list benchmarks sign in as (superuser: no permission queries)."""
    from customers.models import User

    user = User.objects.filter(email="bench-admin@example.com").first()
    return user or User.objects.create_superuser("bench-admin@example.com", None)


def median_ms(function: Callable[[], object], runs: int) -> float:
    """The median wall time of ``function`` in milliseconds, after one warm-up call."""
    function()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


@contextmanager
def captured_sql() -> Iterator[list[tuple[str, Any]]]:
    """Record the (sql, params) of every query run inside the block.

    An execute wrapper rather than ``CaptureQueriesContext``: a request made with the test
    client empties ``connection.queries`` when it starts, and so that context sees nothing.
    """
    from django.db import connection

    queries: list[tuple[str, Any]] = []

    def record(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield queries


def raw_sql_ms(queries: list[tuple[str, Any]], runs: int) -> float:
    """The median time of running ``queries`` again on a bare cursor, fetching every row."""
    from django.db import connection

    def run_all() -> None:
        with connection.cursor() as cursor:
            for sql, params in queries:
                cursor.execute(sql, params)
                if cursor.description:
                    cursor.fetchall()

    return median_ms(run_all, runs)


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, ready to paste into docs/performance.md."""
    print(f"### {title}\n")
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
