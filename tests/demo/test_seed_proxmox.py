"""``seed_demo``'s VPS node (demo.proxmox) against the fake Proxmox VE served here, as
``make run`` serves it: a server with the fake's demo token, the VPS product, one VPS
cloned, configured, resized and started through the lifecycle; nothing again on a second
run; a restarted (forgetful) fake gets a new one; no fake, no VPS node and no failure. The
pages staff and the customer open then show it working."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from customers.models import User
from delivery.models import ModuleCall, Server
from delivery.modules.proxmox import jobs
from demo import catalogue, proxmox
from products.models import Product
from services import lifecycle
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import Service, ServiceEvent
from tests.demo.conftest import closed_port
from tests.fakes.proxmox import TOKEN_ID, TOKEN_SECRET, FakeProxmox, serve

SEEDED = {"notes": proxmox.SERVICE_NOTE}
WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture
def seed(db) -> Callable[..., str]:
    """Run ``seed_demo`` with ``args``; what it printed."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("seed_demo", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture(autouse=True)
def _quick_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module waits 0.2 s for a task, asking every 10 ms: the fake's clone (0.5 s) is
    still running when the delivery call returns, so the seed has it to follow."""
    monkeypatch.setattr(jobs, "TASK_POLL_SECONDS", 0.01)
    monkeypatch.setattr(jobs, "TASK_WAIT_SECONDS", 0.2)


@pytest.fixture
def fake() -> Iterator[FakeProxmox]:
    """The demo state, as ``make run`` serves it, with quicker tasks."""
    with serve(demo=True, task_seconds=0.05, task_seconds_by_type={"qmclone": 0.5}) as node:
        yield node


def _writes(fake: FakeProxmox) -> int:
    return sum(len(fake.received(method, "*")) for method in WRITES)


def test_the_demo_token_is_the_fake_nodes():
    assert (catalogue.PROXMOX_TOKEN_ID, catalogue.PROXMOX_TOKEN_SECRET) == (TOKEN_ID, TOKEN_SECRET)


def test_the_seed_delivers_a_running_vps_on_the_fake_node(seed, fake, monkeypatch):
    resumed: list[int] = []
    resume = lifecycle.resume

    def spy(service, **kwargs):
        resumed.append(service.pk)
        return resume(service, **kwargs)

    monkeypatch.setattr(lifecycle, "resume", spy)

    output = seed("--proxmox-url", fake.base_url)

    server = Server.objects.get(module="proxmox")
    assert (server.name, server.hostname) == (catalogue.PROXMOX_SERVER, fake.base_url)
    assert server.credentials["token_id"] == fake.token_id
    assert server.credentials["token_secret"] == fake.token_secret
    product = Product.objects.get(module="proxmox")
    assert product.name == "VPS Cloud 2"
    config = product.module_config
    assert (config["template"], config["node"]) == (9000, "")  # the least loaded node
    assert (config["cores"], config["memory"], config["disk"]) == (2, 2048, 20)
    service = Service.objects.get(module="proxmox")
    assert service.customer.user.email == catalogue.PEOPLE[0].email
    assert (service.status, service.operation, service.server) == (
        ServiceStatus.ACTIVE,
        "",
        server,
    )
    # Delivered through the lifecycle: the clone outlasted the call, and was followed.
    assert set(resumed) == {service.pk}
    events = list(service.events.order_by("pk").values_list("action", "to_status", "error"))
    assert events == [
        (ServiceAction.CREATE, ServiceStatus.PENDING, ""),
        (ServiceAction.DELIVER, ServiceStatus.ACTIVE, ""),
    ]
    [clone] = fake.tasks_of("qmclone")
    assert clone.id == "9001"  # pve2's copy of the template: pve2 is the least loaded
    assert fake.received("GET", f"/nodes/pve2/tasks/{clone.upid}/status")
    vm = fake.vm(int(service.external_id))
    assert vm is not None
    assert (vm.node, vm.name, vm.running, vm.lock) == (
        "pve2",
        jobs.vm_name(str(service.uuid)),
        True,
        None,
    )
    assert service.module_data["node"] == "pve2"
    assert (vm.config["cores"], vm.config["memory"]) == (2, "2048")
    assert jobs.disk_bytes(vm.config["scsi0"]) == 20 * jobs.GIB
    assert len([v for v in fake.vm_summary() if not v["template"]]) == 3  # 101, 102, this
    # Every call is in the module call log, under the service, and none holds the secret.
    calls = ModuleCall.objects.filter(service_ref=service.pk)
    assert calls.filter(method="POST", url__endswith="/nodes/pve2/qemu/9001/clone").exists()
    stored = calls.values_list("url", "operation", "request_body", "response_body", "error")
    assert not any(fake.token_secret in text for row in stored for text in row)
    assert f"VPS node demo at {fake.base_url}" in output
    assert f"service #{service.pk} (active)" in output


def test_a_second_run_adds_nothing_and_calls_nothing_that_writes(seed, fake):
    seed("--proxmox-url", fake.base_url)
    before = (
        Server.objects.count(),
        Product.objects.count(),
        Service.objects.count(),
        ServiceEvent.objects.count(),
    )
    writes = _writes(fake)

    output = seed("--proxmox-url", fake.base_url)

    after = (
        Server.objects.count(),
        Product.objects.count(),
        Service.objects.count(),
        ServiceEvent.objects.count(),
    )
    assert after == before
    assert _writes(fake) == writes
    assert len(fake.tasks_of("qmclone")) == 1
    assert f"VPS node demo already loaded ({fake.base_url})" in output


def test_a_restarted_fake_gets_a_new_demo_vps_and_staffs_services_are_left(seed, fake):
    seed("--proxmox-url", fake.base_url)
    old = Service.objects.get(**SEEDED)
    staff = {"actor": User.objects.get(email=catalogue.ADMIN.email), "source": EventSource.ADMIN}
    theirs = lifecycle.create(
        **staff,
        customer=old.customer,
        product=old.product,
        module="proxmox",
        server=old.server,
        name="Made by staff",
        price=old.price,
        initial_price=old.price,
        billing_cycle=old.billing_cycle,
    )

    with serve(demo=True, task_seconds=0.05) as restarted:  # a fresh state, another port
        output = seed("--proxmox-url", restarted.base_url)

        new = Service.objects.get(**SEEDED)
        assert new.pk != old.pk
        assert new.status == ServiceStatus.ACTIVE
        vm = restarted.vm(int(new.external_id))
        assert vm is not None
        assert (vm.name, vm.running) == (jobs.vm_name(str(new.uuid)), True)
        assert restarted.received("DELETE", "*") == []  # the old VM was gone already
    assert not Service.objects.filter(pk=old.pk).exists()
    retired = ServiceEvent.objects.filter(
        service=None, action__in=[ServiceAction.TERMINATE, ServiceAction.DELETE]
    )
    assert set(retired.values_list("action", "error")) == {
        (ServiceAction.TERMINATE, ""),
        (ServiceAction.DELETE, ""),
    }
    server = Server.objects.get(module="proxmox")
    assert server.hostname == restarted.base_url  # moved to the new port
    theirs.refresh_from_db()
    assert (theirs.status, theirs.external_id) == (ServiceStatus.PENDING, "")
    assert f"no longer has the VM of demo service #{old.pk}" in output


def test_without_a_node_the_vps_demo_is_skipped_and_the_rest_is_seeded(seed):
    url = f"http://127.0.0.1:{closed_port()}"

    output = seed("--proxmox-url", url)

    assert f"VPS node demo skipped: no Proxmox VE answers at {url}" in output
    assert "Demo data loaded" in output
    assert Service.objects.exists()
    assert not Server.objects.filter(module="proxmox").exists()
    assert not Product.objects.filter(module="proxmox").exists()
    assert "No demo product for the Proxmox VE module" not in output


def test_a_refused_token_skips_the_vps_demo_with_the_nodes_reason(seed):
    with serve(demo=True, token_secret="another-secret") as other:
        output = seed("--proxmox-url", other.base_url)

    assert f"VPS node demo skipped: the node at {other.base_url} failed:" in output
    assert "the API token was refused" in output
    assert not Product.objects.filter(module="proxmox").exists()
    assert not Service.objects.filter(module="proxmox").exists()


def test_staff_see_the_fakes_vms_to_import_and_the_customer_the_tabs(seed, fake):
    seed("--proxmox-url", fake.base_url)
    service = Service.objects.get(**SEEDED)
    staff = Client()
    staff.force_login(User.objects.get(email=catalogue.ADMIN.email))
    customer = Client()
    customer.force_login(service.customer.user)

    resources = staff.get(f"/admin/services/import/resources/?server={service.server.pk}")
    overview = customer.get(f"/client/services/{service.pk}/tabs/overview/")
    power = customer.get(f"/client/services/{service.pk}/tabs/power/")

    listed = resources.content.decode()
    assert resources.status_code == 200
    assert "web-legacy (101) on pve1" in listed
    assert "mail-old (102) on pve2" in listed
    assert "debian-12-cloud" not in listed  # templates are no VMs to import
    # The demo VPS is listed as linked to it, and cannot be chosen.
    linked = re.search(rf'data-resource="{service.external_id}">(.*?)</label>', listed, re.DOTALL)
    assert linked is not None
    assert "disabled" in linked[1]
    assert overview.status_code == 200
    page = overview.content.decode()
    assert 'data-vm-state="running"' in page
    assert f"VM {service.external_id} on pve2" in page
    assert power.status_code == 200
    reboot = f'action="/client/services/{service.pk}/tabs/power/actions/reboot/"'
    assert reboot in power.content.decode()
