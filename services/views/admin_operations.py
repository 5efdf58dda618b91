"""Operations in flight and failed deliveries, for staff: the list, "retry now", "give up".

A module call that failed with a retryable error is tried again by itself with backoff
(``services.retries``); staff see here everything that is in flight or failed, and may
try again at once (a panel back up) or give an operation up (the resource was dealt with
by hand). Both are POSTs; both go through the lifecycle.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from clientxcms.access import StaffRequiredMixin, signed_in_user
from delivery.modules.base import ModuleError
from services import lifecycle, retries
from services.choices import EventSource, ServiceStatus
from services.lifecycle import LifecycleError, Outcome
from services.models import Service

#: Rows on the page: the oldest first, which are the ones to look at.
PAGE_ROWS = 200


def _back(request: HttpRequest, pk: int) -> HttpResponse:
    """Back to the page the button was on: the operations list or the service."""
    if request.POST.get("back") == "operations":
        return redirect("admin:service_operations")
    return redirect("admin:service_detail", pk=pk)


class OperationListView(StaffRequiredMixin, TemplateView):
    """``/admin/services/operations/``: what is in flight, waiting for a retry, or failed."""

    permission_required = "services.view_service"
    template_name = "services/admin/operations.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = list(
            retries.needing_attention()
            .select_related("customer", "server")
            .order_by(F("operation_started_at").asc(nulls_last=True), "-updated_at", "-id")[
                : PAGE_ROWS + 1
            ]
        )
        return super().get_context_data(
            services=rows[:PAGE_ROWS],
            more=len(rows) > PAGE_ROWS,
            page_rows=PAGE_ROWS,
            can_change=self.request.user.has_perm("services.change_service"),
            **kwargs,
        )


class OperationRetryView(StaffRequiredMixin, View):
    """``POST /admin/services/<pk>/operation/retry/``: try the operation again now.

    An operation in flight is taken over at once; a failed delivery that was given up is
    delivered again.
    """

    permission_required = "services.change_service"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service, pk=pk)
        actor = signed_in_user(request)
        try:
            if service.operation:
                outcome = lifecycle.resume(pk, force=True)
            elif service.status == ServiceStatus.PENDING:
                outcome = lifecycle.deliver(pk, actor=actor, source=EventSource.ADMIN)
            else:
                outcome = Outcome(service, changed=False, message=_("nothing is in progress"))
        except (LifecycleError, ModuleError) as exc:
            messages.error(request, exc.message)
            return _back(request, pk)
        if outcome.waiting:
            messages.info(
                request, _("Service #%(id)s: %(message)s.") % {"id": pk, "message": outcome.message}
            )
        elif outcome.changed:
            messages.success(
                request, _("Service #%(id)s: the operation went through.") % {"id": pk}
            )
        else:
            messages.info(
                request,
                _("Nothing to do for service #%(id)s: %(message)s.")
                % {"id": pk, "message": outcome.message},
            )
        return _back(request, pk)


class OperationAbandonView(StaffRequiredMixin, View):
    """``POST /admin/services/<pk>/operation/give-up/``: stop trying; the status stays."""

    permission_required = "services.change_service"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(Service, pk=pk)
        try:
            outcome = lifecycle.abandon(pk, actor=signed_in_user(request))
        except LifecycleError as exc:
            messages.error(request, exc.message)
            return _back(request, pk)
        if outcome.changed:
            messages.success(
                request, _("Service #%(id)s: the operation was given up.") % {"id": pk}
            )
        else:
            messages.info(
                request,
                _("Nothing to do for service #%(id)s: %(message)s.")
                % {"id": pk, "message": outcome.message},
            )
        return _back(request, pk)
