"""What every benchmark shares: the PostgreSQL database, the seed data and the timing.

Benchmarks are scripts, not tests: they run against a real PostgreSQL filled with
``manage.py seed_demo`` and print figures for ``docs/performance.md``. Each bench module
in this folder defines ``run(context)``; ``bench/run.py`` finds and runs them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
#: The figures of a bench measured at two sizes (a dataclass of its module).
F = TypeVar("F")


@dataclass(frozen=True)
class BenchContext:
    """What ``run.py`` hands every bench module."""

    runs: int
    services: int
    customers: int


#: The key ``clientxcms/settings.py`` falls back to with ``DEBUG`` on. The bench runs with
#: ``DEBUG`` off, which needs a key: this one unless ``SECRET_KEY`` is set, so that a bench
#: database seeded by an earlier bench (``DEBUG`` on) still decrypts its servers' credentials.
BENCH_SECRET_KEY = "insecure-development-key-do-not-use-in-production"


def production_env() -> dict[str, str]:
    """The environment of the bench's processes: production settings (``DEBUG`` off).

    ``configure_django`` applies it to this process, and child processes (the sweeps'
    child, the Celery workers of the bulk benches) inherit it or are given it. With
    ``DEBUG`` off the settings need a ``SECRET_KEY`` and a ``FIELD_ENCRYPTION_KEY``: those
    set in the environment, else ``BENCH_SECRET_KEY`` and the field key that
    ``delivery.crypto`` derives from the secret key when none is set (``DEBUG`` on), so that
    the credentials written by any bench, then or now, decrypt in every process.
    """
    secret = os.environ.get("SECRET_KEY") or BENCH_SECRET_KEY
    keys = os.environ.get("FIELD_ENCRYPTION_KEY")
    if not keys:
        digest = hashlib.sha256(f"field-encryption:{secret}".encode()).digest()
        keys = base64.urlsafe_b64encode(digest).decode()
    return {
        "DJANGO_SETTINGS_MODULE": "clientxcms.settings",
        "DEBUG": "false",
        "SECRET_KEY": secret,
        "FIELD_ENCRYPTION_KEY": keys,
        "LOG_LEVEL": "WARNING",
        # The test client's host, besides the defaults.
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS") or "testserver,127.0.0.1,localhost",
    }


def configure_django() -> None:
    """Point Django at the bench database (created if missing), production settings, set up.

    The settings are ``bench.settings``: production's (``production_env``: ``DEBUG`` off,
    so cached templates and no query log) plus Django's admin app, which
    ``bench/list_views.py`` compares the service list with. ``DEBUG`` is forced off even
    if the caller's environment turns it on: figures taken with it on are not production's.
    """
    sys.path.insert(0, str(ROOT))
    os.environ.update(production_env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("The benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    create_database_if_missing(os.environ["DATABASE_URL"])

    import django

    django.setup()
    collect_static()


def collect_static() -> None:
    """Collect the static files into ``bench.settings.STATIC_ROOT`` when they changed.

    Production's manifest storage renders ``{% static %}`` from the manifest that
    ``collectstatic`` writes; the bench collects into a folder of its own (``var/``), again
    only when a source file is newer than the manifest.
    """
    from django.conf import settings
    from django.core.management import call_command

    manifest = Path(settings.STATIC_ROOT or "staticfiles") / "staticfiles.json"
    if manifest.exists():
        sources = [Path(folder) for folder in settings.STATICFILES_DIRS]
        newest = max(
            (f.stat().st_mtime for folder in sources for f in folder.rglob("*") if f.is_file()),
            default=0.0,
        )
        if newest <= manifest.stat().st_mtime:
            return
    call_command("collectstatic", interactive=False, verbosity=0)


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
        # As autovacuum would between two days: the statistics, and the GIN indexes'
        # pending lists merged (migration services/0012 keeps new rows out of them).
        cursor.execute("VACUUM ANALYZE")
    print(f"{Service.objects.count():,} services in the database.\n")


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


# Benches measured at two sizes, each in a child process with production settings -------


def figures_of_child(module: str, url: str, services: int, customers: int, runs: int) -> Any:
    """Run ``python -m bench.<module>`` on the database ``url`` with production settings
    (``child_main`` there seeds it if needed and measures); the figures it wrote, as JSON."""
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "figures.json"
        sizes = ["--services", str(services), "--customers", str(customers)]
        command = [sys.executable, "-m", f"bench.{module}", *sizes, "--runs", str(runs)]
        command += ["--results", str(results)]
        env = {**os.environ, **production_env(), "DATABASE_URL": url}
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        return json.loads(results.read_text())


def at_two_sizes(
    context: BenchContext,
    *,
    module: str,
    prefix: str,
    load: Callable[[Any], F],
    compare: Callable[[F, F], None],
) -> None:
    """Measure ``module`` on ``DATABASE_URL`` at the context's size, then, when
    ``<prefix>_LARGE_DATABASE_URL`` names another database, at a million services (or
    ``<prefix>_LARGE_SERVICES``/``_CUSTOMERS``) there, and ``compare`` the two."""
    small_url = os.environ["DATABASE_URL"]
    sizes = (context.services, context.customers, context.runs)
    small = load(figures_of_child(module, small_url, *sizes))
    large_url = os.environ.get(f"{prefix}_LARGE_DATABASE_URL", "")
    if not large_url or large_url == small_url:
        print(f"{module}: set {prefix}_LARGE_DATABASE_URL to measure a million services too.\n")
        return
    services = int(os.environ.get(f"{prefix}_LARGE_SERVICES", "1000000"))
    customers = int(os.environ.get(f"{prefix}_LARGE_CUSTOMERS", "50000"))
    large = load(figures_of_child(module, large_url, services, customers, context.runs))
    compare(small, large)


def child_main(
    description: str | None,
    measure: Callable[[BenchContext], Any],
    print_figures: Callable[[Any, int], None],
) -> None:
    """The child of ``at_two_sizes``: seed if needed, measure, print, and write the figures
    (a dataclass) for the parent."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--services", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    configure_django()
    context = BenchContext(runs=args.runs, services=args.services, customers=args.customers)
    prepare_data(context)
    figures = measure(context)
    print_figures(figures, args.runs)
    args.results.write_text(json.dumps(asdict(figures)))
