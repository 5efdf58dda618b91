"""The dashboard's charts: each chart's figures for a small known data set, the JSON the
script reads, the tables screen readers get, who sees the money; the figures computed by
the periodic task ``dashboard.charts``, never by the page, and asked for again when an
invoice is paid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from automation import registry, runner, schedule
from automation.models import TaskRun, TaskSchedule
from billing.choices import InvoiceKind, InvoiceStatus
from billing.models import Invoice
from dashboard import charts
from products.choices import BillingCycle
from services.choices import ServiceStatus
from tests.factories import CustomerFactory, ServiceFactory, StaffFactory

S = ServiceStatus
# A Wednesday: this week starts on Monday 2026-06-15, the 12 weeks on 2026-03-30, the
# 12 months in 2025-07.
NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def computed_page(client):
    """The dashboard once the periodic task has stored the charts."""
    charts.refresh(timezone.now())
    return client.get(reverse("admin:home"))


def chart_of(response, chart_id: str) -> dict:
    specs = json.loads(
        response.text.split('id="dashboard-chart-data" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    return next(spec for spec in specs if spec["id"] == chart_id)


def series(response, chart_id: str) -> dict[str, dict[str, float]]:
    spec = chart_of(response, chart_id)
    return {s["label"]: dict(zip(spec["labels"], s["data"], strict=True)) for s in spec["series"]}


def invoice(number: str, total: str, paid_at: datetime, **fields) -> Invoice:
    fields.setdefault("status", InvoiceStatus.PAID)
    return Invoice.objects.create(
        number=number,
        customer=fields.pop("customer", None) or CustomerFactory.create(),
        total=Decimal(total),
        paid_at=paid_at,
        issued_at=paid_at,
        **fields,
    )


def test_services_by_status_come_from_the_kept_counts(client, admin_user, frozen):
    ServiceFactory.create_batch(3, status=S.ACTIVE)
    ServiceFactory(status=S.SUSPENDED)
    client.force_login(admin_user)

    response = computed_page(client)

    figures = series(response, "chart-status")["Services"]
    assert figures["Active"] == 3
    assert figures["Suspended"] == 1
    assert figures["Pending"] == 0
    assert 'aria-label="Bar chart of 4 services by status: ' in response.text


def test_new_and_ended_services_per_week(client, admin_user, frozen):
    week_x = at("2026-06-02T10:00")  # the week of 2026-06-01
    made = ServiceFactory.create_batch(3, status=S.ACTIVE, created_at=week_x)
    ServiceFactory(created_at=at("2026-03-29T23:00"))  # the Sunday before the 12 weeks
    ServiceFactory(created_at=at("2026-06-15T00:30"))  # this week's Monday
    made[0].status, made[0].terminated_at = S.TERMINATED, at("2026-06-16T09:00")
    made[0].save()
    # Cancelled in the week of 2026-06-08, terminated this week: it ended once, when cancelled.
    made[1].status = S.TERMINATED
    made[1].cancelled_at, made[1].terminated_at = at("2026-06-09T09:00"), at("2026-06-16T09:00")
    made[1].save()
    ServiceFactory(  # long ago
        status=S.CANCELLED, created_at=at("2025-12-01T00:00"), cancelled_at=at("2026-01-05T00:00")
    )
    client.force_login(admin_user)

    response = computed_page(client)

    spec = chart_of(response, "chart-weeks")
    assert len(spec["labels"]) == 12
    assert spec["labels"][0] == "2026-03-30"
    assert spec["labels"][-1] == "2026-06-15"
    figures = series(response, "chart-weeks")
    assert {week: n for week, n in figures["New"].items() if n} == {
        "2026-06-01": 3,
        "2026-06-15": 1,
    }
    assert {week: n for week, n in figures["Ended"].items() if n} == {
        "2026-06-08": 1,
        "2026-06-15": 1,
    }
    assert "4 new, 2 ended (cancelled or terminated); this week 1 new and 1 ended" in (
        response.text
    )


def test_revenue_per_month_is_net_of_credit_notes(client, admin_user, frozen):
    customer = CustomerFactory()
    paid = invoice("F-1", "100.00", at("2026-04-10T10:00"), customer=customer)
    invoice("F-2", "50.50", at("2026-04-20T10:00"), customer=customer)
    invoice("F-3", "30.00", at("2026-05-03T10:00"), status=InvoiceStatus.REFUNDED)
    # The refund of F-1 in May: a credit note, settled (paid) with a negative total.
    invoice(
        "CN-1",
        "-100.00",
        at("2026-05-04T10:00"),
        customer=customer,
        kind=InvoiceKind.CREDIT_NOTE,
        credit_note_for=paid,
    )
    invoice("F-4", "999.00", at("2025-06-30T10:00"))  # 12 months and a day ago: not shown
    Invoice.objects.create(number="F-5", customer=customer, status=InvoiceStatus.UNPAID)
    client.force_login(admin_user)

    response = computed_page(client)

    spec = chart_of(response, "chart-revenue")
    assert spec["labels"][0] == "2025-07"
    assert spec["labels"][-1] == "2026-06"
    figures = series(response, "chart-revenue")["EUR"]
    assert figures["2026-04"] == 150.5
    assert figures["2026-05"] == -70.0
    assert sum(figures.values()) == 80.5
    table = response.text.split('data-chart="chart-revenue"')[1].split("</table>")[0]
    assert '<th scope="row">2026-04</th><td class="text-end">150.50</td>' in table
    assert '<th scope="row">2026-05</th><td class="text-end">-70.00</td>' in table


def test_monthly_recurring_revenue_normalises_each_cycle(client, admin_user, frozen):
    ServiceFactory(status=S.ACTIVE, price=Decimal("10.00"), billing_cycle=BillingCycle.MONTHLY)
    ServiceFactory(status=S.ACTIVE, price=Decimal("5.00"), billing_cycle=BillingCycle.MONTHLY)
    ServiceFactory(status=S.ACTIVE, price=Decimal("120.00"), billing_cycle=BillingCycle.ANNUALLY)
    ServiceFactory(status=S.ACTIVE, price=Decimal("30.00"), billing_cycle=BillingCycle.QUARTERLY)
    ServiceFactory(
        status=S.ACTIVE,
        price=Decimal("50.00"),
        billing_cycle=BillingCycle.ONE_TIME,
        expires_at=None,
    )
    ServiceFactory(status=S.SUSPENDED, price=Decimal("99.00"))  # not active: no revenue
    ServiceFactory(status=S.TERMINATED, price=Decimal("99.00"))
    client.force_login(admin_user)

    response = computed_page(client)

    figures = series(response, "chart-mrr")["EUR"]
    assert figures["Monthly"] == 15.0
    assert figures["Annually"] == 10.0
    assert figures["Quarterly"] == 10.0
    assert "One-time" not in figures
    assert response.context["charts"][-1].total == "35.00 EUR"
    assert "monthly recurring revenue by billing cycle: 35.00 EUR in all" in response.text


def test_a_weekly_service_counts_52_weeks_over_12_months(db, frozen):
    ServiceFactory(status=S.ACTIVE, price=Decimal("7.00"), billing_cycle=BillingCycle.WEEKLY)

    chart = charts.recurring_revenue()

    assert chart.total == "30.44 EUR"  # 7 × 365.25 / 7 / 12


def test_renewals_due_per_day_over_the_next_30_days(client, admin_user, frozen):
    ServiceFactory.create_batch(2, status=S.ACTIVE, expires_at=at("2026-06-18T08:00"))
    ServiceFactory(status=S.SUSPENDED, expires_at=at("2026-06-18T20:00"))
    ServiceFactory(status=S.ACTIVE, expires_at=at("2026-07-17T23:00"))  # the 30th day
    ServiceFactory(status=S.ACTIVE, expires_at=at("2026-07-18T01:00"))  # the 31st: not shown
    ServiceFactory(status=S.ACTIVE, expires_at=at("2026-06-17T11:00"))  # already past
    ServiceFactory(status=S.PENDING, expires_at=at("2026-06-20T08:00"))
    ServiceFactory(status=S.CANCELLED, expires_at=at("2026-06-20T08:00"))
    client.force_login(admin_user)

    response = computed_page(client)

    spec = chart_of(response, "chart-renewals")
    assert spec["labels"][0] == "2026-06-17"
    assert spec["labels"][-1] == "2026-07-17"
    figures = series(response, "chart-renewals")["Services"]
    assert {day: n for day, n in figures.items() if n} == {"2026-06-18": 3, "2026-07-17": 1}
    assert "4 in all, most on 2026-06-18 (3)." in response.text


def test_every_chart_has_its_canvas_its_json_and_its_table(client, admin_user, frozen):
    ServiceFactory(status=S.ACTIVE)
    client.force_login(admin_user)

    response = computed_page(client)

    ids = ["chart-status", "chart-weeks", "chart-renewals", "chart-revenue", "chart-mrr"]
    assert [spec["id"] for spec in response.context["chart_specs"]] == ids
    for chart in response.context["charts"]:
        assert f'<canvas id="{chart.id}" role="img" aria-label="{chart.summary}">' in response.text
        assert f'data-chart="{chart.id}"' in response.text
        assert f"<caption>{chart.title}</caption>" in response.text
        assert chart_of(response, chart.id)["labels"] == chart.labels
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in response.text
    assert 'src="/static/js/dashboard_charts.js"' in response.text
    assert "<script>" not in response.text  # CSP: no inline script
    assert " style=" not in response.text


def test_staff_who_may_not_read_invoices_see_no_money(db, client, frozen):
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename="view_service"))
    invoice("F-1", "100.00", at("2026-06-01T10:00"))
    client.force_login(staff)

    response = computed_page(client)

    ids = [spec["id"] for spec in response.context["chart_specs"]]
    assert ids == ["chart-status", "chart-weeks", "chart-renewals"]
    assert "Revenue per month" not in response.text
    assert "recurring revenue" not in response.text


def due_runs() -> int:
    """How many runs of the charts' task a tick queues now."""
    return len([run for run in schedule.tick() if run.task == charts.TASK_KEY])


