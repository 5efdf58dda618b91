"""A bulk action on a large selection: the confirmation shows at once, then counts.

Counting what the action would change reads every selected service, so beyond
``bulk.COUNTED_AT_ONCE`` the page says "more than", keeps its run button disabled, and
fetches the figures itself; they replace the spinner and enable the button.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from services import bulk
from services.choices import ServiceStatus
from tests.e2e.held_requests import HeldRequests
from tests.e2e.test_keyboard_bulk_action import sign_in

S = ServiceStatus


@pytest.mark.browser
def test_the_confirmation_of_a_large_selection_counts_after_showing(
    page: Page, live_server, admin_user, make_service, monkeypatch
):
    monkeypatch.setattr(bulk, "COUNTED_AT_ONCE", 2)
    for n in range(3):
        make_service(S.ACTIVE, name=f"Game server {n}")
    make_service(S.SUSPENDED, name="Already stopped")
    sign_in(page, live_server, admin_user)
    count = HeldRequests(
        page,
        "**/admin/services/bulk/",
        lambda request: "fragment=plan" in (request.post_data or ""),
    )
    page.goto(f"{live_server.url}/admin/services/")
    page.get_by_label("Bulk action").select_option("suspend")
    page.get_by_label("Select all 4 matching services").check()
    page.get_by_role("button", name="Apply").click()

    expect(page.locator('[data-figure="total"]')).to_have_text("more than 2")
    expect(page.locator("#bulk-counting")).to_contain_text("Counting what will be changed")
    expect(page.get_by_role("button", name="Suspend the matching services")).to_be_disabled()
    count.release_one()

    expect(page.locator('[data-figure="changing"]')).to_have_text("3")
    expect(page.locator("#bulk-plan")).to_contain_text("1: it is already suspended")
    expect(page.locator("#bulk-counting")).to_have_count(0)
    expect(page.get_by_role("button", name="Suspend 3 services")).to_be_enabled()
