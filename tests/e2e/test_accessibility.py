"""Every page of both areas passes axe-core's WCAG 2 A and AA rules with no serious or
critical violation (issue 16).

The pages are discovered, not listed: every GET URL pattern of the ``admin`` and
``client`` namespaces, filled with the objects of ``tests/test_hostile_input.py``'s
world, plus the pages those pages link to whose URL takes a slug (a service's tabs, an
automation task). Each area is walked by its own persona, and the sign-in pages by an
anonymous visitor.

axe-core comes from the npm registry (``tests/e2e/axe/package.json``) and is vendored as
``tests/e2e/axe/axe.min.js``: see ``tests/e2e/axe/README.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, reverse
from django.urls import resolve as resolve_path
from playwright.sync_api import Browser, BrowserContext, Page

from tests.pages import pages_of
from tests.test_hostile_input import build_world

pytestmark = pytest.mark.browser

AXE_SOURCE = (Path(__file__).parent / "axe" / "axe.min.js").read_text()
#: The impacts that fail the test; "moderate" and "minor" are left to review.
FAILING_IMPACTS = ("serious", "critical")
#: Run in the page once axe is injected: the serious and critical WCAG 2 A/AA violations.
RUN_AXE = """async impacts => {
    const result = await axe.run(document, {
        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
        resultTypes: ["violations"],
    });
    return result.violations
        .filter(v => impacts.includes(v.impact))
        .flatMap(v => v.nodes.map(n => ({
            id: v.id, impact: v.impact, target: n.target.join(" "),
            summary: n.failureSummary.split("\\n").slice(0, 2).join(" "),
        })));
}"""


def with_axe(context: BrowserContext) -> BrowserContext:
    """Put axe in every page the context opens, before the page's own scripts.

    The panel's Content-Security-Policy refuses inline scripts, and so the inline
    ``<script>`` that ``page.add_script_tag`` writes (tried: "violates the following
    Content Security Policy directive 'script-src 'self''"). An init script is evaluated
    by the browser itself in the page's main world, which the policy does not govern: no
    ``bypass_csp``, so every page is checked under the policy it really has."""
    context.add_init_script(script=AXE_SOURCE)
    return context


def sign_in(context: BrowserContext, base: str, user: Any) -> None:
    """Sign ``user`` in by cookie: the sign-in pages are checked, not used."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])


def is_page(client: Client, url: str) -> bool:
    """Whether ``url`` answers this persona with a whole HTML page (not a 405 for a GET on
    an action, a PDF, a CSV, or a search's fragment checked inside its page)."""
    response = client.get(url)
    return (
        response.status_code == 200
        and "html" in response.get("Content-Type", "")
        and response.content.lstrip().lower().startswith(b"<!doctype html")
    )


def audit(
    page: Page, client: Client, base: str, urls: list[str], area: str
) -> tuple[list[str], list[str]]:
    """Visit ``urls`` and the slugged pages they link to; (violations, pages checked)."""
    failures: list[str] = []
    checked: list[str] = []
    queue = list(urls)
    seen: set[object] = set(queue)
    while queue:
        url = queue.pop(0)
        if not is_page(client, url):
            continue
        page.goto(base + url)
        checked.append(url)
        failures += run_axe(page, url)
        for link in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            path = link.removeprefix(base).split("?")[0].split("#")[0]
            shape = keyed_shape(path, area)
            if shape is not None and shape not in seen:
                seen.add(shape)
                queue.append(path)
    return failures, checked


def run_axe(page: Page, label: str) -> list[str]:
    """axe's serious and critical WCAG 2 A/AA violations on the page shown, one a line.

    axe is in every page of the context already (``with_axe``)."""
    return [
        f"{label}: {v['id']} ({v['impact']}) at {v['target']} — {v['summary']}"
        for v in page.evaluate(RUN_AXE, list(FAILING_IMPACTS))
    ]


def audit_states(page: Page, base: str, world: dict) -> tuple[list[str], list[str]]:
    """The admin pages that no GET shows: a bulk confirmation (reached by POST), a form
    sent back with errors, and a confirmation dialog open."""
    failures: list[str] = []
    page.goto(f"{base}/admin/services/")
    for service in world["services"][:2]:
        page.get_by_label(f"Select {service.name}").check()
    page.get_by_label("Bulk action").select_option("terminate")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url("**/admin/services/bulk/")
    failures += run_axe(page, "bulk confirmation (terminate)")

    page.goto(f"{base}/admin/customers/add/")
    page.locator("form.admin-form").evaluate("form => form.requestSubmit()")
    page.wait_for_selector("[aria-invalid=true]")
    failures += run_axe(page, "customer form with errors")
    failures += untied_errors(page, "customer form with errors")

    page.goto(f"{base}/admin/services/{world['service'].pk}/")
    page.locator('[data-bs-toggle="modal"]').first.click()
    # Shown, focused, and every fade (the dialog's, the backdrop's) ended: axe must see the
    # final colours. Focus alone came before the fade's end on a loaded machine (CI).
    page.wait_for_function(
        "() => document.querySelector('.modal.show')?.contains(document.activeElement)"
        " && document.getAnimations().every((a) => a.playState !== 'running')"
    )
    failures += run_axe(page, "service action dialog")
    return failures, ["bulk confirmation", "customer form with errors", "service action dialog"]


def untied_errors(page: Page, label: str) -> list[str]:
    """Each invalid field described by its error message (aria-describedby), so that a
    screen reader reads the error with the field."""
    fields = page.eval_on_selector_all(
        "[aria-invalid=true]",
        """fields => fields.map(f => [f.id, (f.getAttribute("aria-describedby") || "")
            .split(/\\s+/).map(id => document.getElementById(id))
            .some(e => e && e.classList.contains("invalid-feedback") && e.textContent.trim())])""",
    )
    assert fields, f"{label}: no field is marked invalid"
    return [f"{label}: #{id_} has no error tied to it" for id_, tied in fields if not tied]


def keyed_shape(path: str, area: str) -> tuple[str, str] | None:
    """``(view name, key)`` of a page of ``area`` whose URL takes a ``<key>`` (a tab, a
    task), else None: one page per tab is checked, each service's tab being the same
    template."""
    if not path.startswith(f"/{area}/"):
        return None
    try:
        match = resolve_path(path)
    except Resolver404:
        return None
    key = match.kwargs.get("key")
    return (match.view_name, key) if key is not None else None


def test_every_page_of_both_areas_passes_axe(
    browser: Browser, live_server, customer, other_customer, admin_user, make_service
):
    started = time.monotonic()
    world = build_world(customer, other_customer, admin_user, make_service)
    base = live_server.url
    failures: list[str] = []
    checked: list[str] = []
    walks = [
        ("admin", admin_user, pages_of("admin", world)),
        ("client", customer.user, pages_of("client", world)),
        (
            "",
            None,
            [reverse(name) for name in ("admin:login", "client:login", "client:signup")]
            + [reverse("client:password_reset"), reverse("client:password_reset_sent")],
        ),
    ]
    for area, user, urls in walks:
        context = with_axe(browser.new_context(viewport={"width": 1280, "height": 900}))
        client = Client()
        if user is not None:
            sign_in(context, base, user)
            client.force_login(user)
        page = context.new_page()
        found, visited = audit(page, client, base, urls, area or "none")
        if area == "admin":
            states = audit_states(page, base, world)
            found, visited = found + states[0], visited + states[1]
        context.close()
        failures += found
        checked += visited

    # The walk reached the pages of both areas (a broken sign-in would check login pages only).
    for must in ("/admin/services/", f"/admin/services/{world['service'].pk}/", "/client/"):
        assert must in checked, f"{must} was not checked; checked: {checked}"
    assert any("/tabs/" in url for url in checked), "no service tab was checked"
    assert not failures, f"{len(failures)} serious or critical violations:\n" + "\n".join(failures)
    assert time.monotonic() - started < 120, "the accessibility walk got slow"
