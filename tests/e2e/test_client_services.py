"""A customer manages his services in the client area, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page, expect

from services.choices import ServiceStatus
from tests.factories import DEFAULT_PASSWORD


@pytest.mark.browser
def test_bob_schedules_the_cancellation_of_a_service_then_undoes_it(
    page: Page, live_server, customer, make_service
):
    service = make_service(ServiceStatus.ACTIVE, name="Minecraft Paris")
    ends = date_format(timezone.localtime(service.expires_at), "DATE_FORMAT")

    page.goto(f"{live_server.url}/client/login/")
    page.get_by_label("E-mail address").fill(customer.user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Services", exact=True).click()

    expect(page.get_by_role("heading", name="My services")).to_be_visible()
    page.get_by_role("link", name="Minecraft Paris").click()

    expect(page).to_have_url(re.compile(rf"/client/services/{service.pk}/$"))
    expect(page.locator("[data-fake-tab=overview]")).to_be_visible()  # loaded by htmx
    page.get_by_role("button", name="Cancel this service…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label(re.compile("At the end of the paid period"))).to_be_checked()
    dialog.get_by_role("button", name="Cancel the service").click()

    scheduled = page.locator("#scheduled-cancellation")
    expect(scheduled).to_contain_text(f"Cancellation scheduled on {ends}")
    scheduled.get_by_role("button", name="Undo the cancellation").click()

    expect(page.get_by_text("will no longer be cancelled")).to_be_visible()
    expect(page.locator("#scheduled-cancellation")).to_have_count(0)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert service.cancel_at is None
