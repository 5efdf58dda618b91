"""Staff filter the list, select services, bulk-suspend them and watch a real worker do it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from services.choices import ServiceStatus
from services.models import Service
from tests.factories import DEFAULT_PASSWORD

S = ServiceStatus


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.postgres
def test_staff_bulk_suspend_selected_services_and_read_the_result(
    page: Page, live_server, celery_worker, admin_user, make_service
):
    fine = [make_service(S.ACTIVE, name=f"Game server {n}") for n in range(3)]
    broken = make_service(S.ACTIVE, name="Broken panel box", fail="suspend")
    untouched = make_service(S.ACTIVE, name="Keep me running")
    make_service(S.SUSPENDED, name="Already stopped")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/services/")
    page.get_by_label("E-mail address").fill(admin_user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Filter: only the active services.
    page.locator('[data-status-tab="active"]').click()
    expect(page).to_have_url(re.compile(r"status=active"))
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(page.get_by_text("Already stopped")).to_have_count(0)

    for service in [*fine, broken]:
        page.get_by_label(f"Select {service.name}").check()
    page.get_by_label("Bulk action").select_option("suspend")
    page.get_by_role("button", name="Apply").click()

    expect(page.locator('[data-figure="changing"]')).to_have_text("4")
    page.get_by_label("Reason").fill("Unpaid invoices")
    page.get_by_role("button", name="Suspend 4 services").click()

    expect(page).to_have_url(re.compile(r"/admin/services/bulk/\d+/$"))
    expect(page.locator("#bulk-progress")).to_have_attribute("data-status", "done", timeout=60_000)
    results = page.locator("#bulk-results")
    expect(results).to_be_visible()
    for service in fine:
        expect(results.locator(f'tr[data-service="{service.pk}"]')).to_contain_text("Done")
    expect(results.locator(f'tr[data-service="{broken.pk}"]')).to_contain_text("Failed")
    expect(results.locator(f'tr[data-service="{broken.pk}"]')).to_contain_text(
        "The test panel refused to suspend."
    )
    expect(page.get_by_role("button", name="Retry the 1 failed")).to_be_visible()

    statuses = dict(Service.objects.values_list("pk", "status"))
    assert [statuses[s.pk] for s in fine] == [S.SUSPENDED] * 3
    assert statuses[broken.pk] == statuses[untouched.pk] == S.ACTIVE
