"""``manage.py automation``: the dry run now and at a date, changing nothing; a run of
every task; its errors."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from automation import options
from automation.models import TaskRun
from services.models import Service
from tests.factories import ServiceFactory

from .conftest import RENAMES

pytestmark = pytest.mark.usefixtures("fake_timeline")


def run(*args: str) -> str:
    out = StringIO()
    call_command("automation", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_dry_run_lists_what_is_due_now_and_changes_nothing():
    ServiceFactory(name="due alpha", expires_at=timezone.now() - dt.timedelta(hours=1))
    ServiceFactory(name="due beta", expires_at=timezone.now() + dt.timedelta(days=10))

    output = run("--dry-run")

    assert "Renames [tests.renames]" in output
    assert "1 due" in output
    assert "- Service due alpha" in output
    assert "due beta" not in output
    assert Service.objects.filter(name__startswith="done").count() == 0
    assert TaskRun.objects.count() == 0


@pytest.mark.django_db
def test_the_dry_run_at_a_date_lists_what_will_be_due_then():
    ServiceFactory(name="due beta", expires_at=timezone.now() + dt.timedelta(days=10))
    day = (timezone.localdate() + dt.timedelta(days=11)).isoformat()

    output = run("--dry-run", "--at", day, "--task", RENAMES.key)

    assert "- Service due beta" in output
    assert "Daily" not in output  # only the task asked for


@pytest.mark.django_db
def test_the_dry_run_caps_the_rows_shown_and_says_a_switched_off_task_would_not_run():
    past = timezone.now() - dt.timedelta(hours=1)
    ServiceFactory.create_batch(3, name="due many", expires_at=past)
    options.change(RENAMES.enabled_option, False, actor=None)

    output = run("--dry-run", "--limit", "2")

    assert "Renames [tests.renames] (switched off: it would not run)" in output
    assert output.count("- Service due many") == 2
    assert "... and 1 more" in output


@pytest.mark.django_db
def test_without_dry_run_every_task_runs_once_and_is_recorded():
    boom = ServiceFactory(name="due boom", expires_at=timezone.now() - dt.timedelta(hours=1))

    output = run()

    assert "Renames: finished, 0 done, 0 skipped, 1 failed" in output
    assert f"#{boom.pk}: " in output
    assert "Daily: crashed" in output
    assert sorted(TaskRun.objects.values_list("task", "trigger")) == [
        ("tests.daily", "command"),
        ("tests.renames", "command"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2027-01-01"], "--at goes with --dry-run"),
        (["--dry-run", "--at", "next tuesday"], "is not a date"),
        (["--task", "nope"], "No such task: nope"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
