"""Billing's part of the automation (issue 13): the settings staff change for the
timeline, read through the typed accessors below, and the timeline's three daily tasks
(``billing.timeline``), registered with ``automation`` when the app starts.

Each setting's default is read from the Django settings (today's environment variables)
when it is asked for, not when it is registered, so a deployment that changes the
environment, or a test that overrides the settings, is followed until staff change the
value in the panel.

A renewal invoice's lead time is a number of days for every billing cycle that renews
(one-time services never do), always set: 0 means "on the day the service expires", and
there is no "off" for one cycle (the task's own switch turns renewal invoices off for
all). A cycle the environment gives no lead time has 0 by default. The reminder days are
a list, which may be empty: no reminders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from automation import options, registry
from products.choices import CYCLE_MONTHS, WEEK_DAYS, BillingCycle
from services.models import Service

from .models import Invoice, Order

#: Marks the texts of the options and the tasks: translated when shown (lazy strings the
#: options and tasks hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)

GROUP = _("Billing")
RENEWAL_DAYS = "billing.renewal_invoice_days"
REMINDER_DAYS = "billing.invoice_reminder_days"
UNPAID_ORDER_DAYS = "billing.order_unpaid_cancel_days"
#: The shortest month: a lead time must stay shorter than the cycle's shortest period.
_MONTH_DAYS = 28
_LONGEST_LEAD_TIME = 365


# The settings --------------------------------------------------------------------------


def renewing_cycles() -> list[BillingCycle]:
    """The billing cycles whose services renew: every one but one-time."""
    return [cycle for cycle in BillingCycle if cycle != BillingCycle.ONE_TIME]


def _longest_lead_time(cycle: str) -> int:
    """A day less than the cycle's shortest period: a longer lead time would invoice the
    next period as soon as the current one is paid."""
    if cycle == BillingCycle.WEEKLY:
        return WEEK_DAYS - 1
    return min(CYCLE_MONTHS[cycle] * _MONTH_DAYS - 1, _LONGEST_LEAD_TIME)


def _environment_lead_time(cycle: str) -> Callable[[], int]:
    """The default lead time of ``cycle``: the environment's, read when asked for."""
    return lambda: int(settings.RENEWAL_INVOICE_DAYS.get(cycle, 0))


def renewal_invoice_days(cycle: str) -> int:
    """Days before a service of ``cycle`` expires that its renewal invoice is made."""
    return int(options.get(f"{RENEWAL_DAYS}.{cycle}"))


def invoice_reminder_days() -> list[int]:
    """The reminders' offsets in days from the due date (negative: before), latest first;
    an empty list sends none."""
    return sorted({int(day) for day in options.get(REMINDER_DAYS) or ()}, reverse=True)


def order_unpaid_cancel_days() -> int:
    """Days after which a new order left unpaid is cancelled."""
    return int(options.get(UNPAID_ORDER_DAYS))


def _with_cycle(text: str, cycle: BillingCycle) -> str:
    """``text`` (marked with ``gettext_noop``) with the cycle's label, both translated when
    shown."""

    def translated() -> str:
        return gettext(text) % {"cycle": str(cycle.label).lower()}

    return lazy(translated, str)()


def _register_options() -> None:
    for cycle in renewing_cycles():
        options.register(
            options.Option(
                key=f"{RENEWAL_DAYS}.{cycle.value}",
                label=_with_cycle(
                    gettext_noop("Renewal invoice, %(cycle)s services: days before expiry"), cycle
                ),
                help_text=_with_cycle(
                    gettext_noop(
                        "How many days before a %(cycle)s service expires its renewal invoice is "
                        "made and e-mailed. The invoice is due on the expiry date and is paid at "
                        "once from the customer's credit balance when that covers it. 0 makes "
                        "it on the expiry date itself."
                    ),
                    cycle,
                ),
                default=_environment_lead_time(cycle),
                minimum=0,
                maximum=_longest_lead_time(cycle),
                group=GROUP,
            )
        )
    options.register(
        options.Option(
            key=REMINDER_DAYS,
            label=_("Payment reminders: days from the due date"),
            help_text=_(
                "When customers are reminded of an unpaid invoice, in days from its due "
                "date: negative before it, positive after (-7, -3, -1, 1, 3 reminds a week, "
                "three days and a day before, then a day and three days late). Each "
                "reminder is sent once per invoice; leave empty to send none."
            ),
            default=lambda: list(settings.INVOICE_REMINDER_DAYS),
            kind=options.Kind.NUMBERS,
            minimum=-90,
            maximum=90,
            group=GROUP,
        )
    )
    options.register(
        options.Option(
            key=UNPAID_ORDER_DAYS,
            label=_("Unpaid new orders: days before they are cancelled"),
            help_text=_(
                "A new order nobody has paid is cancelled, with its invoice, this many days "
                "after it was placed. An order paid in part is left for staff to refund."
            ),
            default=lambda: settings.ORDER_UNPAID_CANCEL_DAYS,
            minimum=1,
            maximum=365,
            group=GROUP,
        )
    )


