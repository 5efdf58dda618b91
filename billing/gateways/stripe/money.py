"""Amounts as Stripe counts them: integers in the currency's smallest unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"]
    + ["PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)


def _factor(currency: str) -> Decimal:
    return Decimal(1) if currency.upper() in ZERO_DECIMAL else Decimal(100)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("12.34")`` EUR is 1234; 500 JPY is 500."""
    return int((amount * _factor(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor_units(amount: int, currency: str) -> Decimal:
    """1234 EUR cents is ``Decimal("12.34")``."""
    return (Decimal(amount) / _factor(currency)).quantize(Decimal("0.01"))
