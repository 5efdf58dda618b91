"""The administration's sidebar: its sections as data, written as HTML in Python.

``{% load navigation %}{% admin_navigation %}`` in ``templates/admin/base.html``. Each
section is a link shown to the staff whose permissions allow it, the current one marked.
As template code it was fifteen copies of the same six lines, whose ``{% url %}``,
``{% if perms %}`` and ``{% translate %}`` cost 0.6 ms of every staff page (each ``reverse``
takes 20 microseconds); here each sidebar is written once, then read.

The sections name URLs and permissions as strings: this module imports no app.
"""

from __future__ import annotations

import html
import weakref
from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import URLResolver, get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.functional import Promise
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

register = template.Library()


@dataclass(frozen=True)
class Section:
    """One link of the sidebar.

    ``current`` lists the view names it stands for, a name ending in ``_`` standing for
    every view whose name starts with it; on a page that two sections claim, the longer
    name wins (the operations, ``admin:service_operations``, over the services,
    ``admin:service_``).
    """

    url_name: str
    label: Promise
    icon: str
    current: tuple[str, ...]
    #: Shown only to staff with this permission; ``None``: to every staff member.
    permission: str | None = None

    def claim(self, view_name: str) -> int:
        """How closely this section stands for ``view_name``: the length of its longest
        name that matches, 0 if none does."""
        return max(
            (
                len(name)
                for name in self.current
                if view_name == name or (name.endswith("_") and view_name.startswith(name))
            ),
            default=0,
        )


SECTIONS = (
    Section("admin:home", _("Dashboard"), "speedometer2", ("admin:home",)),
    Section(
        "admin:service_list",
        _("Services"),
        "hdd-network",
        ("admin:service_", "admin:bulk_"),
        "services.view_service",
    ),
    Section(
        "admin:invoice_list", _("Invoices"), "receipt", ("admin:invoice_",), "billing.view_invoice"
    ),
    Section("admin:order_list", _("Orders"), "cart", ("admin:order_",), "billing.view_order"),
    Section(
        "admin:payment_list",
        _("Payments"),
        "credit-card",
        ("admin:payment_",),
        "billing.view_payment",
    ),
    Section(
        "admin:billing_company",
        _("Billing settings"),
        "building",
        ("admin:billing_", "admin:tax_"),
        "billing.change_companyprofile",
    ),
    Section(
        "admin:gateway_list",
        _("Payment gateways"),
        "wallet2",
        ("admin:gateway_",),
        "billing.change_gatewaysettings",
    ),
    Section(
        "admin:customer_list",
        _("Customers"),
        "people",
        ("admin:customer_",),
        "customers.view_customer",
    ),
    Section(
        "admin:product_list",
        _("Products"),
        "box-seam",
        ("admin:product_",),
        "products.view_product",
    ),
    Section(
        "admin:server_list", _("Servers"), "server", ("admin:server_",), "delivery.view_server"
    ),
    Section(
        "admin:service_operations",
        _("Operations"),
        "arrow-repeat",
        ("admin:service_operation_", "admin:service_operations"),
        "services.view_service",
    ),
    Section(
        "admin:module_call_list",
        _("Module calls"),
        "arrow-left-right",
        ("admin:module_call_list",),
        "delivery.view_modulecall",
    ),
    Section(
        "admin:automation",
        _("Automation"),
        "clock-history",
        ("admin:automation", "admin:automation_"),
        "automation.view_taskrun",
    ),
    Section(
        "admin:staff_list",
        _("Staff"),
        "person-badge",
        ("admin:staff_",),
        "customers.reset_staff_2fa",
    ),
    Section(
        "admin:activity_list",
        _("Activity"),
        "journal-text",
        ("admin:activity_list",),
        "customers.view_staffactivity",
    ),
)

#: Each URL configuration's sidebars, by script prefix, language, sections shown (their
#: places in ``SECTIONS``) and current section: a few dozen at most, staff roles being few.
#: Keyed by the resolver, which Django replaces when the URLs change (``clear_url_caches``),
#: so that a changed configuration is never answered from an old one.
_sidebars: weakref.WeakKeyDictionary[URLResolver, dict[tuple[Any, ...], SafeString]] = (
    weakref.WeakKeyDictionary()
)


@register.simple_tag(takes_context=True)
def admin_navigation(context: template.Context) -> SafeString:
    """The sidebar's ``<li>`` items for the signed-in staff member and the current page.

    Written once for each URL configuration, script prefix, language, sections shown and
    current section, then read: writing it (a ``reverse`` and a translation per section)
    cost 0.25 ms of every staff page.
    """
    request: Any = context["request"]
    user = request.user
    match = request.resolver_match
    view_name = match.view_name if match else ""
    shown = tuple(
        place
        for place, section in enumerate(SECTIONS)
        if section.permission is None or user.has_perm(section.permission)
    )
    current = max(shown, key=lambda place: SECTIONS[place].claim(view_name), default=None)
    if current is not None and not SECTIONS[current].claim(view_name):
        current = None
    urlconf = get_urlconf()
    sidebars = _sidebars.setdefault(get_resolver(urlconf), {})
    key = (get_script_prefix(), get_language(), shown, current)
    if key not in sidebars:
        sidebars[key] = _sidebar(urlconf, shown, current)
    return sidebars[key]


def _sidebar(urlconf: str | None, shown: tuple[int, ...], current: int | None) -> SafeString:
    items = []
    for place in shown:
        section = SECTIONS[place]
        url = html.escape(reverse(section.url_name, urlconf=urlconf))
        marked = ' active" aria-current="page' if place == current else ""
        items.append(
            f'<li class="nav-item"><a href="{url}" class="nav-link{marked}">'
            f'<i class="bi bi-{section.icon} me-2"></i>{html.escape(str(section.label))}</a></li>'
        )
    return mark_safe("\n".join(items))  # noqa: S308 - every value above is escaped
