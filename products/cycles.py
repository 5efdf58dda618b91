"""Date arithmetic of billing cycles (DESIGN.md §2), in one function.

Month cycles keep an *anchor day*: the day of month of the first expiration. Each
expiration falls on the anchor day, or on the last day of the month when the month is
shorter, so 31 January renews to 29 February in a leap year and then to 31 March: the
date never overflows into the next month and never drifts towards the start of the
month. The arithmetic happens on the wall clock of the active time zone, so an
expiration keeps its local time across daylight-saving changes.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.utils import timezone

from .choices import CYCLE_MONTHS, WEEK_DAYS, BillingCycle


def add_cycles(
    start: datetime, cycle: str, count: int = 1, *, anchor_day: int | None = None
) -> datetime | None:
    """Return ``start`` moved forward by ``count`` billing cycles, or None for one-time.

    ``anchor_day`` is the day of month that month cycles aim for; it defaults to the day
    of ``start``. ``count`` may be negative to step back.
    """
    if cycle == BillingCycle.ONE_TIME:
        return None
    if cycle == BillingCycle.WEEKLY:
        return start + timedelta(days=WEEK_DAYS * count)
    if cycle not in CYCLE_MONTHS:
        raise ValueError(f"Unknown billing cycle: {cycle!r}")

    aware = timezone.is_aware(start)
    local = timezone.localtime(start) if aware else start
    anchor = anchor_day or local.day
    if not 1 <= anchor <= 31:
        raise ValueError(f"The anchor day must be between 1 and 31, not {anchor}.")
    month_index = local.year * 12 + (local.month - 1) + CYCLE_MONTHS[cycle] * count
    year, month = divmod(month_index, 12)
    month += 1
    day = min(anchor, calendar.monthrange(year, month)[1])
    moved = local.replace(tzinfo=None, year=year, month=month, day=day)
    if not aware:
        return moved
    return timezone.make_aware(moved, local.tzinfo)


def first_expiration(start: datetime, cycle: str) -> datetime | None:
    """The expiration of a service that starts at ``start``: one cycle later."""
    return add_cycles(start, cycle, 1)
