"""Template helpers of the staff service list."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


@register.simple_tag
def days_left(expires_at: dt.datetime | None) -> SafeString | str:
    """ "in 12 days", "today" or "3 days ago", counted in calendar days of the local zone.

    Calendar days rather than 24-hour periods, so that a service expiring tomorrow
    morning reads "in 1 day" in the evening as staff expect.
    """
    if expires_at is None:
        return ""
    days = (timezone.localdate(expires_at) - timezone.localdate()).days
    if days == 0:
        return format_html('<span class="{}">{}</span>', "text-warning-emphasis", _("today"))
    if days < 0:
        ago = ngettext("%(count)s day ago", "%(count)s days ago", -days) % {"count": -days}
        return format_html('<span class="text-danger">{}</span>', ago)
    within = ngettext("in %(count)s day", "in %(count)s days", days) % {"count": days}
    css = "text-warning-emphasis" if days <= 7 else "text-body-secondary"
    return format_html('<span class="{}">{}</span>', css, within)
