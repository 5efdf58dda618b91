"""Helpers of views in any app: here, below every app, so that no app imports another's
views to share them (DESIGN.md §3)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, default: str) -> str:
    """The ``next`` of a POST when it is a path of this site, else ``default``.

    Only a local path qualifies (one leading ``/``, no scheme or host): anything else
    would be followed off-site, or be read by ``redirect()`` as a view name (``-1``) and
    end in a 500; so would a control character (a newline cannot go in a header).
    """
    target = request.POST.get("next", "")
    is_local_path = (
        target.startswith("/") and not target.startswith(("//", "/\\")) and target.isprintable()
    )
    if is_local_path and url_has_allowed_host_and_scheme(
        target, allowed_hosts=None, require_https=request.is_secure()
    ):
        return target
    return default
