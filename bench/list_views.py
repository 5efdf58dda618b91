"""The staff service list at scale, and beside it Django's admin changelist (the anchor).

Two tables. The first, for each case (first page, a filtered page, searches, page 1,000, a
sort): the median server time of the whole request (Django's test client, signed in as a
superuser, so middleware, session, view and template are all counted), the number of
queries, and the ratio of that time to the same SQL run again on a bare cursor, which
shows how much of the time is the database and how much is Python.

The second is the anchor (issue 15, goal 1): the same ``Service`` rows registered in
Django's own admin (``bench/admin_urls.py``: list columns, status/recurrence/product
filters, search over the customer's e-mail and names, the service's and the product's
name, ``list_select_related``) and each case asked of both, in the same run, one request
of each in turn so that both see the same load: first page, a status filter, search by
e-mail, by a common last name, by a word nothing matches, page 1,000. Each row prints the
ratio ours / admin and whether it meets the goal (at most 1/10 of the admin's time, 1/20
for a search), and whether both pages showed the same services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import common

PAGE = 1_000
TARGET_MS = 100.0
LIST_URL = "/admin/services/"
#: The goals of the anchor: our time at most this share of the admin's.
GOAL_PAGE = 1 / 10
GOAL_SEARCH = 1 / 20
#: The admin's requests of one case stop after this many seconds (at least ``ADMIN_MIN_RUNS``
#: of them): at a million services a search of the admin takes seconds.
ADMIN_BUDGET_S = 30.0
ADMIN_MIN_RUNS = 5


@dataclass(frozen=True)
class Case:
    label: str
    params: dict[str, str]


def cases() -> list[Case]:
    from customers.models import Customer
    from services.filters import DEFAULT_SORT, ordering_for
    from services.models import Service
    from services.pagination import KeysetPaginator
    from services.views.admin_list import LIST_FIELDS, PAGE_SIZES

    per_page = PAGE_SIZES[0]
    queryset = Service.objects.values(*LIST_FIELDS)
    ordering = ordering_for(DEFAULT_SORT)
    # The last row of page 999, found once with an OFFSET (not timed), gives the cursor
    # that the "Next" link of page 999 would carry.
    row = queryset.order_by(*ordering)[(PAGE - 1) * per_page - 1]
    paginator = KeysetPaginator(queryset, ordering, per_page, columns=LIST_FIELDS)
    cursor = paginator.cursor_for(row, number=PAGE)
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
    url = LIST_URL
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
    from django.test.utils import override_settings

    from services.models import Service
    from services.stats import status_counts

    client = Client()
    client.force_login(common.bench_superuser())
    total = Service.objects.count()
    # Both lists are served by the bench's URLs (the project's, plus Django's admin).
    with override_settings(ROOT_URLCONF="bench.admin_urls"):
        table = [measure(client, case, context.runs) for case in cases()]
        common.print_table(
            f"Service list, {total:,} services, median of {context.runs} runs",
            ["case", "server ms", "queries", "same SQL ms", "server / SQL", "rows", "< 100 ms"],
            table,
        )
        counts = common.median_ms(status_counts, context.runs)
        print(f"Status tab counts (services.stats, kept by the database): {counts:.1f} ms\n")
        anchor(client, total, context.runs)


# The anchor: the same rows in Django's admin ---------------------------------------------


@dataclass(frozen=True)
class AnchorCase:
    label: str
    ours: dict[str, str]
    admin: dict[str, str]
    search: bool = False

    @property
    def goal(self) -> float:
        return GOAL_SEARCH if self.search else GOAL_PAGE


@dataclass(frozen=True)
class Side:
    """One list's answer to one case: its median time, queries and the services shown."""

    ms: float
    runs: int
    queries: int
    ids: list[int]


