"""Service statuses, their badge colours, and the table of allowed transitions (DESIGN.md §2)."""

from django.db import models


class ServiceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    TERMINATED = "terminated", "Terminated"


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

    CREATE = "create", "Create"
    DELIVER = "deliver", "Deliver"
    IMPORT = "import", "Import"
    SUSPEND = "suspend", "Suspend"
    UNSUSPEND = "unsuspend", "Unsuspend"
    EXPIRE = "expire", "Expire"
    RENEW = "renew", "Renew"
    CANCEL = "cancel", "Cancel"
    SCHEDULE_CANCEL = "schedule_cancel", "Schedule the cancellation"
    UNCANCEL = "uncancel", "Undo the scheduled cancellation"
    TERMINATE = "terminate", "Terminate"
    SHIFT_EXPIRATION = "shift_expiration", "Add or subtract days"
    UPDATE = "update", "Edit"
    DELETE = "delete", "Delete"
    PANEL = "panel", "Panel action"


class OperationState(models.TextChoices):
    """Where an operation in flight on a service stands (DESIGN.md, "The lifecycle layer").

    ``calling``: claimed, its module call under way (or its process died: taken over once
    due). ``waiting``: the panel accepted it and is still working (an install), followed by
    a task. ``following``: a task is asking the panel whether it finished. ``retrying``: the
    call failed with a retryable error and is tried again once due.
    """

    CALLING = "calling", "In progress"
    WAITING = "waiting", "Waiting for the panel"
    FOLLOWING = "following", "Checking with the panel"
    RETRYING = "retrying", "Failed, will be retried"


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

    ADMIN = "admin", "Administration area"
    CLIENT = "client", "Client area"
    AUTOMATION = "automation", "Automation"
    API = "api", "API"
    #: Staff importing services from a CSV file (``services.csv_import``); the import of
    #: one resource from its panel is an ``import`` action from the administration area.
    CSV_IMPORT = "csv_import", "CSV import"


class CancelWhen(models.TextChoices):
    NOW = "now", "Now"
    END_OF_PERIOD = "end_of_period", "At the end of the paid period"


class BulkAction(models.TextChoices):
    """The bulk actions of the service list (the seed's "Bulk Actions")."""

    SUSPEND = "suspend", "Suspend"
    UNSUSPEND = "unsuspend", "Unsuspend"
    CANCEL = "cancel", "Cancel"
    TERMINATE = "terminate", "Terminate"
    DELETE = "delete", "Delete"
    RENEW = "renew", "Renew"
    ADD_DAYS = "add_days", "Add days"
    SUBTRACT_DAYS = "subtract_days", "Subtract days"


class BulkStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Finished"


class BulkItemState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


BULK_ITEM_BADGES = {
    BulkItemState.PENDING: "secondary",
    BulkItemState.RUNNING: "info",
    BulkItemState.DONE: "success",
    BulkItemState.SKIPPED: "warning",
    BulkItemState.FAILED: "danger",
}
