"""The actions of a service's details page: one POST endpoint, one lifecycle call each.

The buttons come from the action catalogue (``services.actions``); a button is offered
when the rule book (``services.rules``) allows its action on the service, the same
answer the lifecycle decides from. The lifecycle still decides, and its refusal is
shown on the details page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from clientxcms.access import StaffRequiredMixin, signed_in_user
from customers.models import User
from delivery.modules.base import ModuleError
from services import lifecycle, rules
from services.actions import CATALOGUE, ActionSpec
from services.choices import EventSource, ServiceAction
from services.forms.actions import ServiceActionForm, ShiftExpirationForm
from services.lifecycle import LifecycleError
from services.models import Service

ADMIN = EventSource.ADMIN
#: The catalogue's actions that have a button on the details page, in page order.
PAGE_ACTIONS: dict[str, ActionSpec] = {
    key: spec for key, spec in CATALOGUE.items() if spec.button is not None
}


def title(spec: ActionSpec, service: Service) -> str:
    if spec.key == ServiceAction.DELIVER and service.last_delivery_error:
        return _("Retry delivery")
    return spec.label


def offered(spec: ActionSpec, service: Service) -> bool:
    """Whether the rule book lets staff run ``spec`` on ``service`` now."""
    return rules.decide(service, spec.key, rules.Context(source=ADMIN)).allowed


def _params(form: ServiceActionForm) -> dict[str, Any]:
    params = dict(form.cleaned_data)
    if isinstance(form, ShiftExpirationForm):
        params["days"] = form.signed_days
    return params


@dataclass(frozen=True)
class OfferedAction:
    """An action as the details page shows it: its title and an empty form for the dialog."""

    action: ActionSpec
    title: str
    form: ServiceActionForm
    url: str


def offered_actions(service: Service, user: User) -> list[OfferedAction]:
    """The actions valid for ``service``'s status that ``user`` may run, in page order."""
    return [
        OfferedAction(
            action=spec,
            title=title(spec, service),
            form=spec.button.form_class(service=service, prefix=spec.key),
            url=reverse("admin:service_action", args=[service.pk, spec.key]),
        )
        for spec in PAGE_ACTIONS.values()
        if spec.button is not None and offered(spec, service) and user.has_perm(spec.permission)
    ]


class ServiceActionView(StaffRequiredMixin, View):
    """``POST /admin/services/<pk>/actions/<action>/``: run one action through the lifecycle.

    The lifecycle is asked even for an action the page did not offer: it is the one
    that decides, and its refusal becomes an error message. A module failure is
    recorded in the history by the lifecycle and shown the same way.
    """

    http_method_names = ["post"]
    spec: ActionSpec

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            self.spec = PAGE_ACTIONS[kwargs["action"]]
        except KeyError:
            raise Http404("No such action.") from None
        return super().dispatch(request, *args, **kwargs)

    def get_permission_required(self) -> tuple[str, ...]:
        return (self.spec.permission,)

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        service = get_object_or_404(Service, pk=pk)
        assert self.spec.button is not None
        form = self.spec.button.form_class(request.POST, service=service, prefix=action)
        if not form.is_valid():
            errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
            messages.error(
                request,
                _("%(action)s: %(errors)s")
                % {"action": title(self.spec, service), "errors": errors},
            )
            return redirect("admin:service_detail", pk=pk)
        try:
            outcome = lifecycle.perform(
                self.spec.key, pk, actor=signed_in_user(request), source=ADMIN, params=_params(form)
            )
        except (LifecycleError, ModuleError) as exc:
            messages.error(request, exc.message)
            return redirect("admin:service_detail", pk=pk)
        if outcome.waiting:
            messages.info(
                request, _("Service #%(id)s: %(message)s.") % {"id": pk, "message": outcome.message}
            )
        elif not outcome.changed:
            messages.info(
                request,
                _("Nothing to do for service #%(id)s: %(message)s.")
                % {"id": pk, "message": outcome.message},
            )
        else:
            messages.success(request, self.spec.success_message(outcome.service))
        if self.spec.key == ServiceAction.DELETE:
            return redirect("admin:service_list")
        return redirect("admin:service_detail", pk=pk)
