"""At 390 px wide (a phone), the client home and services pages never scroll sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from services.choices import ServiceStatus
from tests.factories import DEFAULT_PASSWORD


@pytest.mark.browser
def test_the_home_and_services_pages_fit_a_390_px_screen(
    page: Page, live_server, customer, make_service
):
    for n in range(6):
        make_service(
            ServiceStatus.ACTIVE,
            name="TeamSpeak 3 – 50 slots",
            module_data={"hostname": f"ts{n}.a-rather-long-hostname.example.net"},
        )
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}/client/login/")
    page.get_by_label("E-mail address").fill(customer.user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    for path in ("/client/", "/client/services/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("#service-table tbody tr").count() == 6
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
