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
from typing import TYPE_CHECKING

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

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

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

A = ServiceAction
CHANGE = "services.change_service"


@dataclass(frozen=True)
class Button:
    """How the details page offers an action: its look, its dialog, its success message."""

    icon: str
    style: str
    confirm: StrOrPromise
    form_class: type[ServiceActionForm]
    done: StrOrPromise | Callable[[Service], str]


@dataclass(frozen=True)
class ActionSpec:
    key: ServiceAction
    #: Said before "service #N" ("Cannot suspend service #3"); a translation ends with the
    #: article its language puts there.
    verb: StrOrPromise
    title: StrOrPromise
    permission: str = CHANGE
    #: ``{name}`` is the service's name.
    notify_subject: StrOrPromise = ""
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
        return _("Could not %(verb)s the service") % {"verb": self.verb}

    def success_message(self, service: Service) -> str:
        assert self.button is not None
        done = self.button.done(service) if callable(self.button.done) else self.button.done
        return _("Service #%(id)s %(done)s.") % {"id": service.pk, "done": done}


def _day(moment: datetime | None) -> str:
    """A date in a message as on every page: the local day, in the locale's format."""
    return "" if moment is None else date_format(localtime(moment), "DATE_FORMAT")


def _cancelled(service: Service) -> str:
    if service.cancel_at is None:
        return pgettext("after 'Service #N'", "cancelled")
    return pgettext(
        "after 'Service #N'", "will be cancelled at the end of its paid period (%(date)s)"
    ) % {"date": _day(service.cancel_at)}


