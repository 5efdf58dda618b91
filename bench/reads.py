"""What staff read at a million services: the search, its bulk confirmation, the dashboard
and the status counts (issue 15, goals 2, 3 and 6).

Every figure is printed beside what it is compared with, measured in the same run:

* **Search** (``/admin/services/?q=``): a common last name, a word nothing matches, one
  customer's e-mail, a service name (a custom service's, no product) and a product name.
  The whole request through Django's test client, signed in as a superuser; beside it the
  same request with the search as it was before issue 15 (``_search_before``, a copy of
  the old ``services.filters.search_services``, patched in for the measure): four
  ``UPPER(x) LIKE '%term%'`` over customers and users in an ``OR`` across their join,
  run up to three times (probe, page, count). Same indexes for both. A page whose
  "N matching" comes in a second request (``fragment=matching``) has that request timed
  beside it; the old search's page is timed with it, as it counted in one request then.
* **Bulk confirmation** of "suspend every service matching" each search (the POST that
  shows what would change and be skipped), beside the same with the old search. A
  selection of more than ``services.bulk.COUNTED_AT_ONCE`` services shows "more than"
  at once and asks for its figures in a second request: that one's time beside it.
* **Dashboard** (``/admin/``): the request, each of its queries again on a bare cursor
  with ``EXPLAIN (ANALYZE, BUFFERS)`` (the index read and the rows of
  ``services_service`` read), and, beside it, the old "expiring soon" query (one query
  over both statuses). At two sizes, the figures side by side.
* **Status counts**: ``services.stats.status_counts`` (the counts the database keeps)
  beside the ``GROUP BY status`` over every service it replaces; then the same right after
  10,000 services moved from active to suspended (one ``UPDATE``, rolled back): the counts
  still equal the ``GROUP BY``, and their cost with the rows that move added.

Measured in a child process with production settings (``DEBUG`` off), the median of
``--runs``. ``DATABASE_URL`` is the first size (``--services``, 100,000 by default);
``READS_LARGE_DATABASE_URL`` (for example ``postgres://postgres@127.0.0.1:5432/bench_1m``)
the second, seeded once with ``READS_LARGE_SERVICES`` (1,000,000) services and
``READS_LARGE_CUSTOMERS`` (50,000) customers. Alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
    READS_LARGE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m \\
      .venv/bin/python bench/run.py --only reads
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/reads.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

SEARCH_TARGET_MS = 40.0
#: In a list page whose "N matching" comes in a second request.
DEFERRED = b"fragment=matching"
CONFIRM_TARGET_MS = 60.0
DASHBOARD_TARGET_MS = 40.0
COUNTS_TARGET_MS = 5.0
#: Services moved from active to suspended to show the counts right after a bulk change.
MOVED = 10_000


@dataclass
class Query:
    """One query of a request, run again alone: its time and what its plan read."""

    sql: str
    ms: float
    plan: str
    service_rows: int


@dataclass
class Figures:
    services: int
    customers: int
    load: str
    search: list[dict[str, Any]] = field(default_factory=list)
    confirm: list[dict[str, Any]] = field(default_factory=list)
    dashboard: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)


# The search as it was before issue 15 ------------------------------------------------------


def _search_before(queryset: Any, term: str) -> Any:
    """``services.filters.search_services`` before issue 15, word for word (the bench's
    comparison): the customer match is an ``OR`` across customers and users, probed with
    a cap, then written into the page and the count again as a subquery."""
    from django.db.models import Q

    from clientxcms.text import clean_search_term
    from customers.models import Customer
    from products.models import Product
    from services.filters import parse_identifier
    from services.models import Service

    selective = 1_000
    term = clean_search_term(term)
    if not term:
        return queryset
    identifier = parse_identifier(term)
    if isinstance(identifier, uuid.UUID):
        return queryset.filter(uuid=identifier)
    if identifier is not None and Service.objects.filter(pk=identifier).exists():
        return queryset.filter(pk=identifier)
    if "@" in term:
        customers = Customer.objects.filter(user__email__icontains=term)
        return queryset.filter(customer__in=customers.values("pk"))
    customers = Customer.objects.all()
    for word in term.split():
        customers = customers.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company__icontains=word)
            | Q(user__email__icontains=word)
        )
    product_ids = list(Product.objects.filter(name__icontains=term).values_list("pk", flat=True))
    customer_ids = list(customers.order_by().values_list("pk", flat=True)[: selective + 1])
    if product_ids or len(customer_ids) > selective:
        return queryset.filter(
            Q(customer__in=customers.values("pk"))
            | Q(product__in=product_ids)
            | Q(name__icontains=term)
        )
    by_customer = Service.objects.filter(customer__in=customer_ids).order_by().values("pk")
    by_name = Service.objects.filter(name__icontains=term).order_by().values("pk")
    return queryset.filter(pk__in=by_customer.union(by_name))


@contextmanager
def _old_search() -> Iterator[None]:
    import services.filters

    current = services.filters.search_services
    services.filters.search_services = _search_before
    try:
        yield
    finally:
        services.filters.search_services = current


# Measures --------------------------------------------------------------------------------


def _terms() -> list[tuple[str, str]]:
    from customers.models import Customer

    someone = (
        Customer.objects.filter(user__email__startswith="bench-", services__isnull=False)
        .select_related("user")
        .order_by("id")[100]
    )
    return [
        ("a common last name (Dubois)", "Dubois"),
        ("a word nothing matches", "zzyzx"),
        ("one customer's e-mail", someone.user.email),
        ("a service name (Ryzen, custom services)", "Ryzen"),
        ("a product name (Minecraft)", "Minecraft"),
    ]


def _timed_request(send: Callable[[], Any], runs: int) -> tuple[float, int, Any]:
    """The median ms of ``send``, its number of queries, and one response."""
    response = send()
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}")
    with common.captured_sql() as queries:
        send()
    return common.median_ms(send, runs), len(queries), response


def measure_search(client: Any, runs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from django.http import QueryDict

    from services.filters import filter_services

    user = common.bench_superuser()
    url = "/admin/services/"
    confirm_url = "/admin/services/bulk/"
    search, confirm = [], []
    for label, term in _terms():

        def page(term: str = term) -> Any:
            return client.get(url, {"q": term})

        def counted(term: str = term) -> Any:
            """The count the page defers to a second request (``fragment=matching``)."""
            params = {"q": term, "fragment": "matching", "start": "1", "end": "25"}
            return client.get(url, params, HTTP_HX_REQUEST="true")

        def bulk(term: str = term, **more: str) -> Any:
            query = f"q={term}"
            return client.post(
                confirm_url, {"action": "suspend", "select_all": "on", "query": query, **more}
            )

        def figures(term: str = term) -> Any:
            return bulk(term, fragment="plan", count="1")

        ms, queries, response = _timed_request(page, runs)
        rows = response.content.count(b'data-service="')
        count_ms = _timed_request(counted, runs)[0] if DEFERRED in response.content else None
        with _old_search():
            before_ms, before_queries, response = _timed_request(page, runs)
            if DEFERRED in response.content:
                # The page before issue 15 counted in the same request: its count (one
                # query) was part of its time.
                before_ms += _timed_request(counted, runs)[0]
                before_queries += 1
        search.append(
            {"case": label, "ms": ms, "queries": queries, "rows": rows, "count_ms": count_ms}
            | {"before_ms": before_ms, "before_queries": before_queries}
        )
        ms, queries, response = _timed_request(bulk, runs)
        # A selection the page does not count at once: the figures' own request after it.
        deferred = b'id="bulk-counting"' in response.content
        figures_ms = _timed_request(figures, runs)[0] if deferred else None
        total = filter_services(QueryDict(f"q={term}"), user=user).count()
        with _old_search():
            # The page as it was: every selection counted in the one request.
            before_ms, before_queries, _ = _timed_request(partial(bulk, count="1"), runs)
        confirm.append(
            {"case": label, "ms": ms, "queries": queries, "services": total}
            | {"figures_ms": figures_ms}
            | {"before_ms": before_ms, "before_queries": before_queries}
        )
    return search, confirm


def _explain(sql: str, params: Any) -> tuple[str, int]:
    """The plan of one query (ANALYZE, BUFFERS), cut to its nodes, and the rows of
    ``services_service`` it read (the actual rows of the nodes that scan that table)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        (raw,) = cursor.fetchone()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    read = 0
    nodes = []

    def walk(node: dict[str, Any]) -> None:
        nonlocal read
        if node.get("Relation Name") == "services_service" or (
            node.get("Index Name", "").startswith("service")
            and "Relation Name" in node
            and node["Relation Name"] == "services_service"
        ):
            read += node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        name = node["Node Type"]
        if "Index Name" in node:
            name += f" on {node['Index Name']}"
        elif "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        nodes.append(f"{name} ({node.get('Actual Rows', 0)} rows)")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return "; ".join(nodes), read


