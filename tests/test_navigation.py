"""The administration's sidebar (clientxcms/navigation.py): the sections a staff member
may open, the current one marked, the links right whatever the script prefix."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.urls import reverse, set_script_prefix

from clientxcms.navigation import SECTIONS

SIDEBAR = re.compile(r'<nav id="admin-sidebar".*?</nav>', re.S)
ITEM = re.compile(r'<a href="([^"]+)" class="nav-link( active" aria-current="page)?">')


def sidebar(client, url: str) -> list[tuple[str, bool]]:
    """The sidebar's links on the page at ``url``: (href, whether marked current)."""
    response = client.get(url)
    assert response.status_code == 200
    nav = SIDEBAR.search(response.text)
    assert nav is not None
    return [(href, bool(marked)) for href, marked in ITEM.findall(nav.group())]


def test_a_superuser_sees_every_section_in_order(client, admin_user):
    client.force_login(admin_user)

    links = sidebar(client, reverse("admin:home"))

    assert [href for href, _ in links] == [reverse(s.url_name) for s in SECTIONS]
    assert links[0] == (reverse("admin:home"), True)
    assert [marked for _, marked in links[1:]] == [False] * (len(SECTIONS) - 1)


def test_staff_see_only_the_sections_their_permissions_open(client, support_user, plain_staff):
    client.force_login(support_user)
    shown = {href for href, _ in sidebar(client, reverse("admin:home"))}

    # Support may view everything, change nothing: no settings, gateways or staff.
    assert reverse("admin:service_list") in shown
    assert reverse("admin:invoice_list") in shown
    assert reverse("admin:billing_company") not in shown
    assert reverse("admin:gateway_list") not in shown
    assert reverse("admin:staff_list") not in shown

    client.force_login(plain_staff)
    assert sidebar(client, reverse("admin:home")) == [(reverse("admin:home"), True)]


@pytest.mark.parametrize(
    ("page", "section"),
    [
        ("admin:service_list", "admin:service_list"),
        ("admin:service_create", "admin:service_list"),
        ("admin:bulk_list", "admin:service_list"),
        # Both the services' prefix and the operations claim it: the longer name wins.
        ("admin:service_operations", "admin:service_operations"),
        ("admin:tax_list", "admin:billing_company"),
        ("admin:automation_settings", "admin:automation"),
    ],
)
def test_the_section_of_the_page_is_the_one_marked(client, admin_user, page, section):
    client.force_login(admin_user)

    marked = [href for href, current in sidebar(client, reverse(page)) if current]

    assert marked == [reverse(section)]


def test_links_follow_the_script_prefix_they_are_served_under(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    tag = Template("{% load navigation %}{% admin_navigation %}")
    try:
        set_script_prefix("/panel/")
        assert 'href="/panel/admin/services/"' in tag.render(Context({"request": request}))
    finally:
        set_script_prefix("/")
    assert 'href="/admin/services/"' in tag.render(Context({"request": request}))


def test_the_sections_speak_the_page_s_language(client, admin_user):
    # Labels are translated when the sidebar is written, not when the module is loaded.
    client.force_login(admin_user)

    french = client.get(reverse("admin:home"), headers={"accept-language": "fr"}).text
    english = client.get(reverse("admin:home")).text

    assert '<i class="bi bi-speedometer2 me-2"></i>Tableau de bord</a>' in french
    assert '<i class="bi bi-receipt me-2"></i>Factures</a>' in french
    assert '<i class="bi bi-speedometer2 me-2"></i>Dashboard</a>' in english
