"""The actions of a service's details page: one POST endpoint, one lifecycle call each.

``ACTIONS`` lists them with their form, their confirmation text and when they are
offered. Whether an action is offered comes from the status rules of
``services.choices`` (the same table the lifecycle checks), so the page and the
lifecycle cannot drift apart; the lifecycle still decides, and its refusal is shown on
the details page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View

from clientxcms.access import StaffRequiredMixin
from customers.models import User
from delivery.modules.base import ModuleError
from products.choices import BillingCycle
from services import lifecycle
from services.choices import (
    ACTION_TRANSITIONS,
    DELETABLE,
    LIVE,
    RENEWABLE,
    EventSource,
    ServiceStatus,
)
from services.forms import (
    CancelForm,
    ConfirmForm,
    RenewForm,
    ServiceActionForm,
    ShiftExpirationForm,
    SuspendForm,
)
from services.lifecycle import LifecycleError
from services.models import Service

S = ServiceStatus
ADMIN = EventSource.ADMIN
Run = Callable[[Service, User, ServiceActionForm], Service | None]


def starts_from(operation: str) -> Callable[[Service], bool]:
    """Whether a service's status is one that ``operation`` moves from (choices.py)."""
    sources, _target = ACTION_TRANSITIONS[operation]
    return lambda service: service.status in sources


def _renewable(service: Service) -> bool:
    return (
        service.status in RENEWABLE
        and service.billing_cycle != BillingCycle.ONE_TIME
        and service.expires_at is not None
        and (service.max_renewals is None or service.renewal_count < service.max_renewals)
    )


def _deletable(service: Service) -> bool:
    return service.status in DELETABLE and not (service.status == S.PENDING and service.external_id)


@dataclass(frozen=True)
class Action:
    """One action of the details page: how it is offered, confirmed and run."""

    key: str
    label: str
    icon: str
    style: str
    confirm: str
    form_class: type[ServiceActionForm]
    offered: Callable[[Service], bool]
    run: Run
    done: str | Callable[[Service], str]
    permission: str = "services.change_service"

    def title(self, service: Service) -> str:
        if self.key == "deliver" and service.last_delivery_error:
            return "Retry delivery"
        return self.label

    def success_message(self, pk: int, result: Service | None) -> str:
        done = self.done(result) if callable(self.done) and result is not None else self.done
        return f"Service #{pk} {done}."

    def noop_message(self, pk: int, result: Service) -> str:
        """What to say when the lifecycle had nothing to do (a repeated request)."""
        if self.key in ACTION_TRANSITIONS:
            return f"Nothing to do: service #{pk} is already {S(result.status).label.lower()}."
        return f"Nothing to do: service #{pk} is unchanged."


def _reason(form: ServiceActionForm) -> str:
    return form.cleaned_data.get("reason", "")


def _cancelled(service: Service) -> str:
    if service.status == S.CANCELLED:
        return "cancelled"
    return f"will be cancelled at the end of its paid period ({service.cancel_at:%Y-%m-%d})"


