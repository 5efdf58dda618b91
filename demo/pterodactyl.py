"""The game panel of the demo: a Pterodactyl server backed by the fake panel of the tests.

``make run`` starts ``python -m tests.fakes.pterodactyl --demo`` beside the billing panel, so
that a newcomer sees the Pterodactyl module work without a real panel: the import page lists
the fake's two servers nobody bills yet, and the demo customer's game server has its tabs
(overview, power, reinstall). This seeds, once, a server pointing at the fake with its demo
keys, a product for its Paper egg, and one service for the client login, delivered through
the lifecycle like any other: the fake installs it for a few seconds, and the follow-up task
sees the install end.

The fake keeps its state in memory, so every start is a fresh panel. A demo service whose
server the panel no longer knows (the fake was restarted since the last seed) is
terminated and deleted through the lifecycle, and a new one delivered: the demo shows a
service that works rather than one whose tabs say "not found". Without a panel at the
address, this part says so and is skipped: nothing else in the demo needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from delivery.models import Server
from delivery.modules.base import Audience, ModuleError
from delivery.registry import get_module
from products.models import Product
from services import lifecycle
from services.choices import ServiceStatus
from services.models import Service

from .catalogue import (
    PTERODACTYL_APPLICATION_KEY,
    PTERODACTYL_CLIENT_KEY,
    PTERODACTYL_EGG,
    PTERODACTYL_LIMITS,
    PTERODACTYL_MODULE,
    PTERODACTYL_NEST,
    PTERODACTYL_PRODUCT,
    PTERODACTYL_SERVER,
    PTERODACTYL_URL,
)
from .panels import DemoService, PanelSeed, delivered_service, reach
from .seed import create_product

MODULE = PTERODACTYL_MODULE
URL_VARIABLE = "DEMO_PTERODACTYL_URL"
#: How long the seed follows the panel's install of the demo service (the fake of
#: ``make run`` takes 5 seconds) before leaving it "being delivered".
INSTALL_WAIT = 30.0
#: The staff note that marks the seed's own service: the only one it replaces.
SERVICE_NOTE = (
    "The demo's game server (manage.py seed_demo): replaced by the next seed when the fake "
    "panel has forgotten it."
)
S = ServiceStatus


def demo_url() -> str:
    """The panel's address: ``DEMO_PTERODACTYL_URL`` (set by ``make run``) or the default."""
    return os.environ.get(URL_VARIABLE) or PTERODACTYL_URL


def seed_pterodactyl(
    *, url: str, wait: float = 0.0, note: Callable[[str], None] = lambda message: None
) -> PanelSeed:
    """Seed the demo's game panel at ``url``, waiting up to ``wait`` seconds for it.

    Idempotent: what exists is kept. A panel that is down, or a failure of its module, is
    reported in ``skipped`` and never raised; the base demo must load without it. Runs no
    transaction of its own, as the lifecycle calls panels outside transactions.
    """
    address = reach(url, module=MODULE, wait=wait, nobody="panel", fake="tests.fakes.pterodactyl")
    if isinstance(address, str):
        return PanelSeed(skipped=address)
    done: list[str] = []
    try:
        server = _server(address.scheme, address.host, address.port, done)
        product = _product(server, done)
        service = delivered_service(SERVICE, server, product, done, note)
    except (ModuleError, lifecycle.LifecycleError, ValidationError) as exc:
        message = getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [str(exc)]))
        return PanelSeed(skipped=f"the panel at {url} failed: {message}", done=tuple(done))
    return PanelSeed(server=server, product=product, service=service, done=tuple(done))


