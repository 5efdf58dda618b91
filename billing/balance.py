"""A customer's balance: staff add or remove credit, always as a ledger entry."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from customers.models import Customer, User

from .choices import BalanceEntryKind
from .invoices import BillingError
from .models import BalanceEntry, balance_of


def adjust(
    customer: Customer,
    *,
    amount: Decimal,
    actor: User | None,
    reason: str,
    currency: str | None = None,
) -> BalanceEntry:
    """Add (positive) or remove (negative) credit; the balance never goes below zero.

    The customer's row is locked, as ``payments.pay_from_balance`` locks it, so a removal
    and a payment from the balance at once cannot both spend the same credit.
    """
    if not amount:
        raise BillingError(gettext("Add or remove an amount other than zero."))
    if not reason.strip():
        raise BillingError(gettext("Say why the balance changes: the customer sees it."))
    currency = currency or settings.DEFAULT_CURRENCY
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if amount < 0 and balance_of(customer, currency) + amount < 0:
            raise BillingError(
                gettext(
                    "The balance is %(balance)s %(currency)s: %(amount)s %(currency)s cannot be "
                    "removed."
                )
                % {
                    "balance": balance_of(customer, currency),
                    "currency": currency,
                    "amount": -amount,
                }
            )
        return BalanceEntry.objects.create(
            customer=customer,
            kind=BalanceEntryKind.STAFF_CREDIT if amount > 0 else BalanceEntryKind.STAFF_DEBIT,
            amount=amount,
            currency=currency,
            reason=reason.strip(),
            actor=actor,
        )
