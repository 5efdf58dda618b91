"""The staff dashboard's charts: their figures, each from one aggregate query.

Every query is bounded by an index and aggregates in SQL (``GROUP BY`` over the indexed
range only), so that a chart costs what its range holds, never what the tables hold. The
busiest ranges still hold tens of thousands of rows at a million services (1.3 s for all
of them), so no request runs them: the periodic task ``dashboard.charts`` (``refresh``)
computes every chart but the first each ``REFRESH_EVERY`` and stores them in the one row
of ``ChartSnapshot``, which the page reads (``load``). A payment asks for the money
figures again at the next tick (``refresh_soon``), never in the request that paid:

- services by status: the counts the database keeps (``services.stats``), no query here;
- new services per week: ``service_created_idx`` over the last 12 weeks;
- ended services per week: ``service_ended_idx``, a partial index on
  ``COALESCE(cancelled_at, terminated_at)`` (when the service stopped being live: a
  cancelled service terminated later ended when it was cancelled);
- revenue per month: ``invoice_paid_idx`` over the last 12 months (paid invoices, and the
  credit notes, settled with a negative total when issued, so the sum is net of them);
- monthly recurring revenue: one ``GROUP BY`` over the active services (the one figure
  that reads every row of a status: linear in the active services);
- renewals due per day: ``service_status_expires_idx`` over the next 30 days.

Each chart is a ``Chart``: its labels and series feed both the canvas (through
``json_script``, read by ``static/js/dashboard_charts.js``) and the table that screen
readers get instead of the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext

from automation import registry
from automation.models import TaskSchedule
from billing.choices import InvoiceStatus
from billing.models import Invoice
from clientxcms.claims import ClaimResult
from products.choices import CYCLE_MONTHS, BillingCycle
from services.choices import ServiceStatus
from services.models import Service

from .models import ChartSnapshot

WEEKS = 12
MONTHS = 12
RENEWAL_DAYS = 30
#: The periodic task that computes the charts, and how often. Paying or refunding an
#: invoice asks for it at the next tick (``refresh_soon``); the services' charts may lag
#: a change by up to ``REFRESH_EVERY``. The page says when the figures were computed.
TASK_KEY = "dashboard.charts"
REFRESH_EVERY = timedelta(minutes=5)
#: Months per billing cycle; a weekly service is billed 365.25 / 7 / 12 times a month.
MONTHS_PER_CYCLE: dict[str, Decimal] = {
    **{cycle: Decimal(months) for cycle, months in CYCLE_MONTHS.items()},
    BillingCycle.WEEKLY: Decimal(12 * 7) / Decimal("365.25"),
}
#: When a service stopped being live; the expression of the partial index
#: ``service_ended_idx``, whose condition ``ENDED`` every query on it repeats (so that
#: PostgreSQL knows the index holds every row the query wants).
ENDED_AT = Coalesce("cancelled_at", "terminated_at")
ENDED = Q(cancelled_at__isnull=False) | Q(terminated_at__isnull=False)
#: Invoices whose ``paid_at`` counts as money received: a refunded invoice stays counted
#: in its month, and its credit note (paid, negative) takes it back in the refund's month.
EARNED = (InvoiceStatus.PAID, InvoiceStatus.REFUNDED)
CENT = Decimal("0.01")
#: Marks the task's texts: translated when shown (lazy strings the task holds as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


@dataclass
class Series:
    label: str
    data: Sequence[float]
    #: What ``label`` is made of, in no language ("new", a currency): what the snapshot
    #: stores, the label being written in the reader's language when the page is shown.
    key: str = ""


@dataclass
class Chart:
    """One chart: what the canvas draws and the table says.

    The periodic task stores its figures only (``figures``: the id, the kind, the raw
    labels and each series' key and data); the words (title, summary, note, the series'
    labels, the billing cycles' names) are written when the page is shown, in its language
    (``from_figures``), never stored in the language of the task.
    """

    id: str
    title: str
    kind: str  # Chart.js type: "bar" or "line"
    labels: list[str]
    series: list[Series]
    summary: str  # the canvas's aria-label
    stacked: bool = False
    note: str = ""
    total: str = ""
    rows: list[list[str]] = field(default_factory=list)
    #: The labels as stored (days, months, billing cycles' values), when ``labels`` are
    #: words made of them.
    keys: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rows:
            self.rows = [
                [label, *(_figure(s.data[i]) for s in self.series)]
                for i, label in enumerate(self.labels)
            ]

    def spec(self) -> dict[str, Any]:
        """What the script needs: no table rows, no notes."""
        return {
            "id": self.id,
            "kind": self.kind,
            "labels": self.labels,
            "series": [{"label": s.label, "data": s.data} for s in self.series],
            "stacked": self.stacked,
        }

    def figures(self) -> dict[str, Any]:
        """What the snapshot stores: the figures, and no word of any language."""
        return {
            "id": self.id,
            "kind": self.kind,
            "labels": self.keys or self.labels,
            "series": [{"key": s.key or s.label, "data": list(s.data)} for s in self.series],
            "stacked": self.stacked,
        }


def _figure(value: float | Decimal) -> str:
    """A figure of a table or a summary, written the reader's way (1,234.50 or 1 234,50)."""
    if isinstance(value, float | Decimal):
        return number_format(value, 2, force_grouping=True)
    return number_format(value, force_grouping=True)


def _amounts(totals: dict[str, Decimal]) -> str:
    """``35.00 EUR, 12.00 USD``: a total per currency."""
    return ", ".join(f"{_figure(amount)} {currency}" for currency, amount in totals.items())


def _money_totals(series: list[Series]) -> dict[str, Decimal]:
    """The sum of each currency's series, to the cent (its figures are amounts to the cent,
    which their shortest writing keeps exactly)."""
    return {
        s.key: sum((Decimal(str(value)) for value in s.data), Decimal(0)).quantize(CENT)
        for s in series
    }


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def status_chart(statuses: list[dict[str, Any]]) -> Chart:
    total = sum(row["count"] for row in statuses)
    parts = ", ".join(f"{row['label']} {_figure(row['count'])}" for row in statuses)
    return Chart(
        id="chart-status",
        title=gettext("Services by status"),
        kind="bar",
        labels=[str(row["label"]) for row in statuses],
        series=[Series(gettext("Services"), [row["count"] for row in statuses], key="services")],
        summary=ngettext(
            "Bar chart of %(total)s service by status: %(parts)s.",
            "Bar chart of %(total)s services by status: %(parts)s.",
            total,
        )
        % {"total": _figure(total), "parts": parts},
    )


def _per_week(first: date) -> dict[str, dict[str, int]]:
    """{"new": {week: n}, "ended": {week: n}} since the Monday ``first``: two queries,
    each one ``GROUP BY`` over its index's range (``COUNT(*)``: no column beyond the
    index is read for the new services, so it may be an index-only scan)."""
    since = _local_midnight(first)
    tz = timezone.get_current_timezone()
    created = (
        Service.objects.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at", tzinfo=tz))
        .values("week")
        .annotate(n=Count("*"))
        .order_by()
    )
    ended = (
        Service.objects.filter(ENDED)
        .alias(ended_at=ENDED_AT)
        .filter(ended_at__gte=since)
        .annotate(week=TruncWeek(ENDED_AT, tzinfo=tz))
        .values("week")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {
        "new": {f"{_day(row['week']):%Y-%m-%d}": row["n"] for row in created},
        "ended": {f"{_day(row['week']):%Y-%m-%d}": row["n"] for row in ended},
    }


def services_per_week() -> Chart:
    """New and ended services in each of the last ``WEEKS`` weeks (Monday to Sunday, in
    the site's time zone), the current week last."""
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    rows = _per_week(first)
    weeks = [f"{first + timedelta(weeks=n):%Y-%m-%d}" for n in range(WEEKS)]
    new = [rows["new"].get(week, 0) for week in weeks]
    gone = [rows["ended"].get(week, 0) for week in weeks]
    return _weeks_chart(weeks, {"new": new, "ended": gone})


def _weeks_chart(weeks: list[str], data: Mapping[str, Sequence[float]]) -> Chart:
    new, gone = list(data.get("new", [0] * len(weeks))), list(data.get("ended", [0] * len(weeks)))
    values = {
        "weeks": len(weeks),
        "first": weeks[0] if weeks else "",
        "new": _figure(sum(new)),
        "ended": _figure(sum(gone)),
        "new_now": _figure(new[-1] if new else 0),
        "ended_now": _figure(gone[-1] if gone else 0),
    }
    return Chart(
        id="chart-weeks",
        title=gettext("New and ended services, last %(weeks)s weeks") % values,
        kind="bar",
        labels=weeks,
        series=[
            Series(pgettext("chart of services", "New"), new, key="new"),
            Series(pgettext("chart of services", "Ended"), gone, key="ended"),
        ],
        summary=gettext(
            "Bar chart of services per week over the last %(weeks)s weeks, from the week of "
            "%(first)s: %(new)s new, %(ended)s ended (cancelled or terminated); this week "
            "%(new_now)s new and %(ended_now)s ended."
        )
        % values,
        note=gettext(
            "Weeks start on Monday. Ended: cancelled or terminated. Refreshed every 5 minutes."
        ),
    )


def _revenue_rows(first: date) -> list[tuple[str, str, str]]:
    """(month, currency, net total) of the money received since ``first``: one ``GROUP BY``
    over the paid invoices' range of ``invoice_paid_idx``."""
    rows = (
        Invoice.objects.filter(paid_at__gte=_local_midnight(first), status__in=EARNED)
        .annotate(month=TruncMonth("paid_at", tzinfo=timezone.get_current_timezone()))
        .values("month", "currency")
        .annotate(net=Sum("total"))
        .order_by()
    )
    return [(f"{_day(r['month']):%Y-%m}", r["currency"], str(r["net"])) for r in rows]


def _first_month() -> tuple[int, date]:
    """The first of the ``MONTHS`` months shown, as a month number and its first day."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - (MONTHS - 1)
    return index, date(index // 12, index % 12 + 1, 1)


def revenue_per_month() -> Chart:
    """Money received in each of the last ``MONTHS`` months, one series per currency."""
    index, first = _first_month()
    rows = _revenue_rows(first)
    months = [f"{(index + n) // 12:04d}-{(index + n) % 12 + 1:02d}" for n in range(MONTHS)]
    currencies = sorted({currency for _, currency, _ in rows}) or [_default_currency()]
    net = {(month, currency): Decimal(amount) for month, currency, amount in rows}
    series = {
        currency: [float(net.get((month, currency), Decimal(0))) for month in months]
        for currency in currencies
    }
    return _revenue_chart(months, series)


def _revenue_chart(months: list[str], data: Mapping[str, Sequence[float]]) -> Chart:
    series = [Series(currency, list(figures), key=currency) for currency, figures in data.items()]
    totals = _amounts(_money_totals(series))
    return Chart(
        id="chart-revenue",
        title=gettext("Revenue per month, last %(months)s months") % {"months": len(months)},
        kind="bar",
        labels=months,
        series=series,
        summary=gettext(
            "Bar chart of the money received per month from %(first)s to %(last)s, net of "
            "credit notes: %(totals)s in all."
        )
        % {
            "first": months[0] if months else "",
            "last": months[-1] if months else "",
            "totals": totals,
        },
        note=gettext(
            "Paid invoices by payment date, net of credit notes. Refreshed every 5 minutes."
        ),
        total=totals,
    )


def _default_currency() -> str:
    return str(Invoice._meta.get_field("currency").get_default())


def _mrr_rows() -> list[tuple[str, str, str]]:
    """(cycle, currency, sum of prices) of the active services: one ``GROUP BY`` over them."""
    rows = (
        Service.objects.filter(status=ServiceStatus.ACTIVE)
        .exclude(billing_cycle=BillingCycle.ONE_TIME)
        .values("billing_cycle", "currency")
        .annotate(amount=Sum("price", output_field=DecimalField()))
        .order_by()
    )
    return [(r["billing_cycle"], r["currency"], str(r["amount"])) for r in rows]


def recurring_revenue() -> Chart:
    """Monthly recurring revenue: each active service's price over its cycle's months,
    by billing cycle. The sum reads every active service: the one figure linear in them."""
    rows = _mrr_rows()
    cycles = [c for c in BillingCycle if c != BillingCycle.ONE_TIME]
    currencies = sorted({currency for _, currency, _ in rows}) or [_default_currency()]
    per_month: dict[tuple[str, str], Decimal] = {}
    for cycle, currency, amount in rows:
        share = (Decimal(amount) / MONTHS_PER_CYCLE[cycle]).quantize(CENT)
        per_month[(cycle, currency)] = share
    series = {
        currency: [float(per_month.get((c, currency), Decimal(0))) for c in cycles]
        for currency in currencies
    }
    return _mrr_chart([str(c.value) for c in cycles], series)


def _cycle_label(value: str) -> str:
    """The billing cycle's name in the active language (a value no longer known as is)."""
    return str(BillingCycle(value).label) if value in BillingCycle.values else value


def _mrr_chart(cycles: list[str], data: Mapping[str, Sequence[float]]) -> Chart:
    series = [Series(currency, list(figures), key=currency) for currency, figures in data.items()]
    totals = _amounts(_money_totals(series))
    return Chart(
        id="chart-mrr",
        title=gettext("Monthly recurring revenue"),
        kind="bar",
        labels=[_cycle_label(cycle) for cycle in cycles],
        keys=cycles,
        series=series,
        summary=gettext(
            "Bar chart of the monthly recurring revenue by billing cycle: %(totals)s in all."
        )
        % {"totals": totals},
        stacked=True,
        note=gettext(
            "Active services' prices per month, by billing cycle. Refreshed every 5 minutes."
        ),
        total=totals,
    )


def _due_per_day(today: date) -> dict[str, int]:
    """{day: n} of the active and suspended services expiring from now to the end of the
    ``RENEWAL_DAYS``-th day after ``today``: one ``GROUP BY`` over two ranges of the
    (status, expires_at) index, which holds every column it reads (an index-only scan)."""
    due = (
        Service.objects.filter(
            status__in=(ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED),
            expires_at__gte=timezone.now(),
            expires_at__lt=_local_midnight(today + timedelta(days=RENEWAL_DAYS + 1)),
        )
        .annotate(day=TruncDate("expires_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {f"{_day(row['day']):%Y-%m-%d}": row["n"] for row in due}


def renewals_due() -> Chart:
    """Services due for renewal on each of the next ``RENEWAL_DAYS`` days, today first (a
    service expiring before the next refresh stays in today's bar)."""
    today = timezone.localdate()
    by_day = _due_per_day(today)
    days = [f"{today + timedelta(days=n):%Y-%m-%d}" for n in range(RENEWAL_DAYS + 1)]
    return _renewals_chart(days, {"services": [by_day.get(day, 0) for day in days]})


def _renewals_chart(days: list[str], data: Mapping[str, Sequence[float]]) -> Chart:
    counts = list(data.get("services", [0] * len(days)))
    values = {
        "days": max(len(days) - 1, 0),
        "first": days[0] if days else "",
        "last": days[-1] if days else "",
        "total": _figure(sum(counts)),
    }
    if any(counts):
        busiest = max(range(len(days)), key=lambda i: counts[i])
        summary = gettext(
            "Bar chart of the active and suspended services expiring each day from %(first)s "
            "to %(last)s: %(total)s in all, most on %(busiest)s (%(most)s)."
        ) % {**values, "busiest": days[busiest], "most": _figure(counts[busiest])}
    else:
        summary = (
            gettext(
                "Bar chart of the active and suspended services expiring each day from "
                "%(first)s to %(last)s: %(total)s in all."
            )
            % values
        )
    return Chart(
        id="chart-renewals",
        title=gettext("Renewals due in the next %(days)s days") % values,
        kind="bar",
        labels=days,
        series=[Series(gettext("Services"), counts, key="services")],
        summary=summary,
        note=gettext(
            "Active and suspended services, by expiration day. Refreshed every 5 minutes."
        ),
    )


#: The charts about services, then those about money (billing's: staff who may not read
#: invoices get only the first), in the order the page shows them.
SERVICE_CHARTS = ("chart-weeks", "chart-renewals")
MONEY_CHARTS = ("chart-revenue", "chart-mrr")


def compute() -> list[Chart]:
    """Every chart but the counts per status: four ``GROUP BY`` over index ranges and
    one over the active services. Only the periodic task calls it."""
    return [services_per_week(), renewals_due(), revenue_per_month(), recurring_revenue()]


def refresh(now: datetime) -> ClaimResult:
    """The task ``dashboard.charts``: compute the charts and store them in the snapshot's
    one row, with the moment they were computed."""
    figures = [chart.figures() for chart in compute()]
    ChartSnapshot.objects.update_or_create(
        pk=ChartSnapshot.ROW, defaults={"charts": figures, "computed_at": timezone.now()}
    )
    return ClaimResult(done=1)


@dataclass(frozen=True)
class Snapshot:
    """The charts as the page shows them, and when they were computed."""

    computed_at: datetime
    charts: list[Chart]


#: How each stored chart is written out, in the language of the page.
BUILDERS: dict[str, Callable[[list[str], Mapping[str, Sequence[float]]], Chart]] = {
    "chart-weeks": _weeks_chart,
    "chart-renewals": _renewals_chart,
    "chart-revenue": _revenue_chart,
    "chart-mrr": _mrr_chart,
}


def from_figures(data: dict[str, Any]) -> Chart:
    """The chart of stored figures, its words in the active language. A snapshot stored
    before the figures lost their words names its series by their English label."""
    series = {str(s.get("key") or s.get("label", "")): s["data"] for s in data["series"]}
    if data["id"] in ("chart-weeks", "chart-renewals"):
        series = {key.lower(): figures for key, figures in series.items()}
    return BUILDERS[data["id"]](list(data["labels"]), series)


def load(*, money: bool) -> Snapshot | None:
    """The stored charts (one query), without the money unless ``money``; ``None`` before
    the task first ran (a fresh install)."""
    row = ChartSnapshot.objects.filter(pk=ChartSnapshot.ROW).first()
    if row is None:
        return None
    shown = SERVICE_CHARTS + MONEY_CHARTS if money else SERVICE_CHARTS
    charts = [from_figures(data) for data in row.charts if data["id"] in shown]
    return Snapshot(computed_at=row.computed_at, charts=charts)


def _mark_due() -> None:
    """Make the task due now, unless it is already: the next tick queues it once, however
    many asked (a run still at work runs again after it, with the newer figures). A task
    never scheduled yet has no row and is due at the first tick anyway."""
    TaskSchedule.objects.filter(task=TASK_KEY, next_run_at__gt=timezone.now()).update(
        next_run_at=timezone.now()
    )


def refresh_soon() -> None:
    """Ask for the charts at the next tick, once what the caller writes is committed.

    Not a run queued here: in the embedded mode Celery is eager, so a run queued by a
    request would compute in it; and the tick's claim of the schedule's row is what
    keeps two ticks, or two web processes, from running the task twice."""
    transaction.on_commit(_mark_due)


#: The fields of an invoice whose change moves the money figures.
MONEY_FIELDS = frozenset({"status", "paid_at", "total", "currency"})


def money_changed(**kwargs: Any) -> None:
    """An invoice was paid or refunded (a credit note is paid when issued): the money
    figures are computed again at the next tick. Connected to ``Invoice``'s ``post_save``
    in ``dashboard.apps``; a save that touches no money field asks for nothing."""
    instance = kwargs.get("instance")
    if instance is None or instance.paid_at is None:
        return
    fields = kwargs.get("update_fields")
    if fields is not None and not MONEY_FIELDS & set(fields):
        return
    refresh_soon()


def _describe(snapshot: ChartSnapshot) -> str:
    computed = timezone.localtime(snapshot.computed_at)
    return gettext("The charts of %(moment)s computed again") % {
        "moment": f"{computed:%Y-%m-%d %H:%M}"
    }


def register() -> None:
    """Register the task with the automation (from ``DashboardConfig.ready``)."""
    registry.register(
        registry.PeriodicTask(
            key=TASK_KEY,
            label=_("Dashboard charts"),
            description=_(
                "Computes the figures of the staff dashboard's charts (services per week, "
                "renewals due, revenue, recurring revenue), which the dashboard shows "
                "without computing them. A payment asks for them again at the next tick."
            ),
            run=refresh,
            due=_snapshots,
            describe=_describe,
            every=REFRESH_EVERY,
        )
    )


def _snapshots(now: datetime) -> QuerySet[ChartSnapshot]:
    """What the dry run says the task would do: compute the stored charts again."""
    return ChartSnapshot.objects.all()
