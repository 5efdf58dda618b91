"""Account balance: pays what it can of an invoice from the customer's credit.

``billing.payments.pay_from_balance`` spends the credit and records the payment together,
under the invoice's lock; what the credit does not cover stays to pay another way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.choices import InvoiceStatus
from billing.gateways.base import PaymentGateway, after_payment_url, amount_due, invoice_url
from billing.invoices import BillingError
from billing.models import ZERO, balance_of
from billing.payments import pay_from_balance
from clientxcms.access import signed_in_user

if TYPE_CHECKING:
    from billing.models import Invoice


class BalanceGateway(PaymentGateway):
    key = "balance"
    label = _("Account balance")
    description = _("Pay from the credit on your account, in full or in part.")
    enabled_by_default = True

    def is_available(self, invoice: Invoice | None = None) -> bool:
        """Offered for an invoice only when its customer has credit in its currency."""
        if not super().is_available(invoice):
            return False
        return invoice is None or balance_of(invoice.customer, invoice.currency) > ZERO

    def start(self, invoice: Invoice, request: HttpRequest) -> HttpResponse:
        try:
            outcome = pay_from_balance(invoice, actor=signed_in_user(request))
        except BillingError as exc:
            messages.error(request, exc.message)
            return redirect(invoice_url(invoice))
        if outcome is None:
            messages.error(request, gettext("Your account has no credit to pay with."))
        elif outcome.invoice.status == InvoiceStatus.PAID:
            messages.success(
                request,
                gettext("Paid %(invoice)s from your balance.") % {"invoice": outcome.invoice},
            )
            return redirect(after_payment_url(outcome.invoice))
        else:
            messages.warning(
                request,
                gettext(
                    "Paid %(amount)s %(currency)s from your balance; "
                    "%(due)s %(due_currency)s remain to pay."
                )
                % {
                    "amount": outcome.payment.amount,
                    "currency": outcome.payment.currency,
                    "due": amount_due(outcome.invoice),
                    "due_currency": outcome.invoice.currency,
                },
            )
        return redirect(invoice_url(invoice))
