"""Server statuses, with the badge colour each one shows in the administration area."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ServerStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("server", "Active")
    HIDDEN = "hidden", pgettext_lazy("server", "Hidden")
    DISABLED = "disabled", pgettext_lazy("server", "Disabled")


SERVER_STATUS_BADGES = {
    ServerStatus.ACTIVE: "success",
    ServerStatus.HIDDEN: "secondary",
    ServerStatus.DISABLED: "danger",
}


class PlacementStrategy(models.TextChoices):
    """How a server group spreads new services over its servers (``services.placement``)."""

    LEAST_FULL = "least_full", _("Least full first (spread the services)")
    FILL_UNTIL_FULL = "fill_until_full", _("Fill until full (the fullest with room, then the next)")
