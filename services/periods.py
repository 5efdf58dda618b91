"""The days of the service timeline that an administrator sets in the panel.

Each is an ``automation.options`` setting whose default is the Django setting of the same
name (from the environment), read when asked, so a setting nobody changed follows the
environment and the tests' ``settings`` fixture. Code reads them through these accessors,
never the Django settings: what staff set on the settings page is what the lifecycle,
the sweeps and the rule book apply. The values are cached (``automation.options``), so
a page that asks costs no query once the cache is warm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.utils.translation import gettext_lazy

from automation import options

#: Marks the options' texts: translated when shown (lazy strings the options hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)

GROUP = _("Services")
RENEWAL_GRACE_DAYS = "services.renewal_grace_days"
TERMINATION_DAYS = "services.termination_days"
EXPIRY_NOTICE_DAYS = "services.expiry_notice_days"

options.register(
    options.Option(
        key=EXPIRY_NOTICE_DAYS,
        label=_("Expiry notice (days before)"),
        help_text=_(
            "How many days before a service expires its customer is e-mailed that it "
            "expires soon: once per paid period, not for a service whose cancellation is "
            "scheduled."
        ),
        default=lambda: settings.SERVICE_EXPIRY_NOTICE_DAYS,
        minimum=1,
        maximum=90,
        group=GROUP,
    )
)
options.register(
    options.Option(
        key=RENEWAL_GRACE_DAYS,
        label=_("Renewal grace period (days)"),
        help_text=_(
            "How many days after its expiration an expired service can still be renewed "
            "(paid) and started again. Keep it shorter than the termination delay."
        ),
        default=lambda: settings.SERVICE_RENEWAL_GRACE_DAYS,
        minimum=0,
        maximum=365,
        group=GROUP,
    )
)
options.register(
    options.Option(
        key=TERMINATION_DAYS,
        label=_("Termination after expiration (days)"),
        help_text=_(
            "How many days after its expiration an unrenewed service is terminated: its "
            "server, files and data are deleted for good. Counted from the end of a hold "
            "agreed with the customer when that is later."
        ),
        default=lambda: settings.SERVICE_TERMINATION_DAYS,
        minimum=1,
        maximum=365,
        group=GROUP,
    )
)


def renewal_grace_days() -> int:
    """Days after its expiration an expired service can still be renewed."""
    return int(options.get(RENEWAL_GRACE_DAYS))


def termination_days() -> int:
    """Days after its expiration (or the end of its hold) an expired service is terminated."""
    return int(options.get(TERMINATION_DAYS))


def expiry_notice_days() -> int:
    """Days before its expiration the customer is told that a service expires soon."""
    return int(options.get(EXPIRY_NOTICE_DAYS))