def _queries_alone(queries: list[tuple[str, Any]], runs: int) -> list[Query]:
    figures = []
    for sql, params in queries:
        if not sql.lstrip().upper().startswith("SELECT") or "django_session" in sql:
            continue
        ms = common.raw_sql_ms([(sql, params)], runs)
        plan, read = _explain(sql, params)
        figures.append(Query(sql=_short(sql), ms=ms, plan=plan, service_rows=read))
    return figures


def _short(sql: str) -> str:
    """The tables a query reads, to name it in a table."""
    tables = sorted(set(re.findall(r'FROM "(\w+)"', sql)))
    return ", ".join(tables)


def _old_expiring_soon() -> Any:
    """The dashboard's "expiring soon" before issue 15: one query over both statuses."""
    import datetime as dt

    from django.utils import timezone

    from dashboard.views import DASHBOARD_ROWS, EXPIRING_WITHIN
    from services.choices import ServiceStatus
    from services.models import Service

    now = timezone.now()
    return list(
        Service.objects.filter(
            status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED],
            expires_at__gte=now,
            expires_at__lt=now + EXPIRING_WITHIN + dt.timedelta(0),
        )
        .select_related("customer", "product")
        .order_by("expires_at", "id")[:DASHBOARD_ROWS]
    )


def measure_dashboard(client: Any, runs: int) -> dict[str, Any]:
    from dashboard.views import expiring_soon

    ms, count, _ = _timed_request(lambda: client.get("/admin/"), runs)
    with common.captured_sql() as queries:
        client.get("/admin/")
    alone = _queries_alone(queries, runs)
    with common.captured_sql() as before:
        _old_expiring_soon()
    old = _queries_alone(before, runs)[0]
    return {
        "ms": ms,
        "queries": count,
        "alone": [asdict(q) for q in alone],
        "expiring_ms": common.median_ms(expiring_soon, runs),
        "old_expiring_ms": old.ms,
        "old_expiring_rows": old.service_rows,
    }


