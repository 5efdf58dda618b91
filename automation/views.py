"""Staff pages of the automation: the tasks with their last and next runs, a task's runs,
one run with its failures, and the settings with their history (issue 13)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import FormView, TemplateView

from clientxcms.access import StaffRequiredMixin, signed_in_user

from . import options, registry, runner, schedule
from .forms import OptionsForm
from .models import OptionChange, TaskRun, TaskSchedule

#: Runs listed on a task's page, and changes under the settings.
RECENT_RUNS = 50
RECENT_CHANGES = 50


def _task_or_404(key: str) -> registry.PeriodicTask:
    try:
        return registry.find(key)
    except KeyError:
        raise Http404("No such task.") from None


def describe_schedule(task: registry.PeriodicTask) -> str:
    """ "every 5 minutes", "daily at 06:00"."""
    if task.every is None:
        return _("daily at %(hour)s") % {"hour": f"{schedule.daily_hour():02d}:00"}
    seconds = int(task.every.total_seconds())
    if seconds % 3600 == 0:
        hours = seconds // 3600
        if hours == 1:
            return _("every hour")
        return ngettext("every %(count)d hour", "every %(count)d hours", hours) % {"count": hours}
    if seconds % 60 == 0:
        minutes = seconds // 60
        if minutes == 1:
            return _("every minute")
        return ngettext("every %(count)d minute", "every %(count)d minutes", minutes) % {
            "count": minutes
        }
    return ngettext("every %(count)d second", "every %(count)d seconds", seconds) % {
        "count": seconds
    }


class AutomationView(StaffRequiredMixin, TemplateView):
    """``/admin/automation/``: each task, its switch, last run, next run; beat's heartbeat."""

    permission_required = "automation.view_taskrun"
    template_name = "automation/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        tasks = registry.tasks()
        latest_ids = TaskRun.objects.values("task").annotate(latest=Max("pk")).values("latest")
        latest = {run.task: run for run in TaskRun.objects.filter(pk__in=latest_ids)}
        next_runs = dict(TaskSchedule.objects.values_list("task", "next_run_at"))
        rows = [
            {
                "task": task,
                "enabled": registry.enabled(task),
                "schedule": describe_schedule(task),
                "last_run": latest.get(task.key),
                "next_run_at": next_runs.get(task.key),
            }
            for task in tasks
        ]
        return super().get_context_data(
            rows=rows,
            pulse=schedule.pulse(),
            can_run=self.request.user.has_perm("automation.add_taskrun"),
            can_change=self.request.user.has_perm("automation.change_optionvalue"),
            **kwargs,
        )


class TaskRunsView(StaffRequiredMixin, TemplateView):
    """``/admin/automation/tasks/<key>/``: a task's latest runs."""

    permission_required = "automation.view_taskrun"
    template_name = "automation/task.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        task = _task_or_404(self.kwargs["key"])
        return super().get_context_data(
            task=task,
            schedule=describe_schedule(task),
            enabled=registry.enabled(task),
            runs=TaskRun.objects.filter(task=task.key)[:RECENT_RUNS],
            recent_runs=RECENT_RUNS,
            can_run=self.request.user.has_perm("automation.add_taskrun"),
            **kwargs,
        )


class RunDetailView(StaffRequiredMixin, TemplateView):
    """``/admin/automation/runs/<pk>/``: one run, its counts and its failures."""

    permission_required = "automation.view_taskrun"
    template_name = "automation/run.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        run = get_object_or_404(TaskRun, pk=self.kwargs["pk"])
        try:
            task: registry.PeriodicTask | None = registry.find(run.task)
        except KeyError:
            task = None  # a task no app registers any more: its past runs still show
        return super().get_context_data(
            run=run,
            task=task,
            more_failures=run.failed - len(run.failures),
            **kwargs,
        )


class RunNowView(StaffRequiredMixin, View):
    """``POST /admin/automation/tasks/<key>/run/``: queue the task for a worker at once."""

    permission_required = "automation.add_taskrun"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, key: str) -> HttpResponse:
        task = _task_or_404(key)
        run = runner.queue(task.key)
        messages.success(
            request,
            _("%(task)s: queued; this page shows the run as it goes.") % {"task": task.label},
        )
        return redirect("admin:automation_run", pk=run.pk)


class SettingsView(StaffRequiredMixin, FormView):
    """``/admin/automation/settings/``: every setting of the automation, and its history."""

    permission_required = "automation.change_optionvalue"
    template_name = "automation/settings.html"
    form_class = OptionsForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        labels = {option.key: option.label for option in options.registered()}
        changes = list(OptionChange.objects.select_related("changed_by")[:RECENT_CHANGES])
        for change in changes:
            change.label = labels.get(change.key, change.key)  # type: ignore[attr-defined]
        return super().get_context_data(changes=changes, **kwargs)

    def form_valid(self, form: OptionsForm) -> HttpResponse:
        changed = form.save(actor=signed_in_user(self.request))
        if any(option.key == schedule.DAILY_HOUR for option in changed):
            schedule.reschedule_daily(timezone.now())
        if changed:
            names = ", ".join(str(option.label) for option in changed)
            messages.success(self.request, _("Saved: %(names)s.") % {"names": names})
        else:
            messages.info(self.request, _("Nothing was changed."))
        return redirect("admin:automation_settings")

    def form_invalid(self, form: OptionsForm) -> HttpResponse:
        messages.error(self.request, _("Nothing was saved: correct the fields in red."))
        return super().form_invalid(form)
