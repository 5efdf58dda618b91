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