def measure_counts(runs: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from services.models import Service
    from services.stats import status_counts

    def group_by() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, COUNT(*) FROM services_service GROUP BY status")
            return dict(cursor.fetchall())

    def kept() -> dict[str, int]:
        return {row["status"]: row["count"] for row in status_counts() if row["count"]}

    figures: dict[str, Any] = {
        "ms": common.median_ms(status_counts, runs),
        "group_by_ms": common.median_ms(group_by, runs),
        "right": kept() == group_by(),
    }
    with transaction.atomic():
        active = list(
            Service.objects.filter(status="active").order_by("id").values_list("pk", flat=True)
        )
        moving = active[:: max(len(active) // MOVED, 1)][:MOVED]  # spread over the table
        with connection.cursor() as cursor:
            # The bench moves rows by SQL, as the sweeps' bench does: the triggers count
            # whatever writes the status.
            cursor.execute(
                "UPDATE services_service SET status = 'suspended' WHERE id = ANY(%s)", [moving]
            )
        figures["moved"] = len(moving)
        figures["after_ms"] = common.median_ms(status_counts, runs)
        figures["after_right"] = kept() == group_by()
        transaction.set_rollback(True)
    return figures


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (5 min: {five:.1f})"


def measure(context: common.BenchContext) -> Figures:
    from django.test import Client

    from services.models import Service

    client = Client()
    client.force_login(common.bench_superuser())
    figures = Figures(services=Service.objects.count(), customers=context.customers, load=_load())
    figures.search, figures.confirm = measure_search(client, context.runs)
    figures.dashboard = measure_dashboard(client, context.runs)
    figures.counts = measure_counts(context.runs)
    figures.load += f" → {_load()}"
    return figures


# Tables ----------------------------------------------------------------------------------


def _verdict(ms: float, target: float) -> str:
    return "yes" if ms <= target else "**no**"


def print_figures(f: Figures, runs: int) -> None:
    size = f"{f.services:,} services, median of {runs} runs, load {f.load}"
    common.print_table(
        f"Search, {size}",
        [
            "term",
            "ms",
            "queries",
            "rows",
            "then its count",
            "before issue 15",
            "ratio",
            f"≤ {SEARCH_TARGET_MS:.0f}",
        ],
        [
            [
                r["case"],
                f"{r['ms']:.1f}",
                str(r["queries"]),
                str(r["rows"]),
                "on the page" if r["count_ms"] is None else f"{r['count_ms']:.1f} ms",
                f"{r['before_ms']:.1f} ms, {r['before_queries']} queries",
                f"{r['ms'] / r['before_ms']:.2f}×",
                _verdict(r["ms"], SEARCH_TARGET_MS),
            ]
            for r in f.search
        ],
    )
    common.print_table(
        f"Bulk confirmation (suspend every matching service), {size}",
        [
            "search",
            "ms",
            "queries",
            "services",
            "then its figures",
            "before issue 15",
            "ratio",
            f"≤ {CONFIRM_TARGET_MS:.0f}",
        ],
        [
            [
                r["case"],
                f"{r['ms']:.1f}",
                str(r["queries"]),
                f"{r['services']:,}",
                "counted at once" if r["figures_ms"] is None else f"{r['figures_ms']:.1f} ms",
                f"{r['before_ms']:.1f} ms",
                f"{r['ms'] / r['before_ms']:.2f}×",
                _verdict(r["ms"], CONFIRM_TARGET_MS),
            ]
            for r in f.confirm
        ],
    )
    d = f.dashboard
    print(
        f"Dashboard, {size}: {d['ms']:.1f} ms, {d['queries']} queries "
        f"(≤ {DASHBOARD_TARGET_MS:.0f}: {_verdict(d['ms'], DASHBOARD_TARGET_MS)}). "
        f"Expiring soon: {d['expiring_ms']:.2f} ms against {d['old_expiring_ms']:.2f} ms "
        f"for the query before issue 15, which read {d['old_expiring_rows']:,} services "
        f"({d['expiring_ms'] / d['old_expiring_ms']:.2f}×).\n"
    )
    common.print_table(
        f"Dashboard queries alone, {f.services:,} services",
        ["tables", "ms", "services rows read", "plan"],
        [[q["sql"], f"{q['ms']:.2f}", f"{q['service_rows']:,}", q["plan"]] for q in d["alone"]],
    )
    c = f.counts
    print(
        f"Status counts, {size}: {c['ms']:.2f} ms (≤ {COUNTS_TARGET_MS:.0f}: "
        f"{_verdict(c['ms'], COUNTS_TARGET_MS)}) against {c['group_by_ms']:.1f} ms for the "
        f"GROUP BY over every service ({c['ms'] / c['group_by_ms']:.3f}×), equal: "
        f"{c['right']}. Right after {c['moved']:,} services moved by one UPDATE: "
        f"{c['after_ms']:.2f} ms, equal: {c['after_right']}.\n"
    )


def print_comparison(small: Figures, large: Figures) -> None:
    """The large size beside the small one: what must not grow with the table."""
    sizes = f"{small.services:,} → {large.services:,} services"
    rows = [
        ["dashboard", f"{small.dashboard['ms']:.1f} → {large.dashboard['ms']:.1f} ms"],
        ["status counts", f"{small.counts['ms']:.2f} → {large.counts['ms']:.2f} ms"],
    ]
    rows += [
        [f"search: {a['case']}", f"{a['ms']:.1f} → {b['ms']:.1f} ms"]
        for a, b in zip(small.search, large.search, strict=True)
    ]
    rows += [
        [f"bulk confirmation: {a['case']}", f"{a['ms']:.1f} → {b['ms']:.1f} ms"]
        for a, b in zip(small.confirm, large.confirm, strict=True)
    ]
    common.print_table(
        f"Reads, {sizes}",
        ["read", "time", "ratio"],
        [[*row, f"{_ms(row[1], 1) / _ms(row[1], 0):.2f}×"] for row in rows],
    )


def _ms(text: str, index: int) -> float:
    return float(text.removesuffix(" ms").split(" → ")[index])


# The processes -------------------------------------------------------------------------


def run(context: common.BenchContext) -> None:
    common.at_two_sizes(
        context,
        module="reads",
        prefix="READS",
        load=lambda data: Figures(**data),
        compare=print_comparison,
    )


def main() -> None:
    """The child: seed if needed, measure, print, and write the figures for the parent."""
    common.child_main(__doc__, measure, print_figures)


if __name__ == "__main__":
    main()
