"""Bulk operations whose worker was lost: stall detection, automatic and staff resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from automation import registry
from clientxcms.celery import app as celery_app
from clientxcms.claims import ClaimResult
from services import bulk, tasks
from services.choices import BulkItemState, BulkStatus, ServiceStatus
from services.models import BulkOperation, ServiceEvent
from tests.factories import StaffFactory

S = ServiceStatus


@pytest.fixture(autouse=True)
def _stall_settings(settings):
    settings.BULK_STALL_MINUTES = 5
    settings.BULK_MAX_RESUMES = 3


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The operation ids handed to the bulk task's ``delay``, instead of a broker."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.run_bulk_operation, "delay", ids.append)
    return ids


def check() -> ClaimResult:
    """The periodic stall check, run now."""
    return registry.find("services.bulk_stall_check").run(timezone.now())


@pytest.fixture
def stranded(admin_user, make_service):
    """A suspend of three services whose worker died after the first, ``minutes`` ago."""

    def make(minutes: float, **fields) -> BulkOperation:
        services = [make_service(S.ACTIVE) for _ in range(3)]
        operation = BulkOperation.objects.create(
            action="suspend",
            params={"notify": False},
            service_ids=[s.pk for s in services],
            created_by=admin_user,
        )
        bulk.prepare(operation)
        bulk.run_item(operation, operation.items.order_by("pk")[0].pk)
        BulkOperation.objects.filter(pk=operation.pk).update(
            **{
                "status": BulkStatus.RUNNING,
                "prepared": True,
                "heartbeat_at": timezone.now() - timedelta(minutes=minutes),
                **fields,
            }
        )
        operation.refresh_from_db()
        return operation

    return make


# Settings and task options ----------------------------------------------------------------


def test_the_bulk_task_is_acknowledged_late_and_requeued_when_its_worker_process_dies():
    assert tasks.run_bulk_operation.acks_late is True
    assert tasks.run_bulk_operation.reject_on_worker_lost is True


def test_the_broker_keeps_an_unacknowledged_task_longer_than_the_longest_bulk():
    assert celery_app.conf.broker_transport_options["visibility_timeout"] == 6 * 3600


def test_the_automation_runs_the_stall_check_every_minute(settings):
    task = registry.find("services.bulk_stall_check")

    assert settings.BULK_STALL_CHECK_SECONDS == 60.0
    assert task.every == timedelta(seconds=60)
    assert task.link(4) == reverse("admin:bulk_detail", args=[4])


# Detection --------------------------------------------------------------------------------


def test_only_a_running_operation_without_progress_for_the_stall_time_is_stalled(stranded):
    stalled = stranded(6)
    moving = stranded(4)
    finished = stranded(60, status=BulkStatus.DONE)
    queued = stranded(60, status=BulkStatus.PENDING)

    assert list(bulk.stalled()) == [stalled]
    assert bulk.stalled_since(stalled) == stalled.heartbeat_at
    assert [bulk.stalled_since(op) for op in (moving, finished, queued)] == [None, None, None]


def test_the_task_beats_its_heartbeat_while_it_works(settings, stranded):
    settings.BULK_STALL_MINUTES = 0  # a beat after every item
    operation = stranded(60)

    with CaptureQueriesContext(connection) as queries:
        tasks.run_bulk_operation(operation.pk)

    beats = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "services_bulkoperation" SET "heartbeat_at"')
    ]
    operation.refresh_from_db()
    # Two items were left: one beat after each.
    assert len(beats) == 2
    assert operation.heartbeat_at > timezone.now() - timedelta(seconds=5)


# The periodic check -----------------------------------------------------------------------


def test_the_stall_check_queues_a_stalled_operation_again_and_counts_the_resume(stranded, queued):
    operation = stranded(6)
    moving = stranded(1)

    result = check()

    operation.refresh_from_db()
    assert result == ClaimResult(done=1)
    assert queued == [operation.pk]
    assert operation.status == BulkStatus.RUNNING
    assert operation.resumes == 1
    assert bulk.stalled_since(operation) is None
    assert list(bulk.stalled()) == []
    moving.refresh_from_db()
    assert moving.resumes == 0


def test_a_resumed_operation_carries_on_from_its_first_unfinished_service(stranded, queued):
    operation = stranded(6)
    first = operation.items.order_by("pk").first()

    check()
    tasks.run_bulk_operation(queued[0])

    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE
    assert list(operation.items.values_list("state", "attempts")) == [(BulkItemState.DONE, 1)] * 3
    events = ServiceEvent.objects.filter(action="suspend")
    assert sorted(events.values_list("service_id", flat=True)) == sorted(
        operation.items.values_list("service_ref", flat=True)
    )
    assert events.filter(service_id=first.service_ref).count() == 1


def test_the_stall_check_gives_up_after_the_resume_limit(stranded, queued):
    operation = stranded(6, resumes=3)

    result = check()

    operation.refresh_from_db()
    assert queued == []
    assert operation.status == BulkStatus.DONE
    assert operation.abandoned is True
    assert operation.finished_at is not None
    assert operation.error == (
        "It made no progress for 5 minutes, 3 times in a row: its workers may be down. "
        "Resume it once they are running."
    )
    assert result == ClaimResult(failed=[(operation.pk, operation.error)])
    assert operation.items.filter(state=BulkItemState.PENDING).count() == 2


def test_an_operation_another_check_resumed_in_between_is_skipped(stranded, queued, monkeypatch):
    operation = stranded(6)
    monkeypatch.setattr(bulk, "resume", lambda operation, automatic: False)

    assert check() == ClaimResult(skipped=1)
    assert queued == []
    operation.refresh_from_db()
    assert operation.resumes == 0


def test_the_due_operations_are_those_stalled_at_the_moment_asked(stranded):
    operation = stranded(3)
    due = registry.find("services.bulk_stall_check").due

    assert list(due(timezone.now())) == []
    assert list(due(timezone.now() + timedelta(minutes=3))) == [operation]
    assert (
        registry.find("services.bulk_stall_check")
        .describe(operation)
        .startswith(
            f"Bulk operation #{operation.pk} (suspend) is resumed or given up (no progress since "
        )
    )


def test_an_automatic_resume_is_refused_once_the_limit_is_reached(stranded):
    operation = stranded(6, resumes=3)

    assert bulk.resume(operation, automatic=True) is False
    operation.refresh_from_db()
    assert operation.resumes == 3


def test_the_stall_check_leaves_a_finished_operation_alone(stranded, queued):
    operation = stranded(60, status=BulkStatus.DONE)

    result = check()

    operation.refresh_from_db()
    assert result == ClaimResult()
    assert queued == []
    assert (operation.status, operation.resumes, operation.abandoned) == (BulkStatus.DONE, 0, False)


# The staff page ---------------------------------------------------------------------------


def test_the_page_shows_a_stalled_operation_as_such_and_offers_to_resume(
    client, admin_user, stranded
):
    with time_machine.travel(datetime(2027, 3, 1, 12, 3, tzinfo=UTC), tick=False):
        operation = stranded(0)

    with time_machine.travel(datetime(2027, 3, 1, 12, 10, tzinfo=UTC), tick=False):
        client.force_login(admin_user)
        page = client.get(reverse("admin:bulk_detail", args=[operation.pk])).content.decode()
        fragment = client.get(
            reverse("admin:bulk_detail", args=[operation.pk]), {"fragment": "progress"}
        ).content.decode()

    resume_form = f'action="{reverse("admin:bulk_resume", args=[operation.pk])}"'
    for html in (page, fragment):
        assert "Stalled since 12:03; no progress for 7\xa0minutes." in html
        assert resume_form in html


def test_a_running_operation_that_moves_is_not_shown_as_stalled(client, admin_user, stranded):
    operation = stranded(1)
    client.force_login(admin_user)

    page = client.get(reverse("admin:bulk_detail", args=[operation.pk])).content.decode()

    assert "Stalled since" not in page
    assert reverse("admin:bulk_resume", args=[operation.pk]) not in page


def test_resuming_from_the_page_queues_the_operation_from_its_first_unfinished_service(
    client, admin_user, stranded, queued, django_capture_on_commit_callbacks
):
    operation = stranded(6, resumes=2)
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:bulk_resume", args=[operation.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bulk_detail", args=[operation.pk])
    assert queued == [operation.pk]
    operation.refresh_from_db()
    # Staff resuming starts the automatic count again.
    assert (operation.status, operation.resumes) == (BulkStatus.RUNNING, 0)
    tasks.run_bulk_operation(operation.pk)
    assert ServiceEvent.objects.filter(action="suspend").count() == 3


def test_an_operation_given_up_by_the_automatic_resumes_can_be_resumed_by_staff(
    client, admin_user, stranded, queued, django_capture_on_commit_callbacks
):
    operation = stranded(6, resumes=3)
    check()
    client.force_login(admin_user)
    page = client.get(reverse("admin:bulk_detail", args=[operation.pk])).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:bulk_resume", args=[operation.pk]))

    assert "This operation stopped before its end: It made no progress" in page
    assert reverse("admin:bulk_resume", args=[operation.pk]) in page
    assert queued == [operation.pk]
    operation.refresh_from_db()
    assert (operation.status, operation.abandoned, operation.error) == (
        BulkStatus.RUNNING,
        False,
        "",
    )


def test_a_finished_operation_is_not_resumed(
    client, admin_user, stranded, queued, django_capture_on_commit_callbacks
):
    operation = stranded(60, status=BulkStatus.DONE)
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:bulk_resume", args=[operation.pk]), follow=True)

    assert queued == []
    assert f"{operation} has finished: there is nothing to resume." in response.content.decode()
    operation.refresh_from_db()
    assert operation.status == BulkStatus.DONE


def test_an_operation_that_moves_is_not_resumed(
    client, admin_user, stranded, queued, django_capture_on_commit_callbacks
):
    operation = stranded(1)
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:bulk_resume", args=[operation.pk]), follow=True)

    assert queued == []
    assert "is making progress: there is nothing to resume." in response.content.decode()


@pytest.fixture
def changer(db):
    """Staff who may change services but not delete them."""
    user = StaffFactory()
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_service", "change_service"])
    )
    return user


@pytest.mark.parametrize(
    ("persona", "action"),
    [("support_user", "suspend"), ("plain_staff", "suspend"), ("changer", "delete")],
)
def test_resume_is_refused_without_the_permission_of_the_action(
    persona, action, request, client, stranded, queued
):
    operation = stranded(6)
    BulkOperation.objects.filter(pk=operation.pk).update(action=action)
    client.force_login(request.getfixturevalue(persona))

    response = client.post(reverse("admin:bulk_resume", args=[operation.pk]))

    assert response.status_code == 403
    assert queued == []
    operation.refresh_from_db()
    assert operation.heartbeat_at < timezone.now() - timedelta(minutes=5)


def test_the_page_offers_no_resume_to_staff_who_may_only_view(client, support_user, stranded):
    operation = stranded(6)
    client.force_login(support_user)

    page = client.get(reverse("admin:bulk_detail", args=[operation.pk])).content.decode()

    assert "Stalled since" in page
    assert reverse("admin:bulk_resume", args=[operation.pk]) not in page


def test_resume_answers_only_post(client, admin_user, stranded):
    operation = stranded(6)
    client.force_login(admin_user)

    assert client.get(reverse("admin:bulk_resume", args=[operation.pk])).status_code == 405
