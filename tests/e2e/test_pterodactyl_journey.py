"""A game server on a Pterodactyl panel, end to end in a real browser (issue 12's "Must
show"): staff import a server that already runs on the panel for a customer, through
Services > Create and its import step, and the customer restarts it from the service's
management panel. The panel is the protocol-faithful fake (tests/fakes/pterodactyl),
served on 127.0.0.1, so every call goes over HTTP as it would to a real panel."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from delivery.models import Server
from delivery.registry import get_module
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import Service, ServiceEvent
from tests.factories import DEFAULT_PASSWORD
from tests.fakes import pterodactyl
from tests.fakes.pterodactyl import FakePterodactyl

pytestmark = pytest.mark.browser


@pytest.fixture
def panel() -> Iterator[FakePterodactyl]:
    """The fake panel with one running server that no billing panel knows of yet."""
    with pterodactyl.serve() as fake:
        owner = fake.add_user("steve@example.com", "steve", "Steve", "Player")
        # Running since now, as the panel's Wings would report it.
        server = fake.add_server("Survival world", owner["id"])
        server.update(_power="running", _booted=time.monotonic())
        yield fake


@pytest.fixture
def panel_server(db, panel: FakePterodactyl) -> Server:
    """The Pterodactyl server row staff would have made for the panel, with both keys
    checked by the module's own credentials form."""
    port = int(panel.base_url.rsplit(":", 1)[1])
    credentials = get_module("pterodactyl").clean_server_credentials(
        {
            "scheme": "http",
            "application_key": panel.application_key,
            "client_key": panel.client_key,
        }
    )
    return Server.objects.create(
        name="Frankfurt games",
        module="pterodactyl",
        hostname="127.0.0.1",
        port=port,
        credentials=credentials,
    )


def sign_in_staff(page: Page, base: str, user: Any) -> None:
    """Alice's session cookie: signing in (and two-factor, which she has not enrolled in)
    has its own tests (test_admin_login.py, tests/customers/test_two_factor.py)."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}]
    )


def sign_in_customer(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/client/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/client/$"))


def import_the_panel_server(page: Page, base: str, customer: Any, server: Server) -> Service:
    """Services > Create, its Import step: customer, type, server, the panel's resource."""
    page.goto(f"{base}/admin/services/")
    # The names start with the icon's glyph (CSS content counts in an accessible name).
    page.get_by_role("link", name=re.compile(r"\W*Create$")).click()
    page.get_by_label("Create or import").get_by_role(
        "link", name=re.compile(r"\W*Import$")
    ).click()
    expect(page.get_by_role("heading", name="Import an existing service")).to_be_visible()

    page.get_by_placeholder("Search by name, company or e-mail").fill("bob")
    expect(page.locator("#id_customer option")).to_have_text(["Bob Owner — bob@example.com"])
    page.locator("#id_customer").select_option(str(customer.pk))
    page.get_by_label("Service type").select_option(label="Pterodactyl")
    page.get_by_role("button", name="Next").click()

    expect(page).to_have_url(re.compile(r"step=2"))
    expect(page.locator("#service-target")).to_contain_text("Pterodactyl")
    # Choosing the server has htmx fetch its list of servers from the panel.
    with page.expect_response(re.compile(r"/admin/services/import/resources/\?server=")):
        page.get_by_label("Server").select_option(str(server.pk))
    resources = page.get_by_role("radiogroup", name="Resources on Frankfurt games")
    label = re.compile(r"^Survival world \(\w{8}\) — steve@example\.com")
    resource = resources.get_by_role("radio", name=label)
    expect(resource).to_have_count(1)
    # What the panel does not know (no status while installed, no external id) is left out.
    expect(resources).not_to_contain_text("None")
    resource.check()
    page.get_by_label("Service name").fill("Survival world")
    page.locator("#id_price").fill("12.00")
    page.get_by_label("Initial price").fill("12.00")
    page.locator("#service-form").get_by_role("button", name=re.compile("Import")).click()

    expect(page).to_have_url(re.compile(r"/admin/services/\d+/$"))
    service = Service.objects.get()
    expect(page).to_have_url(f"{base}/admin/services/{service.pk}/")
    expect(page.locator("h1 [data-status]")).to_have_text("Active")
    expect(page.get_by_text(f"imported as service #{service.pk}")).to_be_visible()
    expect(page.locator("#service-history [data-event='import']")).to_be_visible()
    return service


def test_staff_import_a_panel_server_and_the_customer_restarts_it(
    page: Page, live_server, admin_user, customer, panel: FakePterodactyl, panel_server: Server
):
    base = live_server.url
    [existing] = panel.servers.values()
    identifier = existing["identifier"]

    sign_in_staff(page, base, admin_user)
    service = import_the_panel_server(page, base, customer, panel_server)
    assert (service.customer, service.server, service.module) == (
        customer,
        panel_server,
        "pterodactyl",
    )
    assert service.status == ServiceStatus.ACTIVE
    assert service.external_id == str(existing["id"])
    assert service.module_data["identifier"] == identifier
    # Importing creates nothing on the panel and sends no power signal.
    assert panel.received("POST", "/api/*") == []

    # Bob, in the client area: his new service, its management panel, the Power tab.
    page.context.clear_cookies()
    sign_in_customer(page, base, customer.user.email)
    page.get_by_role("link", name="Services", exact=True).click()
    page.get_by_role("link", name="Survival world").click()
    expect(page).to_have_url(f"{base}/client/services/{service.pk}/")
    expect(page.locator("[data-ptero-tab=overview] [data-server-state]")).to_have_attribute(
        "data-server-state", "running"
    )  # loaded by htmx from the panel
    page.get_by_role("tab", name="Power").click()
    power = page.locator("[data-ptero-tab=power]")
    expect(power).to_be_visible()
    power.get_by_role("button", name="Restart", exact=True).click()

    expect(page).to_have_url(f"{base}/client/services/{service.pk}/tabs/power/")
    expect(page.get_by_text("The server is restarting.")).to_be_visible()
    expect(page.locator("[data-ptero-tab=power] [data-server-state]")).to_have_attribute(
        "data-server-state", "running"
    )

    # The panel was asked once, on the client API, with the client key.
    [power_call] = panel.received("POST", f"/api/client/servers/{identifier}/power")
    assert power_call.body == {"signal": "restart"}
    assert power_call.token == panel.client_key
    assert panel.received("POST", "/api/client/servers/*/power") == [power_call]
    # And the service's history says who did it, from where, and that it worked.
    [event] = ServiceEvent.objects.filter(service=service, action=ServiceAction.PANEL)
    assert (event.actor, event.source, event.error) == (customer.user, EventSource.CLIENT, "")
    assert event.reason == "Power: Restart"
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
