"""What a customer may renew, for how many cycles, until when and for how much: read from
the services rule book, so the client pages offer exactly what ``renewal_invoice`` accepts.

Kept apart from the views because the Renew page, the Renew card on the service page and
the Renew link of the service tables all ask the same question.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from products.cycles import add_cycles
from services import rules
from services.choices import EventSource, ServiceAction
from services.models import Service

#: The most cycles offered at once: a year of monthly renewals, three years of annual ones.
MAX_CYCLES_OFFERED = 12


def decide_renewal(service: Service, cycles: int = 1) -> rules.Decision:
    """The rule book's verdict on the customer renewing ``service`` by ``cycles``."""
    return rules.decide(
        service, ServiceAction.RENEW, rules.Context(source=EventSource.CLIENT, cycles=cycles)
    )


@dataclass(frozen=True)
class RenewalOption:
    """One choice of the Renew form: ``cycles`` cycles, until ``new_expires_at``, for ``price``."""

    cycles: int
    new_expires_at: dt.datetime
    price: Decimal
    currency: str


def renewal_options(service: Service) -> list[RenewalOption]:
    """The cycles the customer may renew ``service`` by (1..N, N bounded by the renewals
    left), each with its new expiration (from the current one) and price; [] when the rule
    book refuses even one cycle."""
    options: list[RenewalOption] = []
    for cycles in range(1, MAX_CYCLES_OFFERED + 1):
        if not decide_renewal(service, cycles).allowed or service.expires_at is None:
            break
        end = add_cycles(
            service.expires_at,
            service.billing_cycle,
            cycles,
            anchor_day=service.billing_anchor_day,
        )
        if end is None:
            break
        options.append(RenewalOption(cycles, end, service.price * cycles, service.currency))
    return options
