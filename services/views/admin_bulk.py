"""Administration-area views of the bulk actions: confirm, follow, retry, resume, the history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import ListView

from clientxcms.access import StaffRequiredMixin, signed_in_user
from services import bulk
from services.choices import BulkAction, BulkItemState, BulkStatus
from services.filters import InvalidFilters, filter_services
from services.forms.bulk import ActionSettingsForm, SelectionForm
from services.models import BulkOperation, Service
from services.tasks import run_bulk_operation

ITEMS_PER_PAGE = 50
#: How many of the services a terminate, cancel or delete would change its confirmation names.
NAMED_ON_CONFIRM = 50


def _selected_services(selection: dict[str, Any], user: Any) -> QuerySet[Service]:
    """The ticked services, or every service matching the list's filters, run again here."""
    if selection["select_all"]:
        return filter_services(QueryDict(selection["query"]), user=user)
    return Service.objects.filter(pk__in=selection["ids"])


def _enqueue(operation: BulkOperation) -> None:
    transaction.on_commit(lambda: run_bulk_operation.delay(operation.pk))


class BulkConfirmView(StaffRequiredMixin, View):
    """Says what a bulk action will do before anything runs, then starts it.

    The list posts the selection here; the page shows how many services will change and
    how many will be skipped, and why, with the action's settings. "Update" shows the
    figures again for new settings; "Run" creates the BulkOperation and queues it.

    Counting what would change reads every selected service, so a selection of more than
    ``bulk.COUNTED_AT_ONCE`` first shows "more than" that at once, with the run button
    disabled, and the page asks for the figures in a second POST (``fragment=plan``)
    that replaces the counts and enables the button.
    """

    permission_required = "services.view_service"
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        selection_form = SelectionForm(request.POST)
        if not selection_form.is_valid():
            for error in selection_form.errors.get("__all__", []) or [
                _("This bulk action is not valid.")
            ]:
                messages.error(request, str(error))
            return redirect(f"{reverse('admin:service_list')}?{request.POST.get('query', '')}")
        selection = selection_form.cleaned_data
        action = selection["action"]
        if not request.user.has_perm(bulk.PERMISSIONS[action]):
            raise PermissionDenied
        back_url = f"{reverse('admin:service_list')}?{selection['query']}"
        try:
            services = _selected_services(selection, request.user)
        except InvalidFilters as exc:
            messages.error(request, _("The filters are not valid: %(error)s") % {"error": exc})
            return redirect(back_url)
        bound = "confirm" in request.POST or "update" in request.POST
        settings_form = ActionSettingsForm(request.POST if bound else None, action=action)
        params = _params(settings_form)
        fragment = request.POST.get("fragment") == "plan"
        if "confirm" in request.POST and not fragment and settings_form.is_valid():
            operation = BulkOperation.objects.create(
                action=action,
                params=params,
                service_ids=[] if selection["select_all"] else sorted(set(selection["ids"])),
                query=selection["query"] if selection["select_all"] else "",
                created_by=signed_in_user(request),
            )
            _enqueue(operation)
            messages.success(request, _("%(operation)s is queued.") % {"operation": operation})
            return redirect("admin:bulk_detail", pk=operation.pk)
        context: dict[str, Any] = {
            "action": BulkAction(action),
            "selection_form": selection_form,
            "selection": selection,
            "settings_form": settings_form,
            "back_url": back_url,
        }
        if (
            selection["select_all"]
            and "count" not in request.POST
            and bulk.more_than(services, bulk.COUNTED_AT_ONCE)
        ):
            # Counted by the page's own request once shown (the spinner's POST), so that
            # a large selection shows at once; without JavaScript, by a button.
            context.update(plan=None, more_than=bulk.COUNTED_AT_ONCE)
            return render(request, "services/admin/bulk_confirm.html", context)
        plan = bulk.plan(services, action, params)
        named: list[Service] = []
        if action in bulk.NAMED_ACTIONS and plan.changing:
            named = bulk.changing(services, action, params, NAMED_ON_CONFIRM)
        context.update(plan=plan, named=named, named_more=max(plan.changing - len(named), 0))
        if fragment:
            return render(request, "services/admin/_bulk_plan_fragment.html", context)
        return render(request, "services/admin/bulk_confirm.html", context)