def scheduled_later() -> TaskSchedule:
    """The task ran a minute ago: its next run is in 4 minutes."""
    return TaskSchedule.objects.create(
        task=charts.TASK_KEY, next_run_at=timezone.now() + timedelta(minutes=4)
    )


def test_the_charts_are_a_periodic_task_every_five_minutes():
    task = registry.find(charts.TASK_KEY)

    assert task.every == timedelta(minutes=5)
    assert task.run is charts.refresh


def test_the_page_shows_the_stored_figures_and_when_they_were_computed(client, admin_user):
    client.force_login(admin_user)
    with time_machine.travel(NOW, tick=False):
        charts.refresh(timezone.now())
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        ServiceFactory(status=S.ACTIVE, created_at=NOW, expires_at=at("2026-06-19T08:00"))
        response = client.get(reverse("admin:home"))
        # Not computed by the page: the new service waits for the task.
        assert series(response, "chart-renewals")["Services"]["2026-06-19"] == 0
        assert series(response, "chart-weeks")["New"]["2026-06-15"] == 0
        assert series(response, "chart-status")["Services"]["Active"] == 1  # kept counts: live
        assert 'Figures of <time datetime="2026-06-17T12:00:00+00:00">12:00</time>,' in (
            response.text
        )
        assert "being prepared" not in response.text

        charts.refresh(timezone.now())  # the next run
        response = client.get(reverse("admin:home"))
    assert series(response, "chart-renewals")["Services"]["2026-06-19"] == 1
    assert series(response, "chart-weeks")["New"]["2026-06-15"] == 1
    assert ">12:03</time>," in response.text


