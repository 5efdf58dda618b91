"""Staff suspend two services from the list with the keyboard alone (issue 16): no click,
no mouse, every control reached with Tab and Shift+Tab and worked with Space, the arrow
keys and Enter, each showing where the focus is. And a confirmation dialog opens from
the keyboard, holds the focus, and closes with Escape.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Locator, Page, expect

from services import tasks
from services.choices import ServiceStatus
from services.models import BulkOperation, Service

pytestmark = pytest.mark.browser
S = ServiceStatus
#: More than any page of the panel has controls: a control not reached by then never is.
MAX_PRESSES = 150


def sign_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def press_until_focused(page: Page, target: Locator, key: str = "Tab") -> None:
    """Press ``key`` until ``target`` has the focus, which it must show (:focus-visible
    with an outline or a ring)."""
    for _ in range(MAX_PRESSES):
        if target.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press(key)
    else:
        raise AssertionError(f"{key} never reached {target}")
    shown = target.evaluate(
        """el => {
            const style = getComputedStyle(el);
            const ring = style.boxShadow !== "none"
                || (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0);
            return el.matches(":focus-visible") && ring;
        }"""
    )
    assert shown, f"{target} has the focus but does not show it"


def test_staff_bulk_suspend_two_services_with_the_keyboard_alone(
    page: Page, live_server, admin_user, make_service, monkeypatch
):
    first, second, other = (
        make_service(S.ACTIVE, name=name) for name in ("Alpha box", "Bravo box", "Charlie box")
    )
    # The operation runs in the live server's thread rather than on a worker (the worker
    # has its own test, test_admin_bulk_suspend.py): this test is about the keyboard.
    monkeypatch.setattr(tasks.run_bulk_operation, "delay", tasks.run_bulk_operation)
    sign_in(page, live_server, admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/services/")

    # The first Tab reaches the skip link, which takes the focus past the navigation.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # Tab down to the first service's box, tick it with Space; on to the second one.
    for service in (first, second):
        box = page.get_by_label(f"Select {service.name}")
        press_until_focused(page, box)
        page.keyboard.press("Space")
        expect(box).to_be_checked()
    expect(page.get_by_label(f"Select {other.name}")).not_to_be_checked()
    expect(page.locator("[data-selected-count]")).to_contain_text("2 selected")

    # Back up with Shift+Tab to the bulk action, chosen with the arrow keys.
    action = page.get_by_label("Bulk action")
    press_until_focused(page, action, "Shift+Tab")
    for _ in range(20):
        if action.input_value() == "suspend":
            break
        page.keyboard.press("ArrowDown")
    expect(action).to_have_value("suspend")
    press_until_focused(page, page.get_by_role("button", name="Apply", exact=True))
    page.keyboard.press("Enter")

    # The confirmation page: the figures, a reason typed in, the confirm button.
    expect(page).to_have_url(re.compile(r"/admin/services/bulk/$"))
    expect(page.locator('[data-figure="changing"]')).to_have_text("2")
    reason = page.get_by_label("Reason")
    press_until_focused(page, reason)
    page.keyboard.type("Unpaid invoices")
    press_until_focused(page, page.get_by_role("button", name="Suspend 2 services"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/admin/services/bulk/\d+/$"))
    expect(page.locator("#bulk-progress")).to_have_attribute("data-status", "done")
    results = page.locator("#bulk-results")
    for service in (first, second):
        expect(results.locator(f'tr[data-service="{service.pk}"]')).to_contain_text("Done")
    operation = BulkOperation.objects.get()
    assert (operation.action, sorted(operation.service_ids)) == ("suspend", [first.pk, second.pk])
    statuses = dict(Service.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[second.pk], statuses[other.pk]) == (
        S.SUSPENDED,
        S.SUSPENDED,
        S.ACTIVE,
    )


def test_a_confirmation_dialog_opens_holds_the_focus_and_closes_with_escape(
    page: Page, live_server, admin_user, make_service
):
    service = make_service(S.ACTIVE, name="Delta box")
    sign_in(page, live_server, admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/services/{service.pk}/")

    opener = page.locator('[data-bs-toggle="modal"]').first
    press_until_focused(page, opener)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name(re.compile(r"\S"))
    # The focus moves into the dialog (once it has faded in) and stays there however far
    # one tabs.
    page.wait_for_function(
        "() => document.querySelector('.modal.show')?.contains(document.activeElement)"
    )
    # Past its last control the focus may go to the browser's own toolbar (the body is
    # then active), never to a control of the page behind the dialog.
    for _ in range(12):
        page.keyboard.press("Tab")
        behind = dialog.evaluate(
            "d => !d.contains(document.activeElement) && document.activeElement !== document.body"
        )
        assert not behind, "the focus reached the page behind the dialog"
    # ...and the next Tab from the toolbar comes back into the dialog.
    for _ in range(2):
        if dialog.evaluate("d => d.contains(document.activeElement)"):
            break
        page.keyboard.press("Tab")
    assert dialog.evaluate("d => d.contains(document.activeElement)"), "the focus got lost"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE
