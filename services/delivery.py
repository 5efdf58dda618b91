"""Delivering a service when nobody is there to press the button (a paid order's)."""

from __future__ import annotations

import logging

from delivery.modules.base import ModuleError
from delivery.registry import UnknownModule, get_module

from . import lifecycle
from .choices import EventSource, ServiceStatus
from .lifecycle import LifecycleError
from .models import Service

logger = logging.getLogger(__name__)


def deliver_if_automatic(service_id: int) -> str:
    """Deliver the service through the lifecycle when its module delivers by itself.

    Returns what happened, for the task's result: delivered, installing (the panel is
    still working on it: a task follows it), waiting (a manual module, or a refusal such
    as no server), failed (the module's error, kept on the service), gone.
    """
    service = Service.objects.filter(pk=service_id, status=ServiceStatus.PENDING).first()
    if service is None:
        return "gone"
    try:
        automatic = get_module(service.module).delivers_automatically
    except UnknownModule:
        automatic = False
    if not automatic:
        return "waiting"
    try:
        outcome = lifecycle.deliver(service.pk, actor=None, source=EventSource.AUTOMATION)
    except LifecycleError as exc:
        logger.info("Service %s waits for staff: %s", service_id, exc.message)
        return "waiting"
    except ModuleError:
        return "failed"
    return "installing" if outcome.waiting else "delivered"
