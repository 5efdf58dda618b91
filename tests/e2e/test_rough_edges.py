"""The rough edges of issue 16 that only a browser shows: long names, the View button from
the keyboard, and room for the whole date-and-time picker.

The server-side half is ``tests/services/test_rough_edges.py``.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Locator, Page, expect

from services.choices import ServiceStatus

pytestmark = pytest.mark.browser

#: 150 characters without a space: before the fix it widened the details page to 2,736 px.
LONG_NAME = "Minecraft-" + "x" * 140


def sign_in(page: Page, live_server, user) -> None:
    """Sign ``user`` in by cookie: the login pages have their own tests."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def page_width(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_a_150_character_name_never_widens_a_page(
    page: Page, live_server, admin_user, customer, make_service
):
    service = make_service(ServiceStatus.ACTIVE, name=LONG_NAME)
    sign_in(page, live_server, admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})

    for path in (f"/admin/services/{service.pk}/", "/admin/services/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text(LONG_NAME).first).to_be_visible()
        scroll, inner = page_width(page)
        assert scroll <= inner, f"{path} is {scroll} px wide at {inner} px"

    page.context.clear_cookies()
    sign_in(page, live_server, customer.user)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/client/services/{service.pk}/")
        expect(page.get_by_role("heading", name=LONG_NAME)).to_be_visible()
        scroll, inner = page_width(page)
        assert scroll <= inner, f"the client page is {scroll} px wide at {inner} px"


def test_the_view_button_is_reached_and_followed_with_the_keyboard(
    page: Page, live_server, admin_user, make_service
):
    service = make_service(ServiceStatus.ACTIVE, name="Voice server")
    sign_in(page, live_server, admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/services/")

    view = page.get_by_role("link", name=f"View service #{service.pk} Voice server")
    expect(view).to_have_text("View service #" + str(service.pk) + " Voice server")
    expect(view).to_be_visible()
    # From the service's name, the next stop of the Tab key is its View button.
    page.get_by_role("link", name="Voice server", exact=True).focus()
    page.keyboard.press("Tab")
    expect(view).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/admin/services/{service.pk}/")


@pytest.mark.parametrize("path", ["/admin/services/{pk}/edit/", "/admin/services/create/"])
def test_the_expiration_picker_has_room_for_am_pm(
    page: Page, live_server, admin_user, customer, make_service, path
):
    service = make_service(ServiceStatus.ACTIVE)
    sign_in(page, live_server, admin_user)
    if "create" in path:
        url = f"/admin/services/create/?step=2&customer={customer.pk}&module=manual"
    else:
        url = path.format(pk=service.pk)
    for width in (1200, 1280):  # 1,200 px: the narrowest screen with the form beside its help
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}{url}")
        picker = page.locator("input[name=expires_at]")
        expect(picker).to_be_visible()
        picker_fits(picker)


def picker_fits(picker: Locator) -> None:
    """The picker is at least as wide as its fields, and inside its grid column."""
    # The width the picker's own fields need ("mm/dd/yyyy, --:-- --" in English): a copy
    # sized to its content by the browser (CSS field-sizing), set through the CSSOM, which
    # the Content-Security-Policy allows.
    needed, given = picker.evaluate(
        """input => {
            const copy = input.cloneNode();
            copy.style.minWidth = "0";
            copy.style.width = "auto";
            copy.style.fieldSizing = "content";
            input.after(copy);
            const needed = copy.getBoundingClientRect().width;
            copy.remove();
            return [needed, input.getBoundingClientRect().width];
        }"""
    )
    assert needed > 100, "the browser did not size the copy to its content"
    assert given >= needed, f"the picker is {given} px wide; its fields need {needed} px"
    overflow = picker.evaluate(
        """input => {
            const column = input.closest("[class*=col-]");
            const inner = column.getBoundingClientRect().right
                - parseFloat(getComputedStyle(column).paddingRight);
            return input.getBoundingClientRect().right - inner;
        }"""
    )
    assert overflow <= 0, f"the picker spills {overflow} px out of its column"
