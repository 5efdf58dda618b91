"""A VPS on Proxmox VE, end to end in a real browser (issue 14's "Must show"): a customer
orders a VPS from the catalogue, pays, sees it delivered on the fake node, and reboots it
from the power tab. The node is the protocol-faithful fake (tests/fakes/proxmox) served on
127.0.0.1, so every call goes over HTTP as it would to a real Proxmox VE API.

Celery is not eager in the tests: the delivery and its follow-up run here, as the worker
would run them, while the customer's page is open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from billing import balance
from delivery.models import Server
from delivery.modules.proxmox import jobs
from delivery.registry import get_module
from products.choices import BillingCycle
from products.models import Product
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import Service, ServiceEvent
from services.tasks import deliver_service, follow_operation
from tests.e2e.test_pterodactyl_journey import sign_in_customer
from tests.factories import ProductPriceFactory
from tests.fakes import proxmox
from tests.fakes.proxmox import FakeProxmox

pytestmark = pytest.mark.browser
#: Follow-ups the delivery may take once the clone has ended: each waits for its tasks
#: (``jobs.TASK_WAIT_SECONDS``), so this bounds the wait without a sleep.
FOLLOW_UPS = 5


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxmox]:
    """The fake node (template 9000 on pve1), its tasks quick; the module waits up to 2 s
    for each (the live server runs in this process, so its tab actions wait as long)."""
    monkeypatch.setattr(jobs, "TASK_POLL_SECONDS", 0.02)
    monkeypatch.setattr(jobs, "TASK_WAIT_SECONDS", 2.0)
    with proxmox.serve(task_seconds=0.05) as fake:
        yield fake


@pytest.fixture
def vps(db, node: FakeProxmox) -> Product:
    """A Proxmox VE server row with the fake's token, and a VPS sold monthly."""
    module = get_module("proxmox")
    Server.objects.create(
        name="PVE cluster",
        module="proxmox",
        hostname=node.base_url,  # the fake speaks HTTP: the address given as a URL
        port=int(node.base_url.rsplit(":", 1)[1]),
        credentials=module.clean_server_credentials(
            {"token_id": node.token_id, "token_secret": node.token_secret, "verify_tls": "yes"}
        ),
    )
    product = Product.objects.create(
        name="VPS Cloud 2",
        slug="vps-cloud-2",
        module="proxmox",
        module_config=module.clean_product_config(
            {"template": 9000, "cores": 2, "memory": 2048, "disk": 20, "bridge": "vmbr0"}
        ),
    )
    ProductPriceFactory(
        product=product, cycle=BillingCycle.MONTHLY, price=Decimal("10.00"), setup_fee=0
    )
    return product


def order_and_pay(page: Page, base: str, product: Product) -> None:
    """From the catalogue: the product, monthly, paid with the customer's credit."""
    page.goto(f"{base}/client/catalogue/")
    page.get_by_role("link", name=product.name).first.click()
    page.locator("#id_billing_cycle").select_option(BillingCycle.MONTHLY)
    page.locator("#id_accept_terms").check()
    page.locator("#order-submit").click()
    expect(page).to_have_url(re.compile(r"/client/invoices/\d+/$"))
    page.locator("[data-gateway=balance]").click()


def deliver(service: Service, node: FakeProxmox) -> None:
    """What the worker does for a paid order: the delivery starts the clone, which the
    node is still busy with (held here); once it has ended, the follow-up task carries
    on (configure, resize, start) until the VM runs."""
    assert deliver_service(service.pk) == "installing"
    [clone] = node.tasks_of("qmclone")
    assert clone.status == "running"
    node.end_task(clone.upid)
    for _ in range(FOLLOW_UPS):
        follow_operation(service.pk)
        service.refresh_from_db()
        if not service.operation:
            break
    assert (service.status, service.operation) == (ServiceStatus.ACTIVE, "")


def test_a_customer_orders_a_vps_pays_and_reboots_it(
    page: Page, live_server, admin_user, customer, node: FakeProxmox, vps: Product
):
    base = live_server.url
    balance.adjust(customer, amount=Decimal("25.00"), actor=admin_user, reason="Welcome")
    node.hang_task("qmclone")

    sign_in_customer(page, base, customer.user.email)
    order_and_pay(page, base, vps)

    service = Service.objects.get(customer=customer)
    expect(page).to_have_url(f"{base}/client/services/{service.pk}/")
    expect(page.locator("#pending-delivery")).to_contain_text("Being delivered")
    deliver(service, node)

    # The page, opened again: active, its VM running on the node.
    page.reload()
    expect(page.locator("h1 [data-status]")).to_have_text("Active")
    expect(page.locator("#pending-delivery")).to_have_count(0)
    vmid = int(service.external_id)
    overview = page.locator("[data-pve-tab=overview]")
    expect(overview.locator("[data-vm-state]")).to_have_attribute("data-vm-state", "running")
    expect(overview).to_contain_text(f"VM {vmid} on pve1")
    expect(overview.locator("[data-figure=memory]")).to_contain_text("2048 MiB")
    expect(overview.locator("[data-figure=disk]")).to_contain_text("20.0 GiB")
    vm = node.vm(vmid)
    assert vm is not None
    assert (vm.name, vm.running) == (jobs.vm_name(str(service.uuid)), True)

    # Reboot, from the Power tab, through its confirmation dialog.
    page.get_by_role("tab", name="Power").click()
    power = page.locator("[data-pve-tab=power]")
    expect(power).to_be_visible()
    assert node.tasks_of("qmreboot") == []
    power.get_by_role("button", name="Reboot…").click()
    dialog = page.get_by_role("dialog", name=f"Reboot {service.name}")
    expect(dialog).to_contain_text("what they did not save is lost")
    dialog.get_by_role("button", name="Reboot", exact=True).click()

    expect(page).to_have_url(f"{base}/client/services/{service.pk}/tabs/power/")
    expect(page.locator(".alert-success").get_by_text("The VM rebooted.")).to_be_visible()
    expect(page.locator("[data-pve-tab=power] [data-vm-state]")).to_have_attribute(
        "data-vm-state", "running"
    )
    # The node rebooted that VM, once, asked with the token.
    [reboot] = node.tasks_of("qmreboot")
    assert (reboot.id, reboot.status, reboot.exitstatus) == (str(vmid), "stopped", "OK")
    [call] = node.received("POST", f"/nodes/pve1/qemu/{vmid}/status/reboot")
    assert call.token == node.token_id
    # And the service's history says who did it, from where, and that it worked.
    [event] = ServiceEvent.objects.filter(service=service, action=ServiceAction.PANEL)
    assert (event.actor, event.source, event.error) == (customer.user, EventSource.CLIENT, "")
    assert event.reason == "Power: Reboot"
