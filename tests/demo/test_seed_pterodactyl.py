"""``seed_demo``'s game panel (demo.pterodactyl) against the fake Pterodactyl panel served
here, as ``make run`` serves it: a server with the fake's demo keys, a product for its
Paper egg, one game server delivered through the lifecycle and running; nothing again on
a second run; a restarted (forgetful) fake gets a new one; no fake, no game panel and no
failure. The pages staff and the customer open then show it working."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from customers.models import User
from delivery.models import ModuleCall, Server
from demo import catalogue, pterodactyl
from products.models import Product
from services import lifecycle
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import Service, ServiceEvent
from tests.demo.conftest import closed_port
from tests.fakes.pterodactyl import APPLICATION_KEY, CLIENT_KEY, FakePterodactyl, serve

SEEDED = {"notes": pterodactyl.SERVICE_NOTE}


@pytest.fixture
def seed(db) -> Callable[..., str]:
    """Run ``seed_demo`` with ``args``; what it printed."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("seed_demo", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def fake() -> Iterator[FakePterodactyl]:
    # Installs end on the second read: the seed sees "installing", then follows it.
    with serve(demo=True, install_reads=1) as panel:
        yield panel


def _panel_server(fake: FakePterodactyl, service: Service) -> dict:
    return fake.servers[int(service.external_id)]


def test_the_demo_keys_are_the_fake_panels():
    assert catalogue.PTERODACTYL_APPLICATION_KEY == APPLICATION_KEY
    assert catalogue.PTERODACTYL_CLIENT_KEY == CLIENT_KEY


def test_the_seed_delivers_a_running_game_server_on_the_fake_panel(seed, fake):
    output = seed("--pterodactyl-url", fake.base_url)

    server = Server.objects.get(module="pterodactyl")
    assert (server.name, server.hostname) == (catalogue.PTERODACTYL_SERVER, "127.0.0.1")
    assert f"http://127.0.0.1:{server.port}" == fake.base_url
    assert server.credentials["application_key"] == fake.application_key
    assert server.credentials["client_key"] == fake.client_key
    product = Product.objects.get(module="pterodactyl")
    assert product.name == "Minecraft — Paper 4 GB"
    config = product.module_config
    assert (config["nest"], config["egg"], config["location"]) == (
        fake.ids["nest"],
        fake.ids["egg"],
        fake.ids["location"],
    )
    assert config["memory"] == 4096
    service = Service.objects.get(module="pterodactyl")
    assert service.customer.user.email == catalogue.PEOPLE[0].email
    assert (service.status, service.operation, service.server) == (
        ServiceStatus.ACTIVE,
        "",
        server,
    )
    # Delivered through the lifecycle: the panel was asked to install, then followed.
    events = list(service.events.order_by("pk").values_list("action", "to_status", "error"))
    assert events == [
        (ServiceAction.CREATE, ServiceStatus.PENDING, ""),
        (ServiceAction.DELIVER, ServiceStatus.ACTIVE, ""),
        (ServiceAction.PANEL, ServiceStatus.ACTIVE, ""),
    ]
    on_panel = _panel_server(fake, service)
    assert on_panel["external_id"] == str(service.uuid)
    assert on_panel["status"] is None  # installed
    assert on_panel["_power"] == "running"  # started through the Power tab's action
    assert fake.users[on_panel["user"]]["email"] == catalogue.PEOPLE[0].email
    assert len(fake.servers) == 3  # the two of the demo state, and this one
    # Every call to the panel is in the module call log, under the service.
    created = f"{fake.base_url}/api/application/servers"
    assert ModuleCall.objects.filter(service_ref=service.pk, method="POST", url=created).exists()
    assert f"Game panel demo at {fake.base_url}" in output
    assert f"service #{service.pk} (active)" in output


def test_a_second_run_adds_nothing_and_calls_nothing_that_writes(seed, fake):
    seed("--pterodactyl-url", fake.base_url)
    before = (
        Server.objects.count(),
        Product.objects.count(),
        Service.objects.count(),
        ServiceEvent.objects.count(),
    )
    writes = len([r for r in fake.requests if r.method != "GET"])

    output = seed("--pterodactyl-url", fake.base_url)

    after = (
        Server.objects.count(),
        Product.objects.count(),
        Service.objects.count(),
        ServiceEvent.objects.count(),
    )
    assert after == before
    assert len([r for r in fake.requests if r.method != "GET"]) == writes
    assert len(fake.servers) == 3
    assert f"Game panel demo already loaded ({fake.base_url})" in output


