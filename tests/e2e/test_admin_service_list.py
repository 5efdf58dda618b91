"""Staff filter, sort and page through the service list in a real browser (htmx swaps)."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from services.choices import ServiceStatus
from tests.e2e.held_requests import HeldRequests
from tests.factories import (
    DEFAULT_PASSWORD,
    CustomerFactory,
    FakeServerFactory,
    ProductFactory,
    ServiceFactory,
)

#: Set to a folder to keep screenshots of the page (e.g. SCREENSHOTS=/tmp).
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def sign_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")


def open_list(page: Page, live_server, user, query: str = "") -> None:
    """Sign in as ``user`` and open the service list, ``query`` its query string."""
    sign_in(page, live_server, user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/admin/services/{query}")


@pytest.fixture
def catalogue(db):
    """30 services of three customers in every status, enough for two pages."""
    now = timezone.now()
    server = FakeServerFactory(name="EU Node 1")
    minecraft = ProductFactory(name="Minecraft 4 GB", module="test")
    vps = ProductFactory(name="VPS SSD 2", module="test")
    people = [
        CustomerFactory(
            first_name=first, last_name=last, user__email=f"{first.lower()}@customers.example"
        )
        for first, last in [("Alice", "Walker"), ("Bob", "Schneider"), ("Carol", "Díaz")]
    ]
    statuses = [
        ServiceStatus.ACTIVE,
        ServiceStatus.ACTIVE,
        ServiceStatus.SUSPENDED,
        ServiceStatus.PENDING,
        ServiceStatus.EXPIRED,
        ServiceStatus.CANCELLED,
    ]
    for n in range(30):
        status = statuses[n % len(statuses)]
        ServiceFactory(
            name=f"{'Survival world' if n % 2 else 'Web VPS'} {n + 1}",
            customer=people[n % 3],
            product=minecraft if n % 2 else vps,
            module="test",
            server=server,
            status=status,
            expires_at=now + timedelta(days=(n * 7) % 60 - 10),
            last_delivery_error="Panel unreachable" if n == 3 else "",
        )


@pytest.mark.browser
def test_staff_filter_sort_and_page_through_the_services(
    page: Page, live_server, admin_user, catalogue
):
    open_list(page, live_server, admin_user)

    expect(page.get_by_role("heading", name="Services")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(25)
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/service-list.png", full_page=True)

    # Next page, through htmx: only the results change, and the URL follows.
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(page.get_by_text("26–30 of 30")).to_be_visible()

    # The "Active" tab, then a search, then a sort by name.
    page.locator('[data-status-tab="active"]').click()
    expect(page.locator("tbody tr")).to_have_count(10)
    page.get_by_label("Search services").fill("Bob")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"status=active.*q=Bob|q=Bob.*status=active"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(5)
    page.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    names = page.locator("tbody tr td.fw-semibold a").all_inner_texts()
    assert names == sorted(names)

    # Tick the page: the counter says how many are selected.
    page.get_by_label("Select every service on this page").check()
    expect(page.get_by_text("5 selected on this page")).to_be_visible()


@pytest.mark.browser
def test_the_folded_filter_panel_brings_its_fields_when_opened(
    page: Page, live_server, admin_user, catalogue
):
    open_list(page, live_server, admin_user, "?status=active")
    expect(page.locator("#id_product")).to_have_count(0)

    page.get_by_role("button", name="Filters").click()
    # Bootstrap adds "show" once the panel has finished unfolding: the fields below
    # are then where they stay (the fragment arrives while the panel still grows).
    expect(page.locator("#filter-panel")).to_have_class(re.compile(r"\bshow\b"))
    page.get_by_label("Product").select_option(label="Minecraft 4 GB")
    page.get_by_role("button", name="Apply filters").click()

    # The form's GET is a full page load: wait for it as for any navigation (30 s),
    # not the 5 s an assertion polls, which a loaded CI machine once exceeded.
    page.wait_for_url(re.compile(r"product=\d+"))
    expect(page).to_have_url(re.compile(r"status=active"))
    expect(page.locator("#filter-panel")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(5)
    for product in page.locator("tbody tr td:nth-child(5)").all_inner_texts():
        assert product == "Minecraft 4 GB"


@pytest.mark.browser
def test_a_filter_panel_that_cannot_load_its_fields_says_so(
    page: Page, live_server, admin_user, catalogue
):
    page.route(re.compile(r"fragment=filters"), lambda route: route.abort())
    open_list(page, live_server, admin_user)

    page.get_by_role("button", name="Filters").click()

    expect(page.locator("[data-filter-cells]")).to_have_text(
        "The filters could not be loaded. Reload the page to try again."
    )


@pytest.mark.browser
def test_the_filter_panel_shows_what_is_wrong(page: Page, live_server, admin_user, catalogue):
    open_list(page, live_server, admin_user, "?price_min=10&price_max=1&delivery_error=true")

    expect(page.locator("#filter-panel")).to_be_visible()
    expect(page.locator("#filter-errors")).to_contain_text(
        "Price up to: The minimum price is above the maximum price."
    )
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/service-list-errors.png", full_page=True)


@pytest.mark.browser
def test_a_search_shows_its_rows_at_once_then_counts_them(
    page: Page, live_server, admin_user, catalogue
):
    """Counting every match of a common name takes a fifth of the search: the rows come
    first, then the page asks for the count (``fragment=matching``) and shows it."""
    sign_in(page, live_server, admin_user)
    count = HeldRequests(page, "**/admin/services/**", lambda r: "fragment=matching" in r.url)
    page.goto(f"{live_server.url}/admin/services/?q=customers.example")

    expect(page.locator("tbody tr")).to_have_count(25)
    expect(page.locator("#result-range")).to_have_text("1–25 of …")
    expect(page.get_by_label("Select all matching services")).to_be_visible()
    count.release_one()

    expect(page.locator("#result-range")).to_have_text("1–25 of 30")
    expect(page.get_by_label("Select all 30 matching services")).to_be_visible()
