"""Staff create, import and act on a service in a real browser."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from services.choices import ServiceStatus
from services.models import Service
from tests.factories import FakeServerFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(page: Page, live_server, admin_user) -> Page:
    """The browser signed in as Alice: the login page has its own test."""
    client = Client()
    client.force_login(admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page


def test_create_a_custom_service_in_two_steps(admin_page: Page, live_server, customer):
    page = admin_page
    page.goto(f"{live_server.url}/admin/services/create/")
    expect(page.get_by_text("Service creation and import do not create an invoice")).to_be_visible()

    page.get_by_placeholder("Search by name, company or e-mail").fill("bob")
    expect(page.locator("#id_customer option")).to_have_text(["Bob Owner — bob@example.com"])
    page.locator("#id_customer").select_option(str(customer.pk))
    page.get_by_label("Service type").select_option("manual")
    page.get_by_role("button", name="Next").click()

    expect(page).to_have_url(re.compile(r"step=2"))
    expect(page.locator("#service-target")).to_contain_text("Custom service")
    page.get_by_label("Service name").fill("Bob's mail box")
    page.locator("#id_price").fill("4.50")
    page.get_by_label("Initial price").fill("4.50")
    page.get_by_role("button", name="Create the service").click()

    service = Service.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/services/{service.pk}/")
    expect(page.get_by_role("heading", name="Bob's mail box")).to_be_visible()
    expect(page.locator("h1 [data-status]")).to_have_text("Pending")
    expect(page.get_by_text("No invoice was made.")).to_be_visible()
    assert (service.customer, service.product, service.module) == (customer, None, "manual")


def test_import_a_resource_from_the_test_module(admin_page: Page, live_server, customer):
    page = admin_page
    FakeServerFactory(name="panel-a")
    server = FakeServerFactory(name="panel-b")
    page.goto(
        f"{live_server.url}/admin/services/import/?customer={customer.pk}&product=&module=test"
    )
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_text("Choose a server to see its resources.")).to_be_visible()
    page.get_by_label("Server").select_option(str(server.pk))  # type: ignore[attr-defined]  # factory_boy types XFactory() as the factory, not its model
    page.get_by_label("Test VM 2").check()
    page.get_by_label("Service name").fill("Imported VM")
    page.locator("#id_price").fill("7.00")
    page.get_by_label("Initial price").fill("7.00")
    page.get_by_role("button", name="Import").last.click()

    service = Service.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/services/{service.pk}/")
    expect(page.locator("h1 [data-status]")).to_have_text("Active")
    expect(page.get_by_text("Resource vm-2 imported as service")).to_be_visible()
    expect(page.locator("#service-history [data-event='import']")).to_be_visible()
    assert (service.server, service.external_id) == (server, "vm-2")


def test_suspend_then_unsuspend_and_see_both_in_the_history(
    admin_page: Page, live_server, make_service
):
    page = admin_page
    service = make_service(ServiceStatus.ACTIVE, name="Game server")
    page.goto(f"{live_server.url}/admin/services/{service.pk}/")
    expect(page.locator("[data-tab-panel='overview']")).to_contain_text("512 MB")

    page.locator("[data-action='suspend']").click()
    dialog = page.get_by_role("dialog", name="Suspend")
    dialog.get_by_label("Reason").fill("Unpaid invoice")
    dialog.get_by_role("button", name="Suspend").click()

    expect(page.locator("h1 [data-status]")).to_have_text("Suspended")
    page.locator("[data-action='unsuspend']").click()
    dialog = page.get_by_role("dialog", name="Unsuspend")
    dialog.get_by_role("button", name="Unsuspend").click()

    expect(page.locator("h1 [data-status]")).to_have_text("Active")
    history = page.locator("#service-history")
    expect(history.locator("[data-event]")).to_have_count(2)
    expect(history.locator("[data-event='unsuspend']")).to_contain_text("Unsuspended")
    expect(history.locator("[data-event='suspend']")).to_contain_text("Unpaid invoice")
