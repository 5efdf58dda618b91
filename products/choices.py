"""Billing cycles (the seed's "Recurrence") and how many months or days each one lasts."""

from django.db import models


class BillingCycle(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUALLY = "semiannually", "Semi-annually"
    ANNUALLY = "annually", "Annually"
    BIENNIALLY = "biennially", "Biennially"
    TRIENNIALLY = "triennially", "Triennially"
    ONE_TIME = "onetime", "One-time"


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