_SPECS = [
    ActionSpec(
        A.CREATE, pgettext_lazy("verb before 'service #N'", "create"), gettext_lazy("Created")
    ),
    ActionSpec(
        A.DELIVER,
        pgettext_lazy("verb before 'service #N'", "deliver"),
        gettext_lazy("Delivered"),
        notify_subject=gettext_lazy("Your service {name} is ready"),
        button=Button(
            icon="box-arrow-up-right",
            style="success",
            confirm=gettext_lazy(
                "The delivery module will create the service's resource on its server, "
                "and the service will become active."
            ),
            form_class=ConfirmForm,
            done=pgettext_lazy("after 'Service #N'", "delivered"),
        ),
    ),
    ActionSpec(
        A.IMPORT, pgettext_lazy("verb before 'service #N'", "import"), gettext_lazy("Imported")
    ),
    ActionSpec(
        A.SUSPEND,
        pgettext_lazy("verb before 'service #N'", "suspend"),
        gettext_lazy("Suspended"),
        notify_subject=gettext_lazy("Your service {name} has been suspended"),
        button=Button(
            icon="pause-circle",
            style="warning",
            confirm=gettext_lazy("The service will be stopped on its server; its data is kept."),
            form_class=SuspendForm,
            done=pgettext_lazy("after 'Service #N'", "suspended"),
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(
        A.UNSUSPEND,
        pgettext_lazy("verb before 'service #N'", "unsuspend"),
        gettext_lazy("Unsuspended"),
        notify_subject=gettext_lazy("Your service {name} is active again"),
        button=Button(
            icon="play-circle",
            style="success",
            confirm=gettext_lazy("The service will be started again on its server."),
            form_class=SuspendForm,
            done=pgettext_lazy("after 'Service #N'", "unsuspended"),
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(
        A.EXPIRE,
        pgettext_lazy("verb before 'service #N'", "expire"),
        gettext_lazy("Expired"),
        notify_subject=gettext_lazy("Your service {name} has expired"),
    ),
    ActionSpec(
        A.RENEW,
        pgettext_lazy("verb before 'service #N'", "renew"),
        gettext_lazy("Renewed"),
        notify_subject=gettext_lazy("Your service {name} has been renewed"),
        button=Button(
            icon="arrow-repeat",
            style="primary",
            confirm=gettext_lazy(
                "The expiration moves forward by the number of cycles, from the current "
                "expiration date."
            ),
            form_class=RenewForm,
            done=lambda s: (
                pgettext("after 'Service #N'", "renewed until %(date)s")
                % {"date": _day(s.expires_at)}
            ),
        ),
        bulk_fields=("cycles", "notify"),
    ),
    ActionSpec(
        A.SHIFT_EXPIRATION,
        pgettext_lazy("verb before 'service #N'", "move the expiration of"),
        gettext_lazy("Expiration moved"),
        button=Button(
            icon="calendar-plus",
            style="secondary",
            confirm=gettext_lazy(
                "The expiration date moves by this many days. This is not a renewal."
            ),
            form_class=ShiftExpirationForm,
            done=lambda s: (
                pgettext("after 'Service #N'", "now expires on %(date)s")
                % {"date": _day(s.expires_at)}
            ),
        ),
        bulk_fields=("days", "reason"),
    ),
    ActionSpec(
        A.CANCEL,
        pgettext_lazy("verb before 'service #N'", "cancel"),
        gettext_lazy("Cancelled"),
        notify_subject=gettext_lazy("Your service {name} has been cancelled"),
        button=Button(
            icon="x-circle",
            style="danger",
            confirm=gettext_lazy(
                "Cancelling now removes the service from its server. Cancelling at the end "
                "of the paid period keeps it running until its expiration."
            ),
            form_class=CancelForm,
            done=_cancelled,
        ),
        bulk_fields=("when", "reason", "notify"),
    ),
    ActionSpec(
        A.SCHEDULE_CANCEL,
        pgettext_lazy("verb before 'service #N'", "schedule the cancellation of"),
        gettext_lazy("Cancellation scheduled"),
        notify_subject=gettext_lazy("Your service {name} will be cancelled"),
    ),
    ActionSpec(
        A.UNCANCEL,
        pgettext_lazy("verb before 'service #N'", "undo the cancellation of"),
        gettext_lazy("Scheduled cancellation undone"),
        button=Button(
            icon="arrow-counterclockwise",
            style="secondary",
            confirm=gettext_lazy(
                "The service will no longer be cancelled at the end of its paid period."
            ),
            form_class=ServiceActionForm,
            done=pgettext_lazy("after 'Service #N'", "will no longer be cancelled"),
        ),
    ),
    ActionSpec(
        A.TERMINATE,
        pgettext_lazy("verb before 'service #N'", "terminate"),
        gettext_lazy("Terminated"),
        notify_subject=gettext_lazy("Your service {name} has been terminated"),
        button=Button(
            icon="slash-circle",
            style="danger",
            confirm=gettext_lazy(
                "The service will be deleted from the server, the service status will be "
                "set to terminated."
            ),
            form_class=ServiceActionForm,
            done=pgettext_lazy("after 'Service #N'", "terminated"),
        ),
        bulk_fields=("reason", "notify"),
    ),
    ActionSpec(A.UPDATE, pgettext_lazy("verb before 'service #N'", "edit"), gettext_lazy("Edited")),
    ActionSpec(
        A.PANEL,
        pgettext_lazy("verb before 'service #N'", "use the panel on"),
        gettext_lazy("Panel action"),
    ),
    ActionSpec(
        A.DELETE,
        pgettext_lazy("verb before 'service #N'", "delete"),
        gettext_lazy("Deleted"),
        permission="services.delete_service",
        button=Button(
            icon="trash",
            style="danger",
            confirm=gettext_lazy(
                "The service will be deleted from the panel. Nothing remains on its "
                "server; its history and renewals are kept."
            ),
            form_class=ServiceActionForm,
            done=pgettext_lazy("after 'Service #N'", "deleted"),
        ),
        bulk_fields=("reason",),
    ),
]

#: Every action, by key, in the order the details page lists its buttons.
CATALOGUE: dict[str, ActionSpec] = {spec.key: spec for spec in _SPECS}
assert set(CATALOGUE) == set(ServiceAction), "every ServiceAction needs a catalogue entry"


def spec(action: str) -> ActionSpec:
    return CATALOGUE[action]
