"""Staff sign in to the administration area in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import DEFAULT_PASSWORD


@pytest.mark.browser
def test_staff_sign_in_and_see_the_dashboard(page: Page, live_server, admin_user):
    page.goto(f"{live_server.url}/admin/")

    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.get_by_label("E-mail address").fill(admin_user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Alice Admin")).to_be_visible()
