"""The VPS node of the demo: a Proxmox VE server backed by the fake Proxmox VE of the tests.

``make run`` starts ``python -m tests.fakes.proxmox --demo`` beside the billing panel, so
that a newcomer sees the Proxmox VE module work without a cluster: the import page lists
the fake's two VMs nobody bills yet (``web-legacy``, ``mail-old``), the catalogue sells a
VPS, and the demo customer's VPS has its tabs (overview, power, reinstall). This seeds,
once, a server pointing at the fake with its demo API token, the VPS product (a clone of
the fake's Debian template on the least loaded node), and one VPS for the client login,
delivered through the lifecycle like any other: the fake's clone, configuration, resize
and start are tasks of a second each, and the follow-up task sees them end.

The fake keeps its state in memory, so every start is a fresh cluster: a demo VPS whose VM
the node no longer has is replaced (``demo.panels``). Without a node at the address, this
part says so and is skipped: nothing else in the demo needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from delivery.models import Server
from delivery.modules.base import ModuleError
from delivery.registry import get_module
from products.models import Product
from services import lifecycle
from services.models import Service

from .catalogue import (
    PROXMOX_MODULE,
    PROXMOX_PRODUCT,
    PROXMOX_SERVER,
    PROXMOX_TOKEN_ID,
    PROXMOX_TOKEN_SECRET,
    PROXMOX_URL,
    PROXMOX_VM,
)
from .panels import DemoService, PanelSeed, delivered_service, reach
from .seed import create_product

MODULE = PROXMOX_MODULE
URL_VARIABLE = "DEMO_PROXMOX_URL"
#: How long the seed follows the node's work on the demo VPS (clone, configure, resize,
#: start: tasks of 1 s each on the fake of ``make run``) before leaving it "being delivered".
DELIVERY_WAIT = 30.0
#: The staff note that marks the seed's own VPS: the only one it replaces.
SERVICE_NOTE = (
    "The demo's VPS (manage.py seed_demo): replaced by the next seed when the fake Proxmox "
    "VE has forgotten its VM."
)


def demo_url() -> str:
    """The node's address: ``DEMO_PROXMOX_URL`` (set by ``make run``) or the default."""
    return os.environ.get(URL_VARIABLE) or PROXMOX_URL


def seed_proxmox(
    *, url: str, wait: float = 0.0, note: Callable[[str], None] = lambda message: None
) -> PanelSeed:
    """Seed the demo's VPS node at ``url``, waiting up to ``wait`` seconds for it.

    Idempotent: what exists is kept. A node that is down, or a failure of its module, is
    reported in ``skipped`` and never raised; the base demo must load without it. Runs no
    transaction of its own, as the lifecycle calls panels outside transactions.
    """
    address = reach(url, module=MODULE, wait=wait, nobody="Proxmox VE", fake="tests.fakes.proxmox")
    if isinstance(address, str):
        return PanelSeed(skipped=address)
    done: list[str] = []
    try:
        server = _server(f"{address.scheme}://{address.host}:{address.port}", address.port, done)
        product = _product(done)
        service = delivered_service(SERVICE, server, product, done, note)
    except (ModuleError, lifecycle.LifecycleError, ValidationError) as exc:
        message = getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [str(exc)]))
        return PanelSeed(skipped=f"the node at {url} failed: {message}", done=tuple(done))
    return PanelSeed(server=server, product=product, service=service, done=tuple(done))


def _server(address: str, port: int, done: list[str]) -> Server:
    """The demo's Proxmox VE server, pointed at ``address`` (the port may change).

    The fake speaks plain HTTP, which the module reaches through a hostname given as a
    URL (``api.api_url``); a real node is ``https://host:8006``.
    """
    module = get_module(MODULE)
    credentials = module.clean_server_credentials(
        {"token_id": PROXMOX_TOKEN_ID, "token_secret": PROXMOX_TOKEN_SECRET, "verify_tls": "yes"}
    )
    server = Server.objects.filter(module=MODULE, name=PROXMOX_SERVER).first()
    if server is None:
        server = Server.objects.create(
            name=PROXMOX_SERVER,
            module=MODULE,
            hostname=address,
            port=port,
            credentials=credentials,
        )
        done.append(f"server {server.name} at {address}")
    elif (server.hostname, server.port, server.credentials) != (address, port, credentials):
        server.hostname, server.port, server.credentials = address, port, credentials
        server.save(update_fields=["hostname", "port", "credentials"])
        done.append(f"server {server.name} moved to {address}")
    module.test_connection(server)
    return server


def _product(done: list[str]) -> Product:
    """The VPS product: the fake's template, cloned on the least loaded node."""
    product = Product.objects.filter(slug=slugify(PROXMOX_PRODUCT.name)).first()
    if product is not None:
        return product
    config = get_module(MODULE).clean_product_config(dict(PROXMOX_VM))
    product = create_product(PROXMOX_PRODUCT, MODULE, config)
    done.append(f"product {product.name}")
    return product


def _on_node(service: Service) -> bool:
    """Whether the node still has the VM made for ``service`` (its name or tag carries
    the service's uuid): a VMID alone could be another VM's after a restart."""
    from delivery.modules.proxmox.api import ProxmoxApi
    from delivery.modules.proxmox.jobs import find_marked

    assert service.server is not None
    with ProxmoxApi(service.server) as api:
        return find_marked(api, str(service.uuid)) is not None


#: The client login's VPS: delivered by the module (which starts it), replaced when the
#: node forgot its VM.
SERVICE = DemoService(
    module=MODULE,
    notes=SERVICE_NOTE,
    wait=DELIVERY_WAIT,
    on_panel=_on_node,
    gone="The VPS node no longer has the VM of demo service #{pk} (the fake Proxmox VE "
    "keeps its state in memory and was restarted): replacing the service.",
    retired="The demo's VPS node was restarted and no longer has this VM.",
)
