"""What a pending service's page tells its owner while they wait for it.

Paid but not yet active, a service is either on its way (its module delivers by itself:
minutes at most) or waiting for staff to set it up by hand. Which one is the delivery
module's ``delivers_automatically``; delivery may be read from services, billing not.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from delivery.registry import UnknownModule, get_module
from services.choices import ServiceStatus

register = template.Library()

BEING_DELIVERED = _("Being delivered")
AWAITING_SETUP = _("Awaiting setup")


@register.simple_tag
def pending_delivery(service: Any) -> str:
    """ "Being delivered" or "Awaiting setup" for a pending service; "" otherwise."""
    if service.status != ServiceStatus.PENDING:
        return ""
    try:
        automatic = get_module(service.module).delivers_automatically
    except UnknownModule:
        automatic = False  # nobody can deliver it but staff
    return str(BEING_DELIVERED if automatic else AWAITING_SETUP)
