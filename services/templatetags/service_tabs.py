"""The management tabs of a service (the seed's "Sub-pages"), rendered by one tag.

A delivery module declares its tabs (``DeliveryModule.tabs``); the tag sorts them, keeps
those for the audience and the permissions of the person looking, and renders the
active one. A module that fails, while listing its tabs or rendering one, gets an error
panel inside the tab and a line in the log: never a broken page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from customers.models import User
from delivery.modules.base import Audience, ModuleError, Tab

logger = logging.getLogger(__name__)
register = template.Library()


@dataclass(frozen=True)
class TabSet:
    """The tabs one person sees on one service, in order, or why there are none."""

    tabs: list[Tab] = field(default_factory=list)
    error: str = ""

    def get(self, key: str) -> Tab | None:
        return next((tab for tab in self.tabs if tab.key == key), None)


def tabs_for(service: Any, audience: Audience, user: User) -> TabSet:
    """The tabs of ``service`` for ``audience`` that ``user`` may see, by order then label."""
    try:
        declared = service.delivery_module.tabs(service, audience)
    except Exception:
        logger.exception("The module of service %s failed to list its tabs", service.pk)
        return TabSet(error="The delivery module could not list the tabs of this service.")
    visible = [
        tab
        for tab in declared
        if audience in tab.audiences and (tab.permission is None or user.has_perm(tab.permission))
    ]
    return TabSet(tabs=sorted(visible, key=lambda tab: (tab.order, tab.label)))


def render_tab(tab: Tab, service: Any, request: HttpRequest) -> tuple[SafeString, str]:
    """The HTML of one tab, or an empty string and the error to show in its place.

    A ``ModuleError`` carries a message written for people and is shown as it is; any
    other failure is a bug in the module, logged in full and summed up on the page.
    """
    try:
        extra = tab.context(service) if tab.context is not None else {}
        html = render_to_string(
            tab.template, {**extra, "service": service, "tab": tab}, request=request
        )
    except Exception as exc:
        logger.exception("Tab %r of service %s failed to render", tab.key, service.pk)
        if isinstance(exc, ModuleError):
            return mark_safe(""), exc.message
        return mark_safe(""), "The delivery module failed to render this tab."
    return html, ""


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
