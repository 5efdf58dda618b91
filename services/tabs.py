"""Which management tabs of a service a person sees, and one tab's HTML.

A delivery module declares its tabs (``DeliveryModule.tabs``); ``tabs_for`` sorts them
and keeps those for the audience and the permissions of the person looking. A module
that fails, while listing its tabs or rendering one, gets an error panel inside the tab
and a line in the log: never a broken page. The details views and the ``service_tabs``
template tag both read from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from customers.models import User
from delivery.calllog import calling
from delivery.modules.base import Audience, ModuleError, Tab

logger = logging.getLogger(__name__)


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
        return TabSet(error=_("The delivery module could not list the tabs of this service."))
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
        # The panel calls the tab makes are logged as the service's, under the tab's name.
        with calling(service_id=service.pk, operation=f"tab {tab.key}"):
            extra = tab.context(service) if tab.context is not None else {}
            html = render_to_string(
                tab.template, {**extra, "service": service, "tab": tab}, request=request
            )
    except Exception as exc:
        logger.exception("Tab %r of service %s failed to render", tab.key, service.pk)
        if isinstance(exc, ModuleError):
            return mark_safe(""), exc.message
        return mark_safe(""), _("The delivery module failed to render this tab.")
    return html, ""