def _server(scheme: str, host: str, port: int, done: list[str]) -> Server:
    """The demo's Pterodactyl server, pointed at ``host:port`` (the port may change)."""
    module = get_module(MODULE)
    credentials = module.clean_server_credentials(
        {
            "scheme": scheme,
            "application_key": PTERODACTYL_APPLICATION_KEY,
            "client_key": PTERODACTYL_CLIENT_KEY,
        }
    )
    server = Server.objects.filter(module=MODULE, name=PTERODACTYL_SERVER).first()
    if server is None:
        server = Server.objects.create(
            name=PTERODACTYL_SERVER,
            module=MODULE,
            hostname=host,
            port=port,
            credentials=credentials,
        )
        done.append(f"server {server.name} at {scheme}://{host}:{port}")
    elif (server.hostname, server.port, server.credentials) != (host, port, credentials):
        server.hostname, server.port, server.credentials = host, port, credentials
        server.save(update_fields=["hostname", "port", "credentials"])
        done.append(f"server {server.name} moved to {scheme}://{host}:{port}")
    module.test_connection(server)
    return server


def _product(server: Server, done: list[str]) -> Product:
    """The game-server product, configured for the panel's Paper egg and first location."""
    spec = PTERODACTYL_PRODUCT
    product = Product.objects.filter(slug=slugify(spec.name)).first()
    if product is not None:
        return product
    nest, egg, location = _panel_ids(server)
    config = get_module(MODULE).clean_product_config(
        {
            "nest": nest,
            "egg": egg,
            "location": location,
            **PTERODACTYL_LIMITS,
            "environment": {"MINECRAFT_VERSION": "latest"},
        }
    )
    product = create_product(spec, MODULE, config)
    done.append(f"product {product.name}")
    return product


def _panel_ids(server: Server) -> tuple[int, int, int]:
    """(nest, egg, location) ids of the panel's Minecraft nest, its Paper egg and its first
    location: the fake's demo state has them, a real panel may not."""
    from delivery.modules.pterodactyl.api import PterodactylApi, list_attributes

    with PterodactylApi(server) as api:
        app = api.application
        nests = list_attributes(app.json("GET", "/api/application/nests", operation="demo"), "nest")
        nest = next((n["id"] for n in nests if n.get("name") == PTERODACTYL_NEST), None)
        if nest is None:
            raise ModuleError(f"the panel has no {PTERODACTYL_NEST} nest.")
        eggs = list_attributes(
            app.json("GET", f"/api/application/nests/{nest}/eggs", operation="demo"), "egg"
        )
        egg = next((e["id"] for e in eggs if e.get("name") == PTERODACTYL_EGG), None)
        if egg is None:
            raise ModuleError(f"the panel has no {PTERODACTYL_EGG} egg.")
        locations = list_attributes(
            app.json("GET", "/api/application/locations", operation="demo"), "location"
        )
        if not locations:
            raise ModuleError("the panel has no location.")
    return int(nest), int(egg), int(locations[0]["id"])


def _on_panel(service: Service) -> bool:
    """Whether the panel still has the server made for ``service`` (by its uuid)."""
    from delivery.modules.pterodactyl.api import PterodactylApi

    assert service.server is not None
    with PterodactylApi(service.server) as api:
        return api.server_by_external_id(str(service.uuid)) is not None


def _started(service: Service, staff: dict[str, Any]) -> Service:
    """Start the game server once installed, so that its Overview shows live figures.

    A real panel starts it by itself (``start_on_completion``); the fake does not. Done
    as staff would, through the Power tab's action, and recorded in the history.
    """
    if service.status != S.ACTIVE or service.operation:
        return service
    module = get_module(MODULE)
    power = next(tab for tab in module.tabs(service, Audience.STAFF) if tab.key == "power")
    start = power.action("start")
    assert start is not None
    lifecycle.run_panel_action(service, tab=power, action=start, **staff)
    return service


#: The client login's game server: started once installed, replaced when the panel forgot it.
SERVICE = DemoService(
    module=MODULE,
    notes=SERVICE_NOTE,
    wait=INSTALL_WAIT,
    on_panel=_on_panel,
    gone="The game panel no longer has the server of demo service #{pk} (the fake panel "
    "keeps its state in memory and was restarted): replacing the service.",
    retired="The demo's game panel was restarted and no longer has this server.",
    finish=_started,
)
