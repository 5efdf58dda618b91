"""Where a new service goes: a server of its product with room, chosen under a lock.

A product that names a server group places its new services on the group's servers,
by the group's strategy; one that names none, on any server of its module, the least
full first. Only active servers are offered: a hidden server keeps its services and
takes new ones only when staff choose it by hand, a disabled one takes none. A server
has room while its live services (``choices.LIVE``) are fewer than its maximum.

Paying an order (``billing.payments``) and the 20-at-once test go through
``create_placed``: in the transaction that creates the service it locks every
candidate server row (by primary key, so two placements never wait on each other in a
circle), counts their live services, picks one and creates the service, so that two
orders at once never put more services on a server than its maximum. Staff choosing a
server by hand go through ``create_on_server``, which takes the same lock on that
server. Placing an order and the catalogue ask ``deliverable`` beforehand, without a
lock: the same rule, for every product of a page in one query.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clientxcms.queries import subquery_count
from customers.models import User
from delivery.choices import PlacementStrategy, ServerStatus
from delivery.models import Server
from delivery.registry import UnknownModule, get_module
from products.models import Product

from . import lifecycle
from .choices import LIVE
from .lifecycle import LifecycleError
from .models import Service


class NoRoom(LifecycleError):
    """No server may take the new service: its message says so, for the customer or staff."""


def no_room_message(product: Product) -> str:
    return _("No server has room for %(product)s right now.") % {"product": product.name}


@dataclass(frozen=True)
class _Candidate:
    """A server as placement weighs it: its live services against its maximum."""

    server_id: int
    module: str
    group_id: int | None
    max_accounts: int | None
    used: int

    @property
    def free(self) -> float:
        """Places left; a server without a maximum never runs out."""
        return float("inf") if self.max_accounts is None else self.max_accounts - self.used


def _candidates_of(product: Product) -> Q:
    """Where automatic placement may put ``product``'s new services, as a filter."""
    where = Q(module=product.module, status=ServerStatus.ACTIVE)
    if product.server_group_id is not None:
        where &= Q(group_id=product.server_group_id)
    return where


def candidate_servers(product: Product) -> QuerySet[Server]:
    """The servers automatic placement may choose for ``product``, with or without room."""
    return Server.objects.filter(_candidates_of(product))


def _needs_server(module_key: str) -> bool:
    """Whether the module places its services on a server; an unknown one is refused."""
    try:
        return get_module(module_key).requires_server
    except UnknownModule as exc:
        raise LifecycleError(_("Cannot create the service: %(error)s") % {"error": exc}) from exc


def _known_and_needs_server(module_key: str) -> bool:
    """Whether to lock servers for the module: an unknown one is refused by ``_place``."""
    try:
        return _needs_server(module_key)
    except LifecycleError:
        return False


def _strategy(product: Product) -> str:
    group = product.server_group
    return group.strategy if group is not None else PlacementStrategy.LEAST_FULL


def choose(candidates: Iterable[_Candidate], strategy: str) -> _Candidate | None:
    """The candidate with room that ``strategy`` prefers, or None.

    Least full: the fewest live services (then the oldest server). Fill until full: the
    most live services among those with room (then the oldest), so a server is filled
    before the next is started.
    """
    with_room = [c for c in candidates if c.free > 0]
    if strategy == PlacementStrategy.FILL_UNTIL_FULL:
        return min(with_room, key=lambda c: (-c.used, c.server_id), default=None)
    return min(with_room, key=lambda c: (c.used, c.server_id), default=None)


def _live_counts(server_ids: list[int]) -> dict[int, int]:
    """Live services per server, in one query on the (server, status) index."""
    rows = (
        Service.objects.filter(server_id__in=server_ids, status__in=LIVE)
        .order_by()
        .values("server_id")
        .annotate(n=Count("pk"))
    )
    return {row["server_id"]: row["n"] for row in rows}


def lock(products: Iterable[Product]) -> None:
    """Lock the candidate servers of all ``products`` at once, in the caller's transaction.

    A payment placing several services takes its locks in one query, by primary key, the
    order every placement takes them in: no two placements wait on each other in a circle.
    """
    placed = [_candidates_of(p) for p in products if _known_and_needs_server(p.module)]
    if placed:
        servers = Server.objects.select_for_update().filter(reduce(operator.or_, placed))
        list(servers.order_by("pk").values_list("pk", flat=True))


