"""Client-area forms of the services app."""

from __future__ import annotations

from typing import Any

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from clientxcms.forms import choice_field
from services import rules
from services.choices import CancelWhen, ServiceAction

from .actions import CancelForm


class ClientCancelForm(CancelForm):
    """The staff cancellation form, worded for the customer who owns the service.

    When the service has a paid period left, the end of it is the default and its date is
    in the label: a customer should not lose a running service by leaving the default on.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        when = choice_field(self, "when")
        reason = self.fields["reason"]
        reason.label = _("Why are you leaving? (optional)")
        reason.help_text = ""
        when.label = _("When")
        if rules.decide(self.service, ServiceAction.SCHEDULE_CANCEL).allowed:
            ends = date_format(localtime(self.service.expires_at), "DATE_FORMAT")
            when.choices = [
                (
                    CancelWhen.END_OF_PERIOD,
                    _("At the end of the paid period, on %(date)s") % {"date": ends},
                ),
                (CancelWhen.NOW, _("Now: the service is removed at once")),
            ]
            when.initial = CancelWhen.END_OF_PERIOD
