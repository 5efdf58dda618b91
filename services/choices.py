"""Service statuses, their badge colours, and the table of allowed transitions (DESIGN.md §2)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ServiceStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("service status", "Pending")
    ACTIVE = "active", pgettext_lazy("service status", "Active")
    SUSPENDED = "suspended", pgettext_lazy("service status", "Suspended")
    EXPIRED = "expired", pgettext_lazy("service status", "Expired")
    CANCELLED = "cancelled", pgettext_lazy("service status", "Cancelled")
    TERMINATED = "terminated", pgettext_lazy("service status", "Terminated")


#: Keyed by the stored value, so a raw status string finds its colour too.
STATUS_BADGES: dict[str, str] = {
    ServiceStatus.PENDING: "warning",
    ServiceStatus.ACTIVE: "success",
    ServiceStatus.SUSPENDED: "danger",
    ServiceStatus.EXPIRED: "secondary",
    # Distinct at a glance: cancelled (stopped on request) is outlined light, terminated
    # (removed from its server, final) solid dark; each status has its own style.
    ServiceStatus.CANCELLED: "light",
    ServiceStatus.TERMINATED: "dark",
}

S = ServiceStatus


class ServiceAction(models.TextChoices):
    """Every operation of the lifecycle: the vocabulary of the history, the rule book and
    the action catalogue (``services.actions``)."""

    CREATE = "create", _("Create")
    DELIVER = "deliver", _("Deliver")
    IMPORT = "import", _("Import")
    SUSPEND = "suspend", _("Suspend")
    UNSUSPEND = "unsuspend", _("Unsuspend")
    EXPIRE = "expire", _("Expire")
    RENEW = "renew", _("Renew")
    CANCEL = "cancel", _("Cancel")
    SCHEDULE_CANCEL = "schedule_cancel", _("Schedule the cancellation")
    UNCANCEL = "uncancel", _("Undo the scheduled cancellation")
    TERMINATE = "terminate", _("Terminate")
    SHIFT_EXPIRATION = "shift_expiration", _("Add or subtract days")
    UPDATE = "update", _("Edit")
    DELETE = "delete", _("Delete")
    PANEL = "panel", _("Panel action")


class OperationState(models.TextChoices):
    """Where an operation in flight on a service stands (DESIGN.md, "The lifecycle layer").

    ``calling``: claimed, its module call under way (or its process died: taken over once
    due). ``waiting``: the panel accepted it and is still working (an install), followed by
    a task. ``following``: a task is asking the panel whether it finished. ``retrying``: the
    call failed with a retryable error and is tried again once due.
    """

    CALLING = "calling", _("In progress")
    WAITING = "waiting", _("Waiting for the panel")
    FOLLOWING = "following", _("Checking with the panel")
    RETRYING = "retrying", _("Failed, will be retried")


#: The status changes, by operation: the statuses it starts from and the one it reaches.
#: Anything else is refused; asking for the status a service already has does nothing.
#: (Renewing keeps an active or suspended service as it is and is checked on its own.)
ACTION_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "deliver": (frozenset({S.PENDING}), S.ACTIVE),
    "import": (frozenset({S.PENDING}), S.ACTIVE),
    "suspend": (frozenset({S.ACTIVE}), S.SUSPENDED),
    "unsuspend": (frozenset({S.SUSPENDED}), S.ACTIVE),
    "expire": (frozenset({S.ACTIVE, S.SUSPENDED}), S.EXPIRED),
    "renew": (frozenset({S.EXPIRED}), S.ACTIVE),
    "cancel": (frozenset({S.PENDING, S.ACTIVE, S.SUSPENDED, S.EXPIRED}), S.CANCELLED),
    "terminate": (frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED}), S.TERMINATED),
}

#: Every allowed (from, to) pair: DESIGN.md's transition table.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    (source, target) for sources, target in ACTION_TRANSITIONS.values() for source in sources
)

#: Statuses a service can be deleted from: nothing remains on the server.
DELETABLE = frozenset({S.PENDING, S.CANCELLED, S.TERMINATED})
#: Statuses whose resource still exists on the server (and so holds its external id).
LIVE = frozenset({S.PENDING, S.ACTIVE, S.SUSPENDED, S.EXPIRED})
#: Statuses from which a service can be renewed.
RENEWABLE = frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED})


class EventSource(models.TextChoices):
    """Where an operation came from."""

    ADMIN = "admin", _("Administration area")
    CLIENT = "client", _("Client area")
    AUTOMATION = "automation", _("Automation")
    API = "api", _("API")
    #: Staff importing services from a CSV file (``services.csv_import``); the import of
    #: one resource from its panel is an ``import`` action from the administration area.
    CSV_IMPORT = "csv_import", _("CSV import")


class CancelWhen(models.TextChoices):
    NOW = "now", _("Now")
    END_OF_PERIOD = "end_of_period", _("At the end of the paid period")


class BulkAction(models.TextChoices):
    """The bulk actions of the service list (the seed's "Bulk Actions")."""

    SUSPEND = "suspend", _("Suspend")
    UNSUSPEND = "unsuspend", _("Unsuspend")
    CANCEL = "cancel", _("Cancel")
    TERMINATE = "terminate", _("Terminate")
    DELETE = "delete", _("Delete")
    RENEW = "renew", _("Renew")
    ADD_DAYS = "add_days", _("Add days")
    SUBTRACT_DAYS = "subtract_days", _("Subtract days")


class BulkStatus(models.TextChoices):
    PENDING = "pending", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")


class BulkItemState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


BULK_ITEM_BADGES = {
    BulkItemState.PENDING: "secondary",
    BulkItemState.RUNNING: "info",
    BulkItemState.DONE: "success",
    BulkItemState.SKIPPED: "warning",
    BulkItemState.FAILED: "danger",
}
