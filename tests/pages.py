"""The pages of each area, discovered from the URL patterns and filled with the objects
of ``tests/test_hostile_input.py``'s world: what the accessibility walk and the French
pages test visit."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from tests.test_hostile_input import endpoints, fill

#: URL names that are no page: sign-outs (they would end the walk's session), a webhook,
#: files (PDF, XML, CSV).
NOT_PAGES = ("logout", "webhook", "_pdf", "facturx", "export")


def pages_of(area: str, world: dict) -> list[str]:
    """The GET pages of ``area`` ("admin" or "client") whose path parameters the world fills."""
    urls = []
    for endpoint in endpoints():
        if not endpoint.name.startswith(f"{area}:") or any(w in endpoint.name for w in NOT_PAGES):
            continue
        kwargs = fill(endpoint, world) if endpoint.parameters else {}
        if kwargs is not None:
            with contextlib.suppress(NoReverseMatch):
                urls.append(reverse(endpoint.name, kwargs=kwargs))
    # Each status of a service shows other actions and notices.
    urls += [reverse(f"{area}:service_detail", args=[s.pk]) for s in world["services"]]
    if area == "admin":
        step2 = {"step": "2", "customer": world["customer"].pk, "product": world["product"].pk}
        urls.append(f"{reverse('admin:service_create')}?{urlencode({**step2, 'module': 'test'})}")
        urls.append(
            f"{reverse('admin:service_import')}?"
            f"{urlencode({**step2, 'module': 'test', 'server': world['server'].pk})}"
        )
    # A genuine link changing Bob's address: visited last, as it changes his account.
    urls.sort(key=lambda url: "email/confirm" in url)
    return urls
