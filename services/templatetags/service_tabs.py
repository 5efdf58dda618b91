"""The management tabs of a service (the seed's "Sub-pages"), rendered by one tag.

Which tabs a person sees and how one renders is decided in ``services.tabs``; the tag
lays them out and renders the active one.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.urls import reverse

from delivery.modules.base import Audience, Tab, TabAction
from services.tabs import render_tab, tabs_for

register = template.Library()


@register.inclusion_tag("components/tabs.html", takes_context=True)
def service_tabs(
    context: template.Context,
    service: Any,
    audience: str,
    url_name: str,
    active: str | None = None,
) -> dict[str, Any]:
    """``{% service_tabs service "staff" "admin:service_tab" active=key %}``

    Without ``active`` the first tab is shown and its content loaded by htmx once the
    page is there, so a slow panel never holds up the page around it.
    """
    request = context["request"]
    tabset = tabs_for(service, Audience(audience), request.user)
    links = [(tab, reverse(url_name, args=[service.pk, tab.key])) for tab in tabset.tabs]
    current = tabset.get(active or "") or (tabset.tabs[0] if tabset.tabs else None)
    html, error = "", ""
    if current is not None and active is not None:
        html, error = render_tab(current, service, request)
    return {
        "tabs": links,
        "active": current,
        "active_url": next((url for tab, url in links if tab is current), ""),
        "lazy": active is None,
        "tab_html": html,
        "tab_error": error,
        "tabs_error": tabset.error,
    }


@register.filter
def usable_actions(tab: Tab, request: HttpRequest) -> list[TabAction]:
    """The actions of ``tab`` the person looking may run: in the client area every one
    (the service is theirs), in the administration those whose permission they hold, so
    that no button is offered only to answer 403."""
    if request.resolver_match is not None and request.resolver_match.namespace == "client":
        return list(tab.actions)
    user = request.user
    return [a for a in tab.actions if a.permission is None or user.has_perm(a.permission)]
