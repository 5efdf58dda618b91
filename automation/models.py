"""What the automation keeps: the settings staff changed (with their history), each
periodic task's schedule, every run of a task, and beat's heartbeat."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OptionValue(models.Model):
    """A setting an administrator changed; a setting without a row has its default
    (``automation.options``)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"


class OptionChange(models.Model):
    """One change of a setting: who, when, from what to what."""

    key = models.CharField(max_length=100)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.key}: {self.old_value!r} -> {self.new_value!r}"


class RunState(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("automation run", "Queued")
    RUNNING = "running", pgettext_lazy("automation run", "Running")
    FINISHED = "finished", pgettext_lazy("automation run", "Finished")
    CRASHED = "crashed", pgettext_lazy("automation run", "Crashed")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", pgettext_lazy("run trigger", "Schedule")
    STAFF = "staff", _("Staff")
    COMMAND = "command", pgettext_lazy("run trigger", "Command")


class TaskRun(models.Model):
    """One run of a periodic task: when, how long, what it did and what failed.

    ``failures`` keeps the first ``automation.runner.FAILURES_KEPT`` failures (row key,
    label, link, reason); ``failed`` counts them all.
    """

    task = models.CharField(max_length=100)
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    state = models.CharField(max_length=20, choices=RunState.choices, default=RunState.QUEUED)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        indexes = [models.Index(fields=["task", "-queued_at"], name="taskrun_task_recent")]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

    @property
    def duration(self) -> float | None:
        """Seconds the run took, once it has finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class TaskSchedule(models.Model):
    """When a periodic task is due next, and its latest run (one row per task)."""

    task = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.task


class Heartbeat(models.Model):
    """The last time beat's tick reached a worker (one row)."""

    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"beat at {self.beat_at:%Y-%m-%d %H:%M:%S}"