def anchor_cases() -> list[AnchorCase]:
    """The six cases of the issue, each as the project's list and the admin ask for it."""
    from customers.models import Customer
    from services.filters import DEFAULT_SORT, ordering_for
    from services.models import Service
    from services.pagination import KeysetPaginator
    from services.views.admin_list import LIST_FIELDS, PAGE_SIZES

    per_page = PAGE_SIZES[0]
    queryset = Service.objects.values(*LIST_FIELDS)
    ordering = ordering_for(DEFAULT_SORT)
    row = queryset.order_by(*ordering)[(PAGE - 1) * per_page - 1]
    paginator = KeysetPaginator(queryset, ordering, per_page, columns=LIST_FIELDS)
    cursor = paginator.cursor_for(row, number=PAGE)
    someone = (
        Customer.objects.filter(user__email__startswith="bench-", services__isnull=False)
        .select_related("user")
        .order_by("id")[100]
    )
    email = someone.user.email
    return [
        AnchorCase("first page", {}, {}),
        AnchorCase("status filter: active", {"status": "active"}, {"status__exact": "active"}),
        AnchorCase("search: one customer's e-mail", {"q": email}, {"q": email}, search=True),
        AnchorCase("search: a common last name (Dubois)", {"q": "Dubois"}, {"q": "Dubois"}, True),
        AnchorCase("search: a word nothing matches", {"q": "zzyzx"}, {"q": "zzyzx"}, True),
        AnchorCase(f"page {PAGE:,}", {"cursor": cursor}, {"p": str(PAGE)}),
    ]


def _shown(content: bytes, marker: bytes) -> list[int]:
    """The service ids a page shows, each after ``marker`` (ours: the row's data
    attribute; the admin's: its action checkbox)."""
    ids = []
    for part in content.split(marker)[1:]:
        ids.append(int(part[: part.index(b'"')]))
    return ids


def measure_anchor(client: Any, case: AnchorCase, runs: int) -> tuple[Side, Side]:
    """Both lists' answers to ``case``: one request of each in turn, then the medians."""
    import statistics
    import time

    from bench.admin_urls import PREFIX

    admin_url = f"/{PREFIX}services/service/"
    sides = {
        "ours": (LIST_URL, case.ours, b'data-service="'),
        "admin": (admin_url, case.admin, b'name="_selected_action" value="'),
    }
    shown: dict[str, list[int]] = {}
    queries: dict[str, int] = {}
    for name, (url, params, marker) in sides.items():
        response = client.get(url, params)  # warms caches and templates; checks the page
        if response.status_code != 200:
            raise SystemExit(f"{case.label}, {name}: HTTP {response.status_code}")
        shown[name] = _shown(response.content, marker)
        with common.captured_sql() as captured:
            client.get(url, params)
        queries[name] = len(captured)
    timings: dict[str, list[float]] = {"ours": [], "admin": []}
    for _ in range(runs):
        for name, (url, params, _marker) in sides.items():
            admin_runs, admin_s = len(timings["admin"]), sum(timings["admin"]) / 1000
            if name == "admin" and admin_runs >= ADMIN_MIN_RUNS and admin_s > ADMIN_BUDGET_S:
                continue
            started = time.perf_counter()
            client.get(url, params)
            timings[name].append((time.perf_counter() - started) * 1000)
    ours, admin = (
        Side(statistics.median(timings[n]), len(timings[n]), queries[n], shown[n])
        for n in ("ours", "admin")
    )
    return ours, admin


def anchor(client: Any, total: int, runs: int) -> None:
    """Print the anchor table: the project's list beside Django's admin changelist."""
    import os

    rows = []
    met_all = True
    for case in anchor_cases():
        ours, admin = measure_anchor(client, case, runs)
        ratio = ours.ms / admin.ms
        met = ratio <= case.goal
        met_all = met_all and met
        same = "yes" if ours.ids == admin.ids else f"**no** ({len(ours.ids)} / {len(admin.ids)})"
        rows.append(
            [
                case.label,
                f"{ours.ms:.1f}",
                f"{admin.ms:.1f}",
                f"{ratio:.3f} (1/{admin.ms / ours.ms:.0f})",
                f"≤ 1/{round(1 / case.goal)}",
                "yes" if met else "**no**",
                f"{ours.queries} / {admin.queries}",
                f"{len(ours.ids)}, same: {same}",
                f"{ours.runs} / {admin.runs}",
            ]
        )
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    common.print_table(
        f"Anchor: the service list beside Django's admin changelist, {total:,} services "
        f"(same run, requests in turn; load average {load})",
        ["case", "ours ms", "admin ms", "ours / admin", "goal", "met", "queries (ours / admin)",
         "rows", "runs (ours / admin)"],
        rows,
    )  # fmt: skip
    print(f"Every anchor goal met: {'yes' if met_all else '**no**'}\n")
