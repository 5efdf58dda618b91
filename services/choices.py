"""Service statuses, their badge colours, and the table of allowed transitions (DESIGN.md §2)."""

from django.db import models


class ServiceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    TERMINATED = "terminated", "Terminated"


STATUS_BADGES = {
    ServiceStatus.PENDING: "warning",
    ServiceStatus.ACTIVE: "success",
    ServiceStatus.SUSPENDED: "danger",
    ServiceStatus.EXPIRED: "secondary",
    ServiceStatus.CANCELLED: "dark",
    ServiceStatus.TERMINATED: "dark",
}

S = ServiceStatus

#: Every allowed (from, to) move. Anything else is refused; reaching the state a
#: service is already in does nothing.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (S.PENDING, S.ACTIVE),
        (S.PENDING, S.CANCELLED),
        (S.ACTIVE, S.SUSPENDED),
        (S.SUSPENDED, S.ACTIVE),
        (S.ACTIVE, S.EXPIRED),
        (S.SUSPENDED, S.EXPIRED),
        (S.EXPIRED, S.ACTIVE),
        (S.ACTIVE, S.CANCELLED),
        (S.SUSPENDED, S.CANCELLED),
        (S.EXPIRED, S.CANCELLED),
        (S.ACTIVE, S.TERMINATED),
        (S.SUSPENDED, S.TERMINATED),
        (S.EXPIRED, S.TERMINATED),
    }
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


class CancelWhen(models.TextChoices):
    NOW = "now", "Now"
    END_OF_PERIOD = "end_of_period", "At the end of the paid period"
