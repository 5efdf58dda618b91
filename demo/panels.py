"""What the demo's panels share (``demo.pterodactyl``, ``demo.proxmox``): waiting for the
fake panel ``make run`` starts, and the one demo service each delivers on it.

Each fake keeps its state in memory, so every start of ``make run`` is a fresh panel. The
seed's own service (found by its staff note) is kept while the panel still has what was
made for it; one the panel forgot is terminated and deleted through the lifecycle (the
panel answers "already gone"; the history stays), and a new one is delivered, so that the
demo shows a service that works rather than one whose tabs say "not found".
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from customers.models import Customer, User
from delivery.models import Server
from delivery.registry import UnknownModule, get_module
from products.choices import BillingCycle
from products.models import Product
from services import lifecycle
from services.choices import LIVE, EventSource, OperationState, ServiceStatus
from services.models import Service

from .catalogue import ADMIN, PEOPLE

S = ServiceStatus


def listening(host: str, port: int, wait: float) -> bool:
    """Whether something accepts connections on ``host:port``, trying for ``wait`` seconds
    (the fake started by ``make run`` needs a moment to bind)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


@dataclass(frozen=True)
class PanelSeed:
    """What seeding a demo panel did: ``skipped`` with why, or the rows it made or found."""

    skipped: str = ""
    server: Server | None = None
    product: Product | None = None
    service: Service | None = None
    done: tuple[str, ...] = ()


@dataclass(frozen=True)
class Address:
    scheme: str
    host: str
    port: int


def reach(url: str, *, module: str, wait: float, nobody: str, fake: str) -> Address | str:
    """Where the demo panel of ``module`` at ``url`` answers, within ``wait`` seconds; or
    why its seeding is skipped (``nobody``: who does not answer; ``fake``: the fake's
    package, started by ``make run``)."""
    try:
        get_module(module)
    except UnknownModule:
        return f"the {module} module is not installed."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) address."
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not listening(parts.hostname, port, wait):
        return (
            f"no {nobody} answers at {url}. `make run` starts the fake one; alone: "
            f"`python -m {fake} --port {port} --demo`."
        )
    return Address(parts.scheme, parts.hostname, port)


def staff() -> dict[str, Any]:
    """Who the seed acts as: the demo's admin, from the staff area."""
    return {"actor": User.objects.get(email=ADMIN.email), "source": EventSource.ADMIN}


@dataclass(frozen=True)
class DemoService:
    """How one panel's demo service is made, kept, and told apart.

    ``on_panel``: whether the panel still has what was made for the service;
    ``finish``: what follows a delivery (the game server's start), as staff;
    ``gone``: the note printed when the panel forgot the service (``{pk}``: its number),
    and ``retired``: the reason recorded when it is terminated for that.
    """

    module: str
    notes: str
    wait: float
    on_panel: Callable[[Service], bool]
    gone: str
    retired: str
    finish: Callable[[Service, dict[str, Any]], Service] = lambda service, by: service


def follow(service: Service, wait: float) -> Service:
    """Ask the panel until its work on ``service`` (an install, a clone) has ended, as the
    follow-up task does, for ``wait`` seconds at most; the service as it then is."""
    deadline = time.monotonic() + wait
    while True:
        service = Service.objects.select_related("server").get(pk=service.pk)
        if service.operation_state not in (OperationState.WAITING, OperationState.FOLLOWING):
            return service
        if time.monotonic() >= deadline:
            return service
        time.sleep(1)
        lifecycle.resume(service, force=True)


def delivered_service(
    spec: DemoService,
    server: Server,
    product: Product,
    done: list[str],
    note: Callable[[str], None],
) -> Service:
    """The client login's service of ``product``, delivered on the panel; replaced when
    the panel no longer has it. What was done is added to ``done``."""
    by = staff()
    existing = (
        Service.objects.filter(server=server, notes=spec.notes, status__in=LIVE)
        .select_related("server")
        .order_by("pk")
        .first()
    )
    on_panel = existing is not None and spec.on_panel(existing)
    if existing is not None and on_panel:
        if not existing.operation and existing.status != S.PENDING:
            return existing
        if existing.operation:  # left in flight by an earlier run: panel work to follow
            done.append(f"service #{existing.pk}: {existing.operation_label} followed")
            return spec.finish(follow(existing, spec.wait), by)
    if existing is not None and existing.status == S.PENDING:
        # Never delivered, or its delivery lost with the panel's state: deliver it (again).
        if existing.operation:
            lifecycle.abandon(existing, actor=by["actor"])
        lifecycle.deliver(existing, notify=False, **by)
        done.append(f"service #{existing.pk} delivered")
        return spec.finish(follow(existing, spec.wait), by)
    if existing is not None:
        note(spec.gone.format(pk=existing.pk))
        _retire(existing, spec.retired, by)
    customer = Customer.objects.get(user__email=PEOPLE[0].email)
    price = product.prices.get(cycle=BillingCycle.MONTHLY)
    service = lifecycle.create(
        **by,
        customer=customer,
        product=product,
        module=spec.module,
        server=server,
        name=product.name,
        notes=spec.notes,
        price=price.price,
        initial_price=price.price + price.setup_fee,
        billing_cycle=BillingCycle.MONTHLY,
    )
    lifecycle.deliver(service, notify=False, **by)
    done.append(f"service #{service.pk} for {customer.user.email}, delivered")
    return spec.finish(follow(service, spec.wait), by)


def _retire(service: Service, reason: str, by: dict[str, Any]) -> None:
    """Terminate and delete a demo service whose resource the panel forgot: the panel
    answers "already gone", and the service's history stays."""
    if service.operation:
        lifecycle.abandon(service, actor=by["actor"])
    lifecycle.terminate(service, reason=reason, notify=False, **by)
    lifecycle.delete(service, reason=reason, **by)
