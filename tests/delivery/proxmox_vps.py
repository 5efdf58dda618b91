"""What the Proxmox VE module's tests share: the fake node seeded with template 9000 on
``pve1``, a server row with its token, a VPS product, and Bob's services on it.

Import the fixtures into a test module with ``from tests.delivery.proxmox_vps import *``
(the names are in ``__all__``). Tasks run 50 ms on the fake and the module polls every
10 ms, so a test waits for no clone for long; ``hang_task`` keeps one running.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from delivery.models import Server
from delivery.modules.proxmox import jobs
from delivery.registry import get_module
from services.choices import ServiceStatus
from tests.factories import ProductFactory, ServiceFactory
from tests.fakes.proxmox.server import serve
from tests.fakes.proxmox.state import FakeProxmox
from tests.fakes.proxmox.vm import Vm

__all__ = ["active_service", "marked_vms", "pve", "pve_server", "service", "vps_config"]


def vps_config(**overrides: Any) -> dict[str, Any]:
    values = {
        "template": 9000,
        "full_clone": True,
        "storage": "local-lvm",
        "cores": 2,
        "memory": 2048,
        "disk": 20,
        "bridge": "vmbr0",
        "ci_user": "bob",
        "ssh_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0b bob@laptop",
        **overrides,
    }
    return get_module("proxmox").clean_product_config(values)


def marked_vms(fake: FakeProxmox, service: Any) -> list[Vm]:
    """The VMs of the fake that carry the service's uuid (name or tag)."""
    name, tag = jobs.vm_name(str(service.uuid)), jobs.vm_tag(str(service.uuid))
    fake.tick()
    with fake.lock:
        return [vm for vm in fake.vms.values() if vm.name == name or tag in vm.tags]


@pytest.fixture
def pve(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxmox]:
    monkeypatch.setattr(jobs, "TASK_POLL_SECONDS", 0.01)
    monkeypatch.setattr(jobs, "TASK_WAIT_SECONDS", 0.5)
    with serve(task_seconds=0.05) as fake:
        yield fake


@pytest.fixture
def pve_server(db: Any, pve: FakeProxmox) -> Server:
    return Server.objects.create(
        name="pve cluster",
        module="proxmox",
        hostname=pve.base_url,
        port=8006,
        credentials={
            "token_id": pve.token_id,
            "token_secret": pve.token_secret,
            "verify_tls": "yes",
        },
    )


@pytest.fixture
def service(customer: Any, pve_server: Server) -> Any:
    """Bob's pending VPS, of a product cloning template 9000."""
    return ServiceFactory(
        name="Bob's VPS",
        customer=customer,
        product=ProductFactory(module="proxmox", module_config=vps_config()),
        server=pve_server,
        status=ServiceStatus.PENDING,
    )


@pytest.fixture
def active_service(customer: Any, pve_server: Server, pve: FakeProxmox) -> Any:
    """Bob's active VPS, linked to VM 123, running on pve1 and tagged with its uuid."""
    service_uuid = uuid.uuid4()
    pve.add_vm(123, "bob-vps", running=True, disk_size="20G", tags=f"customer;cxcms-{service_uuid}")
    return ServiceFactory(
        uuid=service_uuid,
        name="Bob's VPS",
        customer=customer,
        product=ProductFactory(module="proxmox", module_config=vps_config()),
        server=pve_server,
        status=ServiceStatus.ACTIVE,
        external_id="123",
        module_data={"node": "pve1", "vmid": 123},
    )
