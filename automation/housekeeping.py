"""The automation's own daily task: runs older than ``AUTOMATION_RUN_DAYS`` are deleted.

Tasks that run every minute leave some three thousand runs a day; a month of them is
enough to see what happened, and the failures of a run are in it, not elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from clientxcms.claims import ClaimResult

from . import options, registry
from .models import TaskRun

RUN_DAYS = "automation.run_days"
#: Rows deleted per statement: short statements, no long lock.
BATCH = 5000

#: Marks the option's and the task's texts: translated when shown (lazy strings the
#: registries hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


def old_runs(now: dt.datetime) -> QuerySet[TaskRun]:
    keep = dt.timedelta(days=int(options.get(RUN_DAYS)))
    return TaskRun.objects.filter(queued_at__lt=now - keep)


def prune_runs(now: dt.datetime) -> ClaimResult:
    result = ClaimResult()
    while keys := list(old_runs(now).values_list("pk", flat=True)[:BATCH]):
        result.done += TaskRun.objects.filter(pk__in=keys).delete()[0]
    return result


def register() -> None:
    options.register(
        options.Option(
            key=RUN_DAYS,
            label=_("Days the runs are kept"),
            help_text=_("Runs of the periodic tasks older than this are deleted every day."),
            default=lambda: settings.AUTOMATION_RUN_DAYS,
            minimum=1,
            maximum=3650,
            group=_("Schedule"),
        )
    )
    registry.register(
        registry.PeriodicTask(
            key="automation.prune_runs",
            label=_("Old automation runs deleted"),
            description=_("Deletes the records of the periodic tasks' runs past their keeping."),
            run=prune_runs,
            due=old_runs,
            describe=lambda run: f"Run #{run.pk} of {run.task} ({run.queued_at:%Y-%m-%d %H:%M})",
        )
    )
