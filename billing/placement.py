"""Where a new service goes: the active server of its module with the most room.

Paying an order places each new service here (``payments._create_service``), and the
catalogue asks the same question beforehand, so that a product nobody could deliver is
shown as such instead of being sold: both read the one rule below.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.registry import UnknownModule, get_module
from services.choices import LIVE


def _servers(modules: Iterable[str]) -> QuerySet[Server]:
    """The servers of ``modules`` that take new services, the least used first."""
    return (
        Server.objects.filter(module__in=list(modules))
        .exclude(status=ServerStatus.DISABLED)
        .annotate(used=Count("services", filter=Q(services__status__in=LIVE)))
        .order_by("used", "pk")
    )


def _has_room(server: Server) -> bool:
    return server.max_accounts is None or server.used < server.max_accounts  # type: ignore[attr-defined]  # annotated


def room_for(module: str) -> Server | None:
    """The active server of ``module`` with the most room, or None (staff place it)."""
    return next((server for server in _servers([module]) if _has_room(server)), None)


def deliverable_modules(modules: Iterable[str]) -> set[str]:
    """Which of ``modules`` can take a new service now, in one query whatever their number.

    A module that needs no server always can; one that needs a server can when one of its
    active servers has room; a module that is no longer registered cannot.
    """
    wanted = set(modules)
    deliverable: set[str] = set()
    needing_server: set[str] = set()
    for key in wanted:
        try:
            module = get_module(key)
        except UnknownModule:
            continue
        (needing_server if module.requires_server else deliverable).add(key)
    if needing_server:
        deliverable |= {s.module for s in _servers(needing_server) if _has_room(s)}
    return deliverable