def _params(form: ActionSettingsForm) -> dict[str, Any]:
    """The settings to preview with: the submitted ones when valid, else the defaults."""
    if form.is_bound and form.is_valid():
        return form.cleaned_data
    return {name: field.initial for name, field in form.fields.items() if field.initial is not None}


class BulkDetailView(StaffRequiredMixin, View):
    """One bulk operation: a progress bar while it runs, then the result of each service."""

    permission_required = "services.view_service"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        operation = get_object_or_404(BulkOperation.objects.select_related("created_by"), pk=pk)
        progress = bulk.progress(operation)
        may_change = request.user.has_perm(bulk.PERMISSIONS[operation.action])
        context = {
            "operation": operation,
            "progress": progress,
            "stalled_since": bulk.stalled_since(operation),
            "can_resume": may_change and bulk.can_resume(operation),
        }
        if request.GET.get("fragment") == "progress":
            response = render(request, "services/admin/_bulk_progress.html", context)
            if operation.status == BulkStatus.DONE and request.GET.get("polling"):
                # The run just ended: reload the page to show each service's result.
                response["HX-Refresh"] = "true"
            return response
        state = request.GET.get("state", "")
        items = operation.items.all()
        if state in BulkItemState.values:
            items = items.filter(state=state)
        page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            page=page,
            state=state,
            states=BulkItemState.choices,
            can_retry=may_change,
        )
        return render(request, "services/admin/bulk_detail.html", context)


class _OperationActionView(StaffRequiredMixin, View):
    """A POST on one operation, by staff who may run its action."""

    permission_required = "services.view_service"
    http_method_names = ["post"]

    def operation(self, request: HttpRequest, pk: int) -> BulkOperation:
        operation = get_object_or_404(BulkOperation, pk=pk)
        if not request.user.has_perm(bulk.PERMISSIONS[operation.action]):
            raise PermissionDenied
        return operation


class BulkRetryView(_OperationActionView):
    """Queues the failed items of an operation again."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        operation = self.operation(request, pk)
        count = bulk.retry_failed(operation)
        if count:
            _enqueue(operation)
            messages.success(
                request,
                ngettext(
                    "%(count)d failed service is queued again.",
                    "%(count)d failed services are queued again.",
                    count,
                )
                % {"count": count},
            )
        else:
            messages.info(request, _("There is no failed service to retry."))
        return redirect("admin:bulk_detail", pk=operation.pk)


class BulkResumeView(_OperationActionView):
    """Queues again an operation whose worker was lost, from its first unfinished service.

    Items already done are never applied again: the task claims pending items only.
    """

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        operation = self.operation(request, pk)
        if bulk.resume(operation):
            _enqueue(operation)
            messages.success(
                request,
                _("%(operation)s resumes from its first unfinished service.")
                % {"operation": operation},
            )
        elif operation.status == BulkStatus.DONE:
            messages.info(
                request,
                _("%(operation)s has finished: there is nothing to resume.")
                % {"operation": operation},
            )
        else:
            messages.info(
                request,
                _("%(operation)s is making progress: there is nothing to resume.")
                % {"operation": operation},
            )
        return redirect("admin:bulk_detail", pk=operation.pk)


class BulkHistoryView(StaffRequiredMixin, ListView):
    """Past bulk operations: who ran them, when, and their outcome."""

    permission_required = "services.view_service"
    template_name = "services/admin/bulk_list.html"
    context_object_name = "operations"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[BulkOperation]:
        operations = BulkOperation.objects.select_related("created_by").order_by(
            "-created_at", "-id"
        )
        return operations.annotate(
            total=Count("items"),
            **{
                f"n_{state}": Count("items", filter=Q(items__state=state))
                for state in BulkItemState.values
            },
        )
