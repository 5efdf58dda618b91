"""The staff pages of the automation: who may open them, the tasks with their last and
next runs, a run with its failures, the settings with their history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from automation import options, runner, schedule
from automation.models import OptionChange, RunState, TaskRun, TaskSchedule
from tests.admin_matrix import ACTION, FORM, PERSONAS, VIEW, assert_access, sign_in
from tests.factories import ServiceFactory

from .conftest import DAILY, RENAMES

pytestmark = pytest.mark.usefixtures("fake_timeline")


def past() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=1)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("get", "/admin/automation/", VIEW),
        ("get", "/admin/automation/tasks/tests.renames/", VIEW),
        ("get", "/admin/automation/settings/", FORM),
        ("post", "/admin/automation/tasks/tests.renames/run/", ACTION),
    ],
)
def test_the_pages_follow_the_permission_matrix(client, request, persona, method, url, kind):
    sign_in(client, request, persona)
    assert_access(client, method, url, persona, kind)


@pytest.mark.django_db
def test_a_run_page_needs_the_view_permission(client, request):
    run = runner.run_now(RENAMES.key)
    for persona in PERSONAS:
        client.logout()
        sign_in(client, request, persona)
        assert_access(client, "get", reverse("admin:automation_run", args=[run.pk]), persona, VIEW)


@pytest.mark.django_db
def test_the_overview_shows_each_task_its_last_run_and_its_next_run(client, admin_user):
    ServiceFactory(name="due boom", expires_at=past())
    runner.run_now(RENAMES.key)
    TaskSchedule.objects.create(task=RENAMES.key, next_run_at=timezone.now())
    options.change(DAILY.enabled_option, False, actor=None)
    client.force_login(admin_user)

    response = client.get(reverse("admin:automation"))
    page = response.content.decode()

    rows = {row["task"].key: row for row in response.context["rows"]}
    assert rows[RENAMES.key]["last_run"].failed == 1
    assert rows[RENAMES.key]["schedule"] == "every 5 minutes"
    assert rows[DAILY.key]["enabled"] is False
    assert "0 done · 0 skipped · " in page
    assert "1 failed" in page
    assert "Never" in page  # the daily task has not run
    assert 'id="beat-warning"' in page  # beat never ticked


@pytest.mark.django_db
def test_the_run_page_lists_each_failure_with_its_reason_and_a_link(client, admin_user):
    boom = ServiceFactory(name="due boom", expires_at=past())
    run = runner.run_now(RENAMES.key)
    client.force_login(admin_user)

    page = client.get(reverse("admin:automation_run", args=[run.pk])).content.decode()

    assert f'href="/admin/services/{boom.pk}/"' in page
    assert "the module said" in page
    assert "hunter2" not in page


@pytest.mark.django_db
def test_a_crashed_run_shows_why(client, admin_user):
    run = runner.run_now(DAILY.key)
    client.force_login(admin_user)

    page = client.get(reverse("admin:automation_run", args=[run.pk])).content.decode()

    assert 'id="run-error"' in page
    assert "RuntimeError: database gone" in page


@pytest.mark.django_db
def test_run_now_queues_the_task_and_shows_its_run(
    client, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("admin:automation_run_now", args=[RENAMES.key]))

    run = TaskRun.objects.get()
    assert response.url == reverse("admin:automation_run", args=[run.pk])
    assert run.state == RunState.QUEUED
    assert len(callbacks) == 1
    page = client.get(response.url).content.decode()
    assert 'id="run-in-progress"' in page


@pytest.mark.django_db
def test_an_unknown_task_is_a_404(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/automation/tasks/nope/").status_code == 404
    assert client.post("/admin/automation/tasks/nope/run/").status_code == 404


def _settings_form(**changes: object) -> dict[str, object]:
    """The settings form as the page fills it, with ``changes`` (field name: value)."""
    data: dict[str, object] = {}
    for option in options.registered():
        value = options.get(option.key)
        name = option.key.replace(".", "__")
        if option.kind is options.Kind.SWITCH:
            if value:
                data[name] = "on"
        elif option.kind is options.Kind.NUMBERS:
            data[name] = ", ".join(str(number) for number in value)
        else:
            data[name] = value
    data.update(changes)
    return data


@pytest.mark.django_db
def test_saving_the_settings_records_each_change_with_who_and_when(client, admin_user, settings):
    settings.AUTOMATION_DAILY_HOUR = 6
    client.force_login(admin_user)
    form = _settings_form(automation__daily_hour=9)
    del form["automation__enabled__tests__daily"]  # switched off: a checkbox left unticked

    response = client.post(reverse("admin:automation_settings"), form)

    assert response.status_code == 302
    assert schedule.daily_hour() == 9
    assert options.get(DAILY.enabled_option) is False
    changes = {change.key: change for change in OptionChange.objects.all()}
    assert set(changes) == {schedule.DAILY_HOUR, DAILY.enabled_option}
    assert (changes[schedule.DAILY_HOUR].old_value, changes[schedule.DAILY_HOUR].new_value) == (
        6,
        9,
    )
    assert changes[schedule.DAILY_HOUR].changed_by == admin_user
    page = client.get(reverse("admin:automation_settings")).content.decode()
    assert "Hour of the daily work" in page
    assert admin_user.email in page


@pytest.mark.django_db
def test_saving_the_same_values_records_nothing(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("admin:automation_settings"), _settings_form())
    assert OptionChange.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("automation__daily_hour", "24", "less than or equal to 23"),
        ("automation__daily_hour", "six", "Enter a whole number"),
    ],
)
def test_a_wrong_setting_saves_nothing_and_says_why(client, admin_user, field, value, error):
    client.force_login(admin_user)
    form = _settings_form(**{field: value})
    del form["automation__enabled__tests__daily"]

    response = client.post(reverse("admin:automation_settings"), form)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert OptionChange.objects.count() == 0
    assert options.get(DAILY.enabled_option) is True


@pytest.mark.django_db
def test_a_changed_hour_moves_the_daily_tasks_next_run(client, admin_user, settings):
    settings.AUTOMATION_DAILY_HOUR = 6
    schedule.tick()
    client.force_login(admin_user)
    client.post(reverse("admin:automation_settings"), _settings_form(automation__daily_hour=23))

    next_run = TaskSchedule.objects.get(task=DAILY.key).next_run_at
    assert timezone.localtime(next_run).hour == 23


@pytest.mark.django_db
def test_a_run_of_a_task_no_longer_registered_still_shows(client, admin_user):
    run = TaskRun.objects.create(task="gone.task", trigger="schedule", state=RunState.FINISHED)
    client.force_login(admin_user)

    response = client.get(reverse("admin:automation_run", args=[run.pk]))

    assert response.status_code == 200
    assert "gone.task: run #" in response.content.decode()
