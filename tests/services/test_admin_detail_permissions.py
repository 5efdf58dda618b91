"""Who may open the pages of this issue: create, import, details, tabs, edit, actions.

Anonymous visitors are sent to the staff login; customers and staff without permission
get 403; support staff (view permissions only) may look but not change; a superuser may
do everything.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from services.choices import ServiceStatus
from tests.factories import FakeServerFactory

S = ServiceStatus

#: (method, URL template, what support staff get, what an administrator gets).
PAGES = [
    ("get", "/admin/services/{pk}/", 200, 200),
    ("get", "/admin/services/{pk}/tabs/overview/", 200, 200),
    ("get", "/admin/services/{pk}/edit/", 403, 200),
    ("post", "/admin/services/{pk}/edit/", 403, 200),
    ("get", "/admin/services/create/", 403, 200),
    ("post", "/admin/services/create/", 403, 200),
    ("get", "/admin/services/create/customers/?q=bob", 403, 200),
    ("get", "/admin/services/import/", 403, 200),
    ("post", "/admin/services/import/", 403, 200),
    ("get", "/admin/services/import/resources/?server={server}", 403, 200),
    ("post", "/admin/services/{pk}/actions/suspend/", 403, 302),
    ("post", "/admin/services/{pk}/actions/unsuspend/", 403, 302),
    ("post", "/admin/services/{pk}/actions/delete/", 403, 302),
]


@pytest.fixture
def urls(make_service):
    service = make_service(S.ACTIVE)
    server = FakeServerFactory()
    return [
        (method, path.format(pk=service.pk, server=server.pk), support, admin)
        for method, path, support, admin in PAGES
    ]


def call(client, method: str, url: str):
    return getattr(client, method)(url)


def test_anonymous_visitors_are_sent_to_the_staff_login(client, urls):
    for method, url, _, _ in urls:
        response = call(client, method, url)
        assert response.status_code == 302, url
        assert response.url == f"/admin/login/?next={quote(url)}", url


@pytest.mark.parametrize("persona", ["customer", "plain_staff"])
def test_customers_and_staff_without_permission_are_refused(client, request, urls, persona):
    person = request.getfixturevalue(persona)
    client.force_login(getattr(person, "user", person))

    for method, url, _, _ in urls:
        assert call(client, method, url).status_code == 403, url


def test_support_staff_may_look_but_not_change(client, support_user, urls):
    client.force_login(support_user)

    for method, url, expected, _ in urls:
        assert call(client, method, url).status_code == expected, url


def test_an_administrator_may_do_everything(client, admin_user, urls):
    client.force_login(admin_user)

    for method, url, _, expected in urls:
        assert call(client, method, url).status_code == expected, url
