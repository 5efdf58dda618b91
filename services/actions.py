"""The catalogue of actions on a service: one entry per lifecycle operation.

Each entry says how the action is named (its label, the verb of its messages, its title
in the history), the permission it needs, whether it e-mails the customer and with what
subject, and, when staff can run it from the details page, how that page offers it
(icon, style, confirmation text, settings form), and the settings a bulk action of the
service list asks. The details page, bulk actions, the
history and the notifications read this catalogue; *whether* an action applies to a
given service is the rule book's answer (``services.rules``), and running it is
``lifecycle.perform``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils.formats import date_format
from django.utils.timezone import localtime

from .choices import ServiceAction
from .forms.actions import (
    CancelForm,
    ConfirmForm,
    RenewForm,
    ServiceActionForm,
    ShiftExpirationForm,
    SuspendForm,
)
from .models import Service

A = ServiceAction
CHANGE = "services.change_service"


@dataclass(frozen=True)
class Button:
    """How the details page offers an action: its look, its dialog, its success message."""

    icon: str
    style: str
    confirm: str
    form_class: type[ServiceActionForm]
    done: str | Callable[[Service], str]


@dataclass(frozen=True)
class ActionSpec:
    key: ServiceAction
    verb: str
    title: str
    permission: str = CHANGE
    notify_subject: str = ""
    button: Button | None = None
    #: The settings a bulk action asks (fields of ``forms.bulk.ActionSettingsForm``);
    #: empty when the list does not offer the action in bulk.
    bulk_fields: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str(self.key.label)

    @property
    def notifies(self) -> bool:
        return bool(self.notify_subject)

    def failure_title(self) -> str:
        return f"Could not {self.verb} the service"

    def success_message(self, service: Service) -> str:
        assert self.button is not None
        done = self.button.done(service) if callable(self.button.done) else self.button.done
        return f"Service #{service.pk} {done}."


def _day(moment: datetime | None) -> str:
    """A date in a message as on every page: the local day, in the locale's format."""
    return "" if moment is None else date_format(localtime(moment), "DATE_FORMAT")


def _cancelled(service: Service) -> str:
    if service.cancel_at is None:
        return "cancelled"
    return f"will be cancelled at the end of its paid period ({_day(service.cancel_at)})"


_SPECS = [
    ActionSpec(A.CREATE, "create", "Created"),
    ActionSpec(
        A.DELIVER,
        "deliver",
        "Delivered",
        notify_subject="Your service {name} is ready",
        button=Button(
            icon="box-arrow-up-right",
            style="success",
            confirm="The delivery module will create the service's resource on its server, "
            "and the service will become active.",
            form_class=ConfirmForm,
            done="delivered",
        ),
    ),
    ActionSpec(A.IMPORT, "import", "Imported"),
    ActionSpec(
        A.SUSPEND,
        "suspend",
        "Suspended",
        notify_subject="Your service {name} has been suspended",
        button=Button(
            icon="pause-circle",
            style="warning",
            confirm="The service will be stopped on its server; its data is kept.",
            form_class=SuspendForm,
            done="suspended",
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(
        A.UNSUSPEND,
        "unsuspend",
        "Unsuspended",
        notify_subject="Your service {name} is active again",
        button=Button(
            icon="play-circle",
            style="success",
            confirm="The service will be started again on its server.",
            form_class=SuspendForm,
            done="unsuspended",
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(A.EXPIRE, "expire", "Expired", notify_subject="Your service {name} has expired"),
    ActionSpec(
        A.RENEW,
        "renew",
        "Renewed",
        notify_subject="Your service {name} has been renewed",
        button=Button(
            icon="arrow-repeat",
            style="primary",
            confirm="The expiration moves forward by the number of cycles, from the current "
            "expiration date.",
            form_class=RenewForm,
            done=lambda s: f"renewed until {_day(s.expires_at)}",
        ),
        bulk_fields=("cycles", "notify"),
    ),
    ActionSpec(
        A.SHIFT_EXPIRATION,
        "move the expiration of",
        "Expiration moved",
        button=Button(
            icon="calendar-plus",
            style="secondary",
            confirm="The expiration date moves by this many days. This is not a renewal.",
            form_class=ShiftExpirationForm,
            done=lambda s: f"now expires on {_day(s.expires_at)}",
        ),
        bulk_fields=("days", "reason"),
    ),
    ActionSpec(
        A.CANCEL,
        "cancel",
        "Cancelled",
        notify_subject="Your service {name} has been cancelled",
        button=Button(
            icon="x-circle",
            style="danger",
            confirm="Cancelling now removes the service from its server. Cancelling at the end "
            "of the paid period keeps it running until its expiration.",
            form_class=CancelForm,
            done=_cancelled,
        ),
        bulk_fields=("when", "reason", "notify"),
    ),
    ActionSpec(
        A.SCHEDULE_CANCEL,
        "schedule the cancellation of",
        "Cancellation scheduled",
        notify_subject="Your service {name} will be cancelled",
    ),
    ActionSpec(
        A.UNCANCEL,
        "undo the cancellation of",
        "Scheduled cancellation undone",
        button=Button(
            icon="arrow-counterclockwise",
            style="secondary",
            confirm="The service will no longer be cancelled at the end of its paid period.",
            form_class=ServiceActionForm,
            done="will no longer be cancelled",
        ),
    ),
    ActionSpec(
        A.TERMINATE,
        "terminate",
        "Terminated",
        notify_subject="Your service {name} has been terminated",
        button=Button(
            icon="slash-circle",
            style="danger",
            confirm="The service will be deleted from the server, the service status will be "
            "set to terminated.",
            form_class=ServiceActionForm,
            done="terminated",
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(A.UPDATE, "edit", "Edited"),
    ActionSpec(A.PANEL, "use the panel on", "Panel action"),
    ActionSpec(
        A.DELETE,
        "delete",
        "Deleted",
        permission="services.delete_service",
        button=Button(
            icon="trash",
            style="danger",
            confirm="The service will be deleted from the panel. Nothing remains on its "
            "server; its history and renewals are kept.",
            form_class=ServiceActionForm,
            done="deleted",
        ),
        bulk_fields=("reason",),
    ),
]

#: Every action, by key, in the order the details page lists its buttons.
CATALOGUE: dict[str, ActionSpec] = {spec.key: spec for spec in _SPECS}
assert set(CATALOGUE) == set(ServiceAction), "every ServiceAction needs a catalogue entry"


def spec(action: str) -> ActionSpec:
    return CATALOGUE[action]
