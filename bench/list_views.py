"""The staff service list at scale: first page, a filtered page, searches, page 1,000.

For each case: the median server time of the whole request (Django's test client, signed
in as a superuser, so middleware, session, view and template are all counted), the number
of queries, and the ratio of that time to the same SQL run again on a bare cursor, which
shows how much of the time is the database and how much is Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import common

PAGE = 1_000
TARGET_MS = 100.0


@dataclass(frozen=True)
class Case:
    label: str
    params: dict[str, str]


def cases() -> list[Case]:
    from customers.models import Customer
    from services.filters import DEFAULT_SORT, ordering_for
    from services.models import Service
    from services.pagination import KeysetPaginator
    from services.views.admin_list import LIST_RELATED, PAGE_SIZES

    per_page = PAGE_SIZES[0]
    queryset = Service.objects.select_related(*LIST_RELATED)
    ordering = ordering_for(DEFAULT_SORT)
    # The last row of page 999, found once with an OFFSET (not timed), gives the cursor
    # that the "Next" link of page 999 would carry.
    row = queryset.order_by(*ordering)[(PAGE - 1) * per_page - 1]
    cursor = KeysetPaginator(queryset, ordering, per_page).cursor_for(row, number=PAGE)
    someone = (
        Customer.objects.filter(user__email__startswith="bench-", services__isnull=False)
        .select_related("user")
        .order_by("id")[100]
    )
    return [
        Case("first page", {}),
        Case(
            "filtered: active, monthly, expiring within 30 days, by expiration",
            {"status": "active", "cycle": "monthly", "expires_within": "30", "sort": "expires"},
        ),
        Case("search: a common last name (Dubois)", {"q": "Dubois"}),
        Case("search: one customer's e-mail", {"q": someone.user.email}),
        Case("search: a word nothing matches", {"q": "zzyzx"}),
        Case(f"page {PAGE:,} (keyset cursor)", {"cursor": cursor}),
        Case("sorted by customer name (no index on the join)", {"sort": "customer"}),
    ]


def measure(client: Any, case: Case, runs: int) -> list[str]:
    url = "/admin/services/"
    response = client.get(url, case.params)  # warms the caches (tab counts, templates)
    if response.status_code != 200:
        raise SystemExit(f"{case.label}: HTTP {response.status_code}")
    rows = response.content.count(b'data-service="')
    with common.captured_sql() as queries:
        client.get(url, case.params)
    server = common.median_ms(lambda: client.get(url, case.params), runs)
    database = common.raw_sql_ms(queries, runs)
    verdict = "yes" if server < TARGET_MS else "**no**"
    return [
        case.label,
        f"{server:.1f}",
        str(len(queries)),
        f"{database:.1f}",
        f"{server / database:.1f}×",
        str(rows),
        verdict,
    ]


def run(context: common.BenchContext) -> None:
    from django.test import Client

    from services.models import Service
    from services.stats import status_counts

    client = Client()
    client.force_login(common.bench_superuser())
    total = Service.objects.count()
    table = [measure(client, case, context.runs) for case in cases()]
    common.print_table(
        f"Service list, {total:,} services, median of {context.runs} runs",
        ["case", "server ms", "queries", "same SQL ms", "server / SQL", "rows", "< 100 ms"],
        table,
    )
    counts = common.median_ms(status_counts, context.runs)
    print(f"Status tab counts (GROUP BY status, cached 30 s between views): {counts:.1f} ms\n")
