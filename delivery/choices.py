"""Server statuses, with the badge colour each one shows in the administration area."""

from django.db import models


class ServerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    HIDDEN = "hidden", "Hidden"
    DISABLED = "disabled", "Disabled"


SERVER_STATUS_BADGES = {
    ServerStatus.ACTIVE: "success",
    ServerStatus.HIDDEN: "secondary",
    ServerStatus.DISABLED: "danger",
}


class PlacementStrategy(models.TextChoices):
    """How a server group spreads new services over its servers (``services.placement``)."""

    LEAST_FULL = "least_full", "Least full first (spread the services)"
    FILL_UNTIL_FULL = "fill_until_full", "Fill until full (the fullest with room, then the next)"
