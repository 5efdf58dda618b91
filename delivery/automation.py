"""Delivery's part of the automation (issue 13): how long the module call log is kept,
a setting staff change, and the daily task that prunes it, registered with
``automation`` when the app starts.

The default is read from ``DELIVERY_CALL_LOG_DAYS`` (today's environment variable) when
it is asked for, so it is followed until staff change the value in the panel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from automation import options, registry
from clientxcms.claims import ClaimResult

from .models import ModuleCall

CALL_LOG_DAYS = "delivery.call_log_days"
#: Marks the option's and the task's texts: translated when shown (lazy strings the
#: registries hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


def call_log_days() -> int:
    """Days a module call is kept."""
    return int(options.get(CALL_LOG_DAYS))


def describe_call(call: ModuleCall) -> str:
    when = timezone.localtime(call.created_at).strftime("%Y-%m-%d %H:%M")
    what = f" ({call.operation})" if call.operation else ""
    return f"Call #{call.pk} to a {call.module} panel{what} of {when} deleted"


def register() -> None:
    """Register the setting and the pruning task (from ``DeliveryConfig.ready``)."""
    # Imported here: the call log reads ``call_log_days`` above.
    from . import calllog

    def prune(now: dt.datetime) -> ClaimResult:
        return ClaimResult(done=calllog.prune(now))

    options.register(
        options.Option(
            key=CALL_LOG_DAYS,
            label=_("Module call log: days kept"),
            help_text=_(
                "How many days each call to a control panel (what was asked, what it "
                "answered) is kept for staff to read back; older calls are deleted every day."
            ),
            default=lambda: settings.DELIVERY_CALL_LOG_DAYS,
            minimum=1,
            maximum=3650,
            group=_("Delivery"),
        )
    )
    registry.register(
        registry.PeriodicTask(
            key="delivery.prune_calls",
            label=_("Module call log clean-up"),
            description=_("Deletes the calls to control panels older than the days they are kept."),
            run=prune,
            due=calllog.expired_calls,
            describe=describe_call,
        )
    )