# What the dry run says of a row --------------------------------------------------------


def _day(moment: dt.datetime | None) -> str:
    return "?" if moment is None else timezone.localdate(moment).isoformat()


def describe_renewal(service: Service) -> str:
    return gettext(
        "Renewal invoice for service #%(id)s %(name)s (%(email)s), %(cycle)s, expires %(day)s"
    ) % {
        "id": service.pk,
        "name": repr(service.name),
        "email": service.customer.email,
        "cycle": service.get_billing_cycle_display().lower(),
        "day": _day(service.expires_at),
    }


def describe_reminder(invoice: Invoice) -> str:
    offset: int = invoice.reminder_offset  # type: ignore[attr-defined]  # annotated
    values = {"days": abs(offset), "number": invoice.number, "email": invoice.customer.email}
    if offset == 0:
        return gettext("Reminder on the due date of invoice %(number)s to %(email)s") % values
    if offset < 0:
        return (
            ngettext(
                "Reminder %(days)s day before due of invoice %(number)s to %(email)s",
                "Reminder %(days)s days before due of invoice %(number)s to %(email)s",
                abs(offset),
            )
            % values
        )
    return (
        ngettext(
            "Reminder %(days)s day after due of invoice %(number)s to %(email)s",
            "Reminder %(days)s days after due of invoice %(number)s to %(email)s",
            abs(offset),
        )
        % values
    )


def describe_unpaid_order(order: Order) -> str:
    values = {
        "id": order.pk,
        "email": order.customer.email,
        "day": _day(order.created_at),
        "invoice": order.invoice,
    }
    if order.invoice is not None:
        return (
            gettext(
                "Order #%(id)s of %(email)s placed %(day)s cancelled, invoice %(invoice)s cancelled"
            )
            % values
        )
    return gettext("Order #%(id)s of %(email)s placed %(day)s cancelled") % values


def _link(name: str) -> Callable[[int], str]:
    return lambda pk: reverse(name, args=[pk])


# The tasks -----------------------------------------------------------------------------


def _described(
    due: Callable[[dt.datetime], models.QuerySet[Any]], *related: str
) -> Callable[[dt.datetime], models.QuerySet[Any]]:
    """``due`` with what ``describe`` reads joined in, so the dry run makes one query."""
    return lambda now: due(now).select_related(*related)


def register() -> None:
    """Register billing's settings and its three daily tasks (from ``BillingConfig.ready``)."""
    # Imported here: the timeline reads the accessors above.
    from . import timeline

    _register_options()
    registry.register(
        registry.PeriodicTask(
            key="billing.renewal_invoices",
            label=_("Renewal invoices"),
            description=_(
                "Makes the renewal invoice of each service expiring within its billing "
                "cycle's lead time, and pays it from the customer's credit when that covers it."
            ),
            run=timeline.make_renewal_invoices,
            due=_described(timeline.due_renewals, "customer__user"),
            describe=describe_renewal,
            link=_link("admin:service_detail"),
        )
    )
    registry.register(
        registry.PeriodicTask(
            key="billing.invoice_reminders",
            label=_("Payment reminders"),
            description=_(
                "E-mails the customer of an unpaid invoice at each reminder day before and "
                "after its due date, each reminder once."
            ),
            run=timeline.send_invoice_reminders,
            due=_described(timeline.due_reminders, "customer__user"),
            describe=describe_reminder,
            link=_link("admin:invoice_detail"),
        )
    )
    registry.register(
        registry.PeriodicTask(
            key="billing.unpaid_orders",
            label=_("Unpaid new orders"),
            description=_(
                "Cancels the new orders left unpaid for the set number of days, and their invoices."
            ),
            run=timeline.cancel_unpaid_orders,
            due=_described(timeline.due_unpaid_orders, "customer__user", "invoice"),
            describe=describe_unpaid_order,
            link=_link("admin:order_detail"),
        )
    )
