from collections.abc import Callable
from typing import cast

from django.apps import AppConfig
from django.utils.translation import gettext_lazy

#: Marks the option's texts: translated when shown (lazy strings the options hold as ``str``).
_ = cast(Callable[[str], str], gettext_lazy)


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = _("Automation")

    def ready(self) -> None:
        """Register the automation's own settings (the hour of the daily work, how long
        runs are kept) and its clean-up task."""
        from django.conf import settings

        from . import housekeeping, options, schedule

        options.register(
            options.Option(
                key=schedule.DAILY_HOUR,
                label=_("Hour of the daily work"),
                help_text=_(
                    "The hour of the day (0-23, server time zone) at which the daily tasks "
                    "run: renewal invoices, payment reminders, expiry notices, clean-ups."
                ),
                default=lambda: settings.AUTOMATION_DAILY_HOUR,
                minimum=0,
                maximum=23,
                group=_("Schedule"),
            )
        )
        housekeeping.register()