ACTIONS: dict[str, Action] = {
    action.key: action
    for action in [
        Action(
            key="deliver",
            label="Deliver",
            icon="box-arrow-up-right",
            style="success",
            confirm="The delivery module will create the service's resource on its server, "
            "and the service will become active.",
            form_class=ConfirmForm,
            offered=starts_from("deliver"),
            run=lambda s, u, f: lifecycle.deliver(s.pk, actor=u, source=ADMIN),
            done="delivered",
        ),
        Action(
            key="suspend",
            label="Suspend",
            icon="pause-circle",
            style="warning",
            confirm="The service will be stopped on its server; its data is kept.",
            form_class=SuspendForm,
            offered=starts_from("suspend"),
            run=lambda s, u, f: lifecycle.suspend(
                s.pk, actor=u, source=ADMIN, reason=_reason(f), notify=f.cleaned_data["notify"]
            ),
            done="suspended",
        ),
        Action(
            key="unsuspend",
            label="Unsuspend",
            icon="play-circle",
            style="success",
            confirm="The service will be started again on its server.",
            form_class=SuspendForm,
            offered=starts_from("unsuspend"),
            run=lambda s, u, f: lifecycle.unsuspend(
                s.pk, actor=u, source=ADMIN, reason=_reason(f), notify=f.cleaned_data["notify"]
            ),
            done="unsuspended",
        ),
        Action(
            key="renew",
            label="Renew",
            icon="arrow-repeat",
            style="primary",
            confirm="The expiration moves forward by the number of cycles, from the current "
            "expiration date.",
            form_class=RenewForm,
            offered=_renewable,
            run=lambda s, u, f: lifecycle.renew(
                s.pk, actor=u, source=ADMIN, cycles=f.cleaned_data["cycles"]
            ),
            done=lambda s: f"renewed until {s.expires_at:%Y-%m-%d}",
        ),
        Action(
            key="shift_expiration",
            label="Add or subtract days",
            icon="calendar-plus",
            style="secondary",
            confirm="The expiration date moves by this many days. This is not a renewal.",
            form_class=ShiftExpirationForm,
            offered=lambda s: s.status in LIVE and s.expires_at is not None,
            run=lambda s, u, f: lifecycle.shift_expiration(
                s.pk, days=f.signed_days, actor=u, source=ADMIN, reason=_reason(f)
            ),
            done=lambda s: f"now expires on {s.expires_at:%Y-%m-%d}",
        ),
        Action(
            key="cancel",
            label="Cancel the service",
            icon="x-circle",
            style="danger",
            confirm="Cancelling now removes the service from its server. Cancelling at the end "
            "of the paid period keeps it running until its expiration.",
            form_class=CancelForm,
            offered=starts_from("cancel"),
            run=lambda s, u, f: lifecycle.cancel(
                s.pk, actor=u, source=ADMIN, when=f.cleaned_data["when"], reason=_reason(f)
            ),
            done=_cancelled,
        ),
        Action(
            key="uncancel",
            label="Undo the scheduled cancellation",
            icon="arrow-counterclockwise",
            style="secondary",
            confirm="The service will no longer be cancelled at the end of its paid period.",
            form_class=ServiceActionForm,
            offered=lambda s: s.cancel_at is not None and s.status in LIVE,
            run=lambda s, u, f: lifecycle.uncancel(s.pk, actor=u, source=ADMIN, reason=_reason(f)),
            done="will no longer be cancelled",
        ),
        Action(
            key="terminate",
            label="Terminate",
            icon="slash-circle",
            style="danger",
            confirm="The service will be deleted from the server, the service status will be "
            "set to terminated.",
            form_class=ServiceActionForm,
            offered=starts_from("terminate"),
            run=lambda s, u, f: lifecycle.terminate(s.pk, actor=u, source=ADMIN, reason=_reason(f)),
            done="terminated",
        ),
        Action(
            key="delete",
            label="Delete the service",
            icon="trash",
            style="danger",
            confirm="The service will be deleted from the panel. Nothing remains on its server; "
            "its history and renewals are kept.",
            form_class=ServiceActionForm,
            offered=_deletable,
            run=lambda s, u, f: lifecycle.delete(s.pk, actor=u, source=ADMIN, reason=_reason(f)),
            done="deleted",
            permission="services.delete_service",
        ),
    ]
}


@dataclass(frozen=True)
class OfferedAction:
    """An action as the details page shows it: its title and an empty form for the dialog."""

    action: Action
    title: str
    form: ServiceActionForm
    url: str


def offered_actions(service: Service, user: User) -> list[OfferedAction]:
    """The actions valid for ``service``'s status that ``user`` may run, in page order."""
    return [
        OfferedAction(
            action=action,
            title=action.title(service),
            form=action.form_class(service=service, prefix=action.key),
            url=reverse("admin:service_action", args=[service.pk, action.key]),
        )
        for action in ACTIONS.values()
        if action.offered(service) and user.has_perm(action.permission)
    ]


class ServiceActionView(StaffRequiredMixin, View):
    """``POST /admin/services/<pk>/actions/<action>/``: run one action through the lifecycle.

    The lifecycle is asked even for an action the page did not offer: it is the one
    that decides, and its refusal becomes an error message. A module failure is
    recorded in the history by the lifecycle and shown the same way.
    """

    http_method_names = ["post"]
    action: Action

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.action = ACTIONS[kwargs["action"]]
        except KeyError:
            raise Http404("No such action.") from None
        return super().dispatch(request, *args, **kwargs)

    def get_permission_required(self) -> tuple[str, ...]:
        return (self.action.permission,)

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        service = get_object_or_404(Service, pk=pk)
        form = self.action.form_class(request.POST, service=service, prefix=action)
        if not form.is_valid():
            errors = " ".join(error for errors in form.errors.values() for error in errors)
            messages.error(request, f"{self.action.title(service)}: {errors}")
            return redirect("admin:service_detail", pk=pk)
        try:
            result = self.action.run(service, request.user, form)
        except (LifecycleError, ModuleError) as exc:
            messages.error(request, exc.message)
            return redirect("admin:service_detail", pk=pk)
        if result is None:
            messages.success(request, self.action.success_message(pk, result))
            return redirect("admin:service_list")
        if result.updated_at == service.updated_at:
            messages.info(request, self.action.noop_message(pk, result))
        else:
            messages.success(request, self.action.success_message(pk, result))
        return redirect("admin:service_detail", pk=pk)
