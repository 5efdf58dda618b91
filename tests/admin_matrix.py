"""The permission matrix that every staff page is tested against (STYLE.md, "Tests").

Each page is one of three kinds: a page that shows (``view_*`` permission), a form page
(``add_*``/``change_*``, opened with GET), and an action (``add_*``/``change_*``, POST).
"""

from __future__ import annotations

import pytest
from django.test import Client

VIEW, FORM, ACTION = "view", "form", "action"
LOGIN = "login"

#: persona → kind → the status expected (LOGIN: a redirect to the staff login page).
EXPECTED: dict[str, dict[str, int | str]] = {
    "anonymous": {VIEW: LOGIN, FORM: LOGIN, ACTION: LOGIN},
    "customer": {VIEW: 403, FORM: 403, ACTION: 403},
    "plain_staff": {VIEW: 403, FORM: 403, ACTION: 403},
    "support_user": {VIEW: 200, FORM: 403, ACTION: 403},
    "admin_user": {VIEW: 200, FORM: 200, ACTION: 302},
}
PERSONAS = list(EXPECTED)


def sign_in(client: Client, request: pytest.FixtureRequest, persona: str) -> None:
    """Sign ``client`` in as the persona fixture named ``persona`` (none for anonymous)."""
    if persona == "anonymous":
        return
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))


def assert_access(client: Client, method: str, url: str, persona: str, kind: str) -> None:
    """Request ``url`` and check the answer against ``EXPECTED[persona][kind]``."""
    response = client.post(url) if method == "post" else client.get(url)
    expected = EXPECTED[persona][kind]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/?next=")  # type: ignore[attr-defined]  # a redirect's
    else:
        assert response.status_code == expected, f"{persona} {method} {url}"