def _place(product: Product) -> Server | None:
    """Lock ``product``'s candidate servers and pick one with room; to be called in the
    transaction that creates the service. None for a module that needs no server."""
    if not _needs_server(product.module):
        return None
    servers = {
        server.pk: server
        for server in candidate_servers(product).select_for_update().order_by("pk")
    }
    used = _live_counts(list(servers))
    chosen = choose(
        (
            _Candidate(pk, s.module, s.group_id, s.max_accounts, used.get(pk, 0))
            for pk, s in servers.items()
        ),
        _strategy(product),
    )
    if chosen is None:
        raise NoRoom(no_room_message(product))
    return servers[chosen.server_id]


def create_placed(*, product: Product, actor: User | None, source: str, **fields: Any) -> Service:
    """Create a pending service of ``product`` on the server placement chooses for it.

    ``fields`` are ``lifecycle.create``'s, without ``module`` and ``server``: the product
    gives the one, placement the other. Raises ``NoRoom`` when no server has room, and
    nothing is created. Runs in the caller's transaction when there is one (a payment),
    whose commit releases the servers' locks.
    """
    with transaction.atomic():
        server = _place(product)
        return lifecycle.create(
            actor=actor,
            source=source,
            product=product,
            module=product.module,
            server=server,
            **fields,
        )


def create_on_server(
    *, server: Server | None, actor: User | None, source: str, **fields: Any
) -> Service:
    """Create a pending service on the server staff chose, refused when it is full.

    The server row is locked while its live services are counted and the service is
    created, like an automatic placement, so staff and an order at once cannot overfill
    it. A hidden server may be chosen (staff place by hand what orders may not).
    """
    with transaction.atomic():
        if server is not None:
            locked = Server.objects.select_for_update().only("name", "max_accounts")
            limit = locked.get(pk=server.pk).max_accounts
            used = _live_counts([server.pk]).get(server.pk, 0)
            if limit is not None and used >= limit:
                raise NoRoom(
                    ngettext(
                        "%(server)s is full (%(used)d of %(limit)d service): choose another one.",
                        "%(server)s is full (%(used)d of %(limit)d services): choose another one.",
                        limit,
                    )
                    % {"server": server, "used": used, "limit": limit}
                )
        return lifecycle.create(actor=actor, source=source, server=server, **fields)


def deliverable(products: Iterable[Product], wanted: int = 1) -> set[int]:
    """The ids of ``products`` that could take ``wanted`` new services now, in one query
    whatever their number: the question the catalogue and placing an order ask.

    A product whose module needs no server always can; one whose module is no longer
    registered cannot; the others can when their candidate servers have that much room
    between them. Nothing is locked: paying the order asks again, under the lock.
    """
    products = list(products)
    able: set[int] = set()
    placed: list[Product] = []
    for product in products:
        try:
            module = get_module(product.module)
        except UnknownModule:
            continue
        if module.requires_server:
            placed.append(product)
        else:
            able.add(product.pk)
    if not placed:
        return able
    rows = (
        Server.objects.filter(module__in={p.module for p in placed}, status=ServerStatus.ACTIVE)
        .annotate(used=subquery_count(Service.objects.filter(status__in=LIVE), "server"))
        .values_list("pk", "module", "group_id", "max_accounts", "used")
    )
    servers = [_Candidate(*row) for row in rows]
    for product in placed:
        room = sum(
            c.free
            for c in servers
            if c.module == product.module
            and (product.server_group_id is None or c.group_id == product.server_group_id)
        )
        if room >= wanted:
            able.add(product.pk)
    return able


def group_usage() -> dict[str, Any]:
    """``live_service_count``: the live services on each group's active servers, the part
    used of the room ``ServerGroup.objects.with_capacity()`` reckons (a correlated
    subquery, so a page of groups stays one query)."""
    live = Service.objects.filter(status__in=LIVE, server__status=ServerStatus.ACTIVE)
    return {"live_service_count": subquery_count(live, "server__group")}


def used_percent(used: int, capacity: int) -> int:
    """The share of ``capacity`` that ``used`` takes, in percent; no room at all is full."""
    return min(100, round(100 * used / capacity)) if capacity else 100
