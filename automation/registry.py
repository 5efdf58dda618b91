"""The periodic tasks of the service timeline, each registered by the app that owns it.

Beat runs one tick (``automation.schedule``); the tick finds the registered tasks that are
due and queues each as a Celery task of its own, so the schedule, the on/off switch and
the hour of the daily work are settings staff change in the panel, and every run is
recorded (``automation.runner``). A task states which rows are due at a given moment
(``due``), so ``manage.py automation --dry-run --at DATE`` can say what it would do, and
handles them (``run``) on the claim helper (``clientxcms.claims``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.db import models
from django.utils.translation import gettext_lazy

from clientxcms.claims import ClaimResult


@dataclass(frozen=True)
class PeriodicTask:
    """One step of the timeline.

    ``every`` is the interval of a task that runs all day (expirations); ``None`` makes it
    daily work, run once a day at the hour staff set (reminders go out in the morning, not
    at three). ``due(now)`` is the rows it would handle at ``now`` and ``describe`` one
    row in a sentence, for the dry run; ``link`` is a row's page for staff, for the
    failures listed on the run's page.
    """

    key: str
    label: str
    description: str
    run: Callable[[dt.datetime], ClaimResult]
    due: Callable[[dt.datetime], models.QuerySet[Any]]
    describe: Callable[[Any], str] = str
    every: dt.timedelta | None = None
    link: Callable[[int], str] | None = None

    @property
    def daily(self) -> bool:
        return self.every is None

    @property
    def enabled_option(self) -> str:
        """The key of the option that switches it on and off."""
        return f"automation.enabled.{self.key}"


_TASKS: dict[str, PeriodicTask] = {}


def register(task: PeriodicTask) -> PeriodicTask:
    """Add ``task`` to the timeline, with its on/off switch; again replaces it."""
    from . import options

    _TASKS[task.key] = task
    options.register(
        options.Option(
            key=task.enabled_option,
            label=task.label,
            help_text=task.description,
            default=lambda: True,
            kind=options.Kind.SWITCH,
            group=cast(str, gettext_lazy("Tasks")),
        )
    )
    return task


def tasks() -> list[PeriodicTask]:
    """Every task, in the order they run."""
    return list(_TASKS.values())


def find(key: str) -> PeriodicTask:
    try:
        return _TASKS[key]
    except KeyError:
        raise KeyError(f"no periodic task {key!r} is registered") from None


def enabled(task: PeriodicTask) -> bool:
    from . import options

    return bool(options.get(task.enabled_option))
