"""Billing cycles (the seed's "Recurrence") and how many months or days each one lasts."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class BillingCycle(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    SEMI_ANNUALLY = "semiannually", _("Semi-annually")
    ANNUALLY = "annually", _("Annually")
    BIENNIALLY = "biennially", _("Biennially")
    TRIENNIALLY = "triennially", _("Triennially")
    ONE_TIME = "onetime", _("One-time")


# Months per cycle for the calendar cycles; weekly is counted in days and one-time never ends.
CYCLE_MONTHS: dict[str, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMI_ANNUALLY: 6,
    BillingCycle.ANNUALLY: 12,
    BillingCycle.BIENNIALLY: 24,
    BillingCycle.TRIENNIALLY: 36,
}
WEEK_DAYS = 7
