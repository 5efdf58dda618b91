"""Under the Content-Security-Policy, the pages' scripts still run and the browser
reports no refused script or style."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from tests.factories import ProductFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(page: Page, live_server, admin_user) -> Page:
    """The browser signed in as Alice, and a list of what it reports on its console."""
    client = Client()
    client.force_login(admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page


def csp_reports(page: Page) -> list[str]:
    """Chromium logs every refusal of the policy as a console error naming it."""
    reports: list[str] = []
    page.on(
        "console",
        lambda message: (
            reports.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return reports


def test_the_product_form_adds_a_price_row_under_the_policy(admin_page: Page, live_server):
    reports = csp_reports(admin_page)
    admin_page.goto(f"{live_server.url}/admin/products/add/")
    rows = admin_page.locator("#prices tbody tr")
    before = rows.count()

    admin_page.get_by_role("button", name="Add a price").click()

    expect(rows).to_have_count(before + 1)
    assert reports == []


def test_the_service_pages_run_their_scripts_under_the_policy(
    admin_page: Page, live_server, customer
):
    reports = csp_reports(admin_page)
    product = ProductFactory.create(module="test")
    admin_page.goto(f"{live_server.url}/admin/services/")
    admin_page.goto(f"{live_server.url}/admin/servers/")
    admin_page.goto(f"{live_server.url}/admin/services/create/")

    admin_page.locator("#id_product").select_option(str(product.pk))

    # Choosing the product chose its type: static/js/service_create.js ran.
    expect(admin_page.locator("#id_module")).to_have_value("test")
    assert reports == []