def test_figures_of_another_day_say_the_day(client, admin_user):
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        charts.refresh(timezone.now())
    client.force_login(admin_user)
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("admin:home"))
    assert ">12:00</time> on 2026-06-15," in response.text


def test_with_no_snapshot_yet_the_charts_are_being_prepared_and_queued_once(
    db, client, admin_user, django_capture_on_commit_callbacks
):
    ServiceFactory(status=S.ACTIVE)
    scheduled_later()
    assert due_runs() == 0  # nothing asked for it: not due before its time
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(reverse("admin:home"))
        second = client.get(reverse("admin:home"))

    for response in (first, second):
        assert "Charts are being prepared" in response.text
        # The counts per status need no task; no other chart, no time of figures.
        assert [spec["id"] for spec in response.context["chart_specs"]] == ["chart-status"]
        assert "Figures of" not in response.text
    # Nothing computed or queued by the requests themselves.
    assert not TaskRun.objects.filter(task=charts.TASK_KEY).exists()
    assert due_runs() == 1  # the next tick queues it, once for both
    assert due_runs() == 0
    assert TaskRun.objects.filter(task=charts.TASK_KEY).count() == 1


def test_a_fresh_install_computes_the_charts_at_the_first_tick(client, admin_user):
    run = next(run for run in schedule.tick() if run.task == charts.TASK_KEY)

    runner.execute(run.pk)

    client.force_login(admin_user)
    response = client.get(reverse("admin:home"))
    assert "being prepared" not in response.text
    assert len(response.context["chart_specs"]) == 5


def test_a_payment_asks_for_the_money_figures_at_the_next_tick(
    client, admin_user, frozen, django_capture_on_commit_callbacks
):
    invoice("F-1", "100.00", at("2026-06-01T10:00"))
    charts.refresh(timezone.now())
    scheduled_later()
    client.force_login(admin_user)
    unpaid = Invoice.objects.create(number="F-2", customer=CustomerFactory(), total=Decimal(5))
    ServiceFactory(status=S.ACTIVE, price=Decimal("10.00"))

    with django_capture_on_commit_callbacks(execute=True):
        unpaid.status = InvoiceStatus.UNPAID
        unpaid.save()  # not paid: nothing to compute again
    assert due_runs() == 0
    with django_capture_on_commit_callbacks(execute=True):
        unpaid.status, unpaid.paid_at = InvoiceStatus.PAID, NOW - timedelta(hours=1)
        unpaid.save(update_fields=["status", "paid_at"])
        unpaid.save(update_fields=["status", "paid_at"])
        # Not recomputed in the request that paid: the page still has the old figures.
        response = client.get(reverse("admin:home"))
        assert series(response, "chart-revenue")["EUR"]["2026-06"] == 100

    (run,) = [run for run in schedule.tick() if run.task == charts.TASK_KEY]  # once for both
    runner.execute(run.pk)

    response = client.get(reverse("admin:home"))
    assert series(response, "chart-revenue")["EUR"]["2026-06"] == 105.0
    assert series(response, "chart-mrr")["EUR"]["Monthly"] == 10.0


def test_saving_a_paid_invoice_without_touching_money_asks_for_nothing(
    db, frozen, django_capture_on_commit_callbacks
):
    paid = invoice("F-1", "100.00", at("2026-06-01T10:00"))
    scheduled_later()

    with django_capture_on_commit_callbacks(execute=True):
        paid.save(update_fields=["number"])

    assert due_runs() == 0
