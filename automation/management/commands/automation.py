"""``manage.py automation``: the periodic tasks once, or what they would do, or a tick loop.

- ``--dry-run [--at DATE]``: per task, what it would do now or at DATE (which invoices,
  which reminders, which services expire or terminate), changing nothing. At a later date
  it asks each task's due query as of then over today's data: what earlier steps would
  have changed by then (a service expired in between) is not played forward;
- no option: every enabled task runs once, here, recorded like a scheduled run;
- ``--every SECONDS``: beat's tick in a loop, for the embedded mode, which has no beat
  (``make run``): tasks then run in-process as they come due.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from automation import registry, runner, schedule
from automation.models import RunTrigger


def parse_moment(value: str) -> dt.datetime:
    """``2027-01-15`` (midnight) or ``2027-01-15 09:30``, in the server's time zone."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--at: {value!r} is not a date (2027-01-15 or 2027-01-15 09:30).")
        moment = dt.datetime.combine(day, dt.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Run the periodic tasks once, show what they would do (--dry-run), or tick (--every)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="change nothing; show")
        parser.add_argument("--at", help="with --dry-run: as of this date (2027-01-15 09:30)")
        parser.add_argument("--task", action="append", help="only this task (repeatable)")
        parser.add_argument("--limit", type=int, default=20, help="rows shown per task")
        parser.add_argument("--every", type=float, help="tick every SECONDS until stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        tasks = self._tasks(options["task"])
        if options["at"] and not options["dry_run"]:
            raise CommandError("--at goes with --dry-run: tasks only run now.")
        if options["every"]:
            self._loop(options["every"])
        elif options["dry_run"]:
            at = parse_moment(options["at"]) if options["at"] else timezone.now()
            self._dry_run(tasks, at, options["limit"])
        else:
            self._run(tasks)

    def _tasks(self, keys: list[str] | None) -> list[registry.PeriodicTask]:
        if not keys:
            return registry.tasks()
        known = {task.key: task for task in registry.tasks()}
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise CommandError(f"No such task: {', '.join(unknown)}. Tasks: {', '.join(known)}.")
        return [known[key] for key in keys]

    def _dry_run(self, tasks: list[registry.PeriodicTask], at: dt.datetime, limit: int) -> None:
        self.stdout.write(
            f"Dry run as of {timezone.localtime(at):%Y-%m-%d %H:%M %Z}: nothing changes."
        )
        for task in tasks:
            due = task.due(at)
            count = due.count()
            state = "" if registry.enabled(task) else " (switched off: it would not run)"
            self.stdout.write(self.style.MIGRATE_HEADING(f"\n{task.label} [{task.key}]{state}"))
            if not count:
                self.stdout.write("  nothing due")
                continue
            self.stdout.write(f"  {count} due")
            # No ORDER BY: with one, PostgreSQL may walk the primary key (claims.py).
            for row in due.order_by()[:limit]:
                self.stdout.write(f"  - {task.describe(row)}")
            if count > limit:
                self.stdout.write(f"  ... and {count - limit} more")

    def _run(self, tasks: list[registry.PeriodicTask]) -> None:
        for task in tasks:
            if not registry.enabled(task):
                self.stdout.write(f"{task.label}: switched off, not run")
                continue
            run = runner.run_now(task.key, trigger=RunTrigger.COMMAND)
            line = (
                f"{task.label}: {run.get_state_display().lower()}, {run.done} done, "
                f"{run.skipped} skipped, {run.failed} failed"
            )
            if run.error:
                line += f" ({run.error})"
            self.stdout.write(line)
            for failure in run.failures:
                self.stdout.write(f"  #{failure['pk']}: {failure['message']}")

    def _loop(self, seconds: float) -> None:
        self.stdout.write(f"Ticking every {seconds:g} s; Ctrl-C stops.")
        try:
            while True:
                for run in schedule.tick():
                    self.stdout.write(f"{timezone.localtime():%H:%M:%S} ran {run.task}")
                time.sleep(seconds)
        except KeyboardInterrupt:
            return
