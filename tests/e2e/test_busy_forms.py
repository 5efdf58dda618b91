"""A form that takes a while says so once sent: the CSV import's preview and import (a
few seconds for 2,000 rows, each run through the lifecycle and rolled back)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_keyboard_bulk_action import sign_in

pytestmark = pytest.mark.browser

#: The browser's submit event without the navigation that follows it, which Playwright
#: waits for before it looks at the page again.
SUBMIT = """form => form.dispatchEvent(new SubmitEvent("submit", {
    bubbles: true, cancelable: true, submitter: form.querySelector("[type=submit]"),
}))"""


def test_the_csv_preview_says_it_is_working_once_sent(page: Page, live_server, admin_user):
    sign_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/services/import-csv/")
    form = page.locator("#import-upload")
    button = form.locator("button[type=submit]")
    expect(button).to_be_enabled()
    expect(form).not_to_have_attribute("aria-busy", "true")

    form.evaluate(SUBMIT)

    expect(button).to_be_disabled()
    expect(button).to_have_text("Checking every row…")
    expect(form).to_have_attribute("aria-busy", "true")
    # Said to a screen reader too, in the form's status region.
    expect(form.locator("[role=status][data-busy-status]")).to_have_text("Checking every row…")


def test_a_form_without_data_busy_is_left_alone(page: Page, live_server, admin_user):
    sign_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/services/")
    form = page.locator("form[role=search], form#service-filters, main form").first
    button = form.locator("[type=submit]").first

    form.evaluate(SUBMIT)

    expect(button).to_be_enabled()