def test_a_restarted_fake_gets_a_new_demo_service_and_staffs_services_are_left(seed, fake):
    seed("--pterodactyl-url", fake.base_url)
    old = Service.objects.get(**SEEDED)
    staff = {"actor": User.objects.get(email=catalogue.ADMIN.email), "source": EventSource.ADMIN}
    theirs = lifecycle.create(
        **staff,
        customer=old.customer,
        product=old.product,
        module="pterodactyl",
        server=old.server,
        name="Made by staff",
        price=old.price,
        initial_price=old.price,
        billing_cycle=old.billing_cycle,
    )

    with serve(demo=True, install_reads=1) as restarted:  # a fresh state, another port
        output = seed("--pterodactyl-url", restarted.base_url)

        new = Service.objects.get(**SEEDED)
        assert new.pk != old.pk
        assert new.status == ServiceStatus.ACTIVE
        assert _panel_server(restarted, new)["external_id"] == str(new.uuid)
    assert not Service.objects.filter(pk=old.pk).exists()
    retired = ServiceEvent.objects.filter(
        service=None, action__in=[ServiceAction.TERMINATE, ServiceAction.DELETE]
    )
    assert set(retired.values_list("action", "error")) == {
        (ServiceAction.TERMINATE, ""),
        (ServiceAction.DELETE, ""),
    }
    server = Server.objects.get(module="pterodactyl")
    assert f"http://127.0.0.1:{server.port}" == restarted.base_url  # moved to the new port
    theirs.refresh_from_db()
    assert (theirs.status, theirs.external_id) == (ServiceStatus.PENDING, "")
    assert f"no longer has the server of demo service #{old.pk}" in output


def test_without_a_panel_the_game_panel_is_skipped_and_the_rest_is_seeded(seed):
    url = f"http://127.0.0.1:{closed_port()}"

    output = seed("--pterodactyl-url", url)

    assert f"Game panel demo skipped: no panel answers at {url}" in output
    assert "Demo data loaded" in output
    assert Service.objects.exists()
    assert not Server.objects.filter(module="pterodactyl").exists()
    assert not Product.objects.filter(module="pterodactyl").exists()
    assert "No demo product for the Pterodactyl module" not in output


def test_staff_see_the_fakes_servers_to_import_and_the_customer_the_tabs(seed, fake):
    seed("--pterodactyl-url", fake.base_url)
    service = Service.objects.get(**SEEDED)
    server = service.server
    staff = Client()
    staff.force_login(User.objects.get(email=catalogue.ADMIN.email))
    customer = Client()
    customer.force_login(service.customer.user)

    resources = staff.get(f"/admin/services/import/resources/?server={server.pk}")
    overview = customer.get(f"/client/services/{service.pk}/tabs/overview/")
    power = customer.get(f"/client/services/{service.pk}/tabs/power/")
    details = staff.get(f"/admin/services/{service.pk}/tabs/details/")

    listed = resources.content.decode()
    assert resources.status_code == 200
    assert "Survival world" in listed
    assert "steve@example.com" in listed
    assert "Creative build" in listed
    assert "alex@example.com" in listed
    # The demo service's own server is listed as linked to it, and cannot be chosen.
    linked = re.search(rf'data-resource="{service.external_id}">(.*?)</label>', listed, re.DOTALL)
    assert linked is not None
    assert "disabled" in linked[1]
    assert f'href="/admin/services/{service.pk}/">service #{service.pk}' in linked[1]
    free = re.findall(r'data-resource="(\d+)">\s*<input[^>]*value="\d+"\s*required', listed)
    assert sorted(free) == ["1", "2"]  # the fake's Survival world and Creative build
    assert overview.status_code == 200
    page = overview.content.decode()
    address = service.module_data["address"]
    assert "Running" in page
    assert address in page
    assert f"{fake.base_url}/server/{service.module_data['identifier']}" in page
    assert power.status_code == 200
    restart = f'action="/client/services/{service.pk}/tabs/power/actions/restart/"'
    assert restart in power.content.decode()
    assert details.status_code == 200
    assert str(service.uuid) in details.content.decode()
