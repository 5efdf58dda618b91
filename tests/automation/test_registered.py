"""The timeline as the apps register it: every step of issue 13 is a periodic task of its
own, the pages show them all, and the dry run over real data changes nothing."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from automation import registry, runner
from automation.models import TaskRun
from automation.views import describe_schedule
from services.choices import ServiceStatus
from services.models import Service

TIMELINE = {
    "services.cancel_scheduled": "every 5 minutes",
    "services.expire": "every 5 minutes",
    "services.terminate": "every 5 minutes",
    "services.expiry_notices": "daily at 06:00",
    "services.resume_operations": "every minute",
    "services.bulk_stall_check": "every minute",
    "billing.renewal_invoices": "daily at 06:00",
    "billing.invoice_reminders": "daily at 06:00",
    "billing.unpaid_orders": "daily at 06:00",
    "delivery.prune_calls": "daily at 06:00",
    "automation.prune_runs": "daily at 06:00",
    "dashboard.charts": "every 5 minutes",
}


@pytest.mark.django_db
def test_every_step_of_the_timeline_is_a_task_of_its_own_with_its_schedule(settings):
    settings.AUTOMATION_DAILY_HOUR = 6

    assert {task.key: describe_schedule(task) for task in registry.tasks()} == TIMELINE


@pytest.mark.django_db
def test_the_overview_lists_every_registered_task(client, admin_user):
    client.force_login(admin_user)

    page = client.get(reverse("admin:automation")).content.decode()

    for task in registry.tasks():
        assert reverse("admin:automation_task", args=[task.key]) in page
        assert reverse("admin:automation_run_now", args=[task.key]) in page


@pytest.mark.django_db
def test_the_dry_run_over_real_tasks_says_what_would_expire_and_changes_nothing(make_service):
    service = make_service(ServiceStatus.ACTIVE, expires_at=timezone.now() + dt.timedelta(days=4))
    out = StringIO()

    call_command(
        "automation",
        "--dry-run",
        "--at",
        (timezone.localdate() + dt.timedelta(days=5)).isoformat(),
        stdout=out,
    )

    output = out.getvalue()
    section = output.split("Expirations [services.expire]")[1].split("\n\n")[0]
    assert f"Service #{service.pk}" in section
    assert "1 due" in section
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert TaskRun.objects.count() == 0
    assert Service.objects.filter(status=ServiceStatus.EXPIRED).count() == 0


@pytest.mark.django_db
def test_one_failing_service_neither_stops_nor_undoes_the_others_and_its_run_lists_it(
    client, admin_user, make_service
):
    past = timezone.now() - dt.timedelta(hours=1)
    fine = [make_service(ServiceStatus.ACTIVE, expires_at=past) for _ in range(2)]
    broken = make_service(ServiceStatus.ACTIVE, expires_at=past, fail="suspend")
    also_fine = make_service(ServiceStatus.ACTIVE, expires_at=past)

    run = runner.run_now("services.expire")

    assert (run.done, run.failed) == (3, 1)
    for service in [*fine, also_fine]:
        service.refresh_from_db()
        assert service.status == ServiceStatus.EXPIRED
    broken.refresh_from_db()
    assert broken.status == ServiceStatus.ACTIVE
    client.force_login(admin_user)
    page = client.get(reverse("admin:automation_run", args=[run.pk])).content.decode()
    assert f'href="{reverse("admin:service_detail", args=[broken.pk])}"' in page
    assert "The test panel refused to suspend." in page
