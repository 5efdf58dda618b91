"""Staff set up everything a service needs, then sell it, in a real browser: a product
with two prices, a server, a customer, and a service for that customer."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from customers.models import Customer
from delivery.models import Server
from products.models import Product
from services.models import Service

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(page: Page, live_server, admin_user) -> Page:
    """The browser signed in as Alice: signing in has its own test."""
    client = Client()
    client.force_login(admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page


def create_product(page: Page) -> Product:
    page.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product").click()
    # htmx must be listening before the type changes, or no form is swapped in (a busy
    # machine loads the page's scripts late).
    page.wait_for_url("**/admin/products/add/", wait_until="load")
    page.locator("#id_name").fill("Game server S")
    page.locator("#id_module").select_option("test")
    # The type's own configuration form is swapped in by htmx.
    page.get_by_label("Memory mb").fill("2048")
    rows = page.locator("#prices tbody tr")
    rows.nth(0).locator("select").select_option("monthly")
    rows.nth(0).locator("[name$='-price']").fill("9.99")
    rows.nth(0).locator("[name$='-setup_fee']").fill("5")
    rows.nth(1).locator("select").select_option("annually")
    rows.nth(1).locator("[name$='-price']").fill("99")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_text("Created the product Game server S.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Game server S")
    expect(row).to_contain_text("Monthly: 9.99 EUR + 5.00 setup")
    expect(row).to_contain_text("Annually: 99.00 EUR")
    return Product.objects.get(slug="game-server-s")


def create_server(page: Page) -> Server:
    page.get_by_role("link", name="Servers").click()
    page.get_by_role("link", name="New server").click()
    page.wait_for_url("**/admin/servers/add/", wait_until="load")
    page.locator("#id_name").fill("node-paris-1")
    page.locator("#id_module").select_option("test")
    page.get_by_label("Api key").fill("ptla_browser-secret")
    page.get_by_label("Hostname or address").fill("panel.example.net")
    page.get_by_label("Max accounts").fill("20")
    page.get_by_role("button", name="Create server").click()

    expect(page.get_by_text("Created the server node-paris-1.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="node-paris-1")
    expect(row).to_contain_text("0 / 20")
    row.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("node-paris-1: the connection works.")).to_be_visible()
    return Server.objects.get(name="node-paris-1")


def create_customer(page: Page) -> Customer:
    page.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="New customer").click()
    page.get_by_label("E-mail address").fill("dana@example.com")
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Company").fill("Dana Games")
    page.get_by_role("button", name="Create customer").click()

    expect(page.get_by_role("heading", name="Dana Buyer")).to_be_visible()
    expect(page.get_by_text("No services.")).to_be_visible()
    return Customer.objects.get(user__email="dana@example.com")


def test_staff_set_up_a_product_a_server_and_a_customer_then_sell_a_service(
    admin_page: Page, live_server
):
    page = admin_page
    page.goto(f"{live_server.url}/admin/")
    product = create_product(page)
    server = create_server(page)
    customer = create_customer(page)

    page.get_by_role("link", name="Services").click()
    # The name starts with the icon's glyph (CSS content counts in an accessible name).
    page.get_by_role("link", name=re.compile(r"\W*Create$")).click()
    page.get_by_placeholder("Search by name, company or e-mail").fill("dana")
    expect(page.locator("#id_customer option")).to_have_count(1)
    page.locator("#id_customer").select_option(str(customer.pk))
    page.get_by_label("Product").select_option(str(product.pk))
    expect(page.get_by_label("Service type")).to_have_value("test")
    page.get_by_role("button", name="Next").click()

    expect(page).to_have_url(re.compile(r"step=2"))
    page.get_by_label("Service name").fill("Dana's game server")
    page.get_by_label("Recurrence").select_option("annually")
    expect(page.locator("#id_price")).to_have_value("99.00")
    page.get_by_label("Server").select_option(str(server.pk))
    page.get_by_role("button", name="Create the service").click()

    service = Service.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/services/{service.pk}/")
    assert (service.customer, service.product, service.server) == (customer, product, server)
    assert (service.billing_cycle, service.price) == ("annually", Decimal("99.00"))

    page.goto(f"{live_server.url}/admin/customers/{customer.pk}/")
    services = page.locator("#customer-services")
    expect(services.get_by_role("link", name=f"#{service.pk} Dana's game server")).to_be_visible()
    expect(services.locator("[data-status]")).to_have_text(service.get_status_display())
    expect(page.locator("#customer-history")).to_contain_text("Create")
