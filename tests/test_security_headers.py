"""Security headers: a Content-Security-Policy without inline script or style on both
areas' pages, and templates that need neither."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]
# An executable inline <script> (one without src; JSON data blocks are not executed).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
# An attribute with a quoted value; ``{% if style == 'danger' %}`` is template logic.
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=\s*[\"']", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


@pytest.fixture
def pages(client, admin_user, customer):
    """A page of each area, of each login, and the 404 page, as their audience sees them."""

    def fetch():
        yield client.get(reverse("admin:login"))
        yield client.get(reverse("client:login"))
        yield client.get("/no-such-page/")
        client.force_login(admin_user)
        yield client.get(reverse("admin:service_list"))
        client.force_login(customer.user)
        yield client.get(reverse("client:service_list"))

    return list(fetch())


def test_every_area_sends_a_policy_without_inline_script_or_style(pages):
    for response in pages:
        policy = directives(response)

        assert policy["script-src"] == ["'self'"], response.request["PATH_INFO"]
        assert policy["style-src"] == ["'self'"], response.request["PATH_INFO"]
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]


def test_pages_are_not_sniffed_and_send_no_referrer_off_site(pages):
    for response in pages:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_htmx_is_told_not_to_inject_its_indicator_style(pages):
    admin_page = pages[3]

    assert admin_page.status_code == 200
    assert 'name="htmx-config"' in admin_page.text
    assert '"includeIndicatorStyles": false' in admin_page.text


def template_files() -> list[Path]:
    return sorted(path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html"))


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (INLINE_SCRIPT, "an inline <script>"),
        (INLINE_HANDLER, "an on...= event handler"),
        (STYLE_ATTRIBUTE, "a style= attribute"),
    ],
)
def test_no_template_needs_what_the_policy_refuses(pattern, what):
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in template_files()
        for text in [path.read_text()]
        for match in pattern.finditer(text)
    ]

    assert template_files()
    assert not offenders, f"{what} in: {', '.join(offenders)} (move it to static/)"


def test_the_template_check_catches_an_inline_script():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert INLINE_HANDLER.search('<button onclick="go()">')
    assert STYLE_ATTRIBUTE.search('<div class="a" style="width: 3%">')
    assert not STYLE_ATTRIBUTE.search("<p class=\"{% if style == 'danger' %}x{% endif %}\">")
