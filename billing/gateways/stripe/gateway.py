"""Stripe Checkout: the customer pays on Stripe's hosted page; Stripe's webhook confirms it.

``start`` creates a Checkout Session for what is left to pay on the invoice and sends the
customer to its page. Nothing is recorded then: only a webhook whose signature checks
with the endpoint's secret marks the invoice paid (``billing.gateways.stripe.webhook``).
The library is pointed at ``settings.STRIPE_API_BASE`` so that tests reach a fake of
Stripe's API on 127.0.0.1 rather than Stripe.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import stripe
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.gateways.base import PaymentGateway, amount_due, invoice_url

from .money import to_minor_units

if TYPE_CHECKING:
    from billing.models import Invoice

logger = logging.getLogger(__name__)

#: Seconds a call to Stripe may take before the customer is told to try again.
TIMEOUT = 20
UNAVAILABLE = _(
    "Stripe could not be reached to start the payment. Try again in a moment or pay another way."
)


class StripeSettingsForm(forms.Form):
    secret_key = forms.RegexField(
        regex=r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$",
        widget=forms.PasswordInput,
        label=_("Secret key"),
        help_text=_("Starts with sk_live_ or sk_test_ (Developers › API keys)."),
        error_messages={"invalid": _("A Stripe secret key starts with sk_live_ or sk_test_.")},
    )
    publishable_key = forms.RegexField(
        regex=r"^pk_(test|live)_[A-Za-z0-9_]+$",
        required=False,
        label=_("Publishable key"),
        help_text=_("Starts with pk_live_ or pk_test_; public by design."),
        error_messages={"invalid": _("A Stripe publishable key starts with pk_live_ or pk_test_.")},
    )
    webhook_secret = forms.RegexField(
        label=_("Webhook signing secret"),
        regex=r"^whsec_[A-Za-z0-9_]+$",
        widget=forms.PasswordInput,
        help_text=_(
            "Starts with whsec_: the signing secret of the endpoint "
            "/client/payments/stripe/webhook/ (events checkout.session.completed, "
            "checkout.session.async_payment_succeeded and payment_intent.succeeded)."
        ),
        error_messages={"invalid": _("A webhook signing secret starts with whsec_.")},
    )


class StripeGateway(PaymentGateway):
    key = "stripe"
    label = _("Card (Stripe)")
    description = _("Pay by card on Stripe's secure page.")
    settings_form = StripeSettingsForm

    def is_configured(self) -> bool:
        """Both secrets are needed: without the signing secret no payment could be confirmed."""
        config = self.config()
        return bool(config.get("secret_key")) and bool(config.get("webhook_secret"))

    def missing_configuration(self) -> str:
        if self.is_configured():
            return ""
        return gettext("Set the secret key and the webhook signing secret of Stripe first.")

    def client(self) -> stripe.StripeClient:
        """A client with the stored secret key, talking to ``STRIPE_API_BASE``."""
        return stripe.StripeClient(
            self.config().get("secret_key", ""),
            base_addresses={"api": settings.STRIPE_API_BASE},
            http_client=stripe.new_default_http_client(timeout=TIMEOUT),
        )

    def checkout_params(self, invoice: Invoice, request: HttpRequest) -> dict[str, Any]:
        """The Checkout Session of ``invoice``: one line for what is left to pay.

        The invoice is named three times on purpose: ``client_reference_id`` and the
        session's metadata reach ``checkout.session.*`` events, the payment intent's
        metadata reaches ``payment_intent.*`` events.
        """
        back = request.build_absolute_uri(invoice_url(invoice))
        metadata = {"invoice_id": str(invoice.pk), "invoice_number": invoice.number or ""}
        return {
            "mode": "payment",
            "client_reference_id": str(invoice.pk),
            "customer_email": invoice.customer.user.email,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": invoice.currency.lower(),
                        "unit_amount": to_minor_units(amount_due(invoice), invoice.currency),
                        "product_data": {
                            "name": gettext("Invoice %(number)s") % {"number": invoice.number}
                        },
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": back,
            "cancel_url": back,
        }

    def start(self, invoice: Invoice, request: HttpRequest) -> HttpResponse:
        try:
            session = self.client().v1.checkout.sessions.create(
                params=self.checkout_params(invoice, request)  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            # Stripe's own message may quote part of the key: staff read it in the log only.
            logger.warning(
                "Stripe refused a Checkout Session for %s (HTTP %s): %s",
                invoice,
                exc.http_status,
                exc.user_message,
            )
            messages.error(request, UNAVAILABLE)
            return redirect(invoice_url(invoice))
        if not session.url:
            logger.warning("Stripe answered a Checkout Session without a URL for %s", invoice)
            messages.error(request, UNAVAILABLE)
            return redirect(invoice_url(invoice))
        return HttpResponseRedirect(session.url)

    def handle_webhook(self, request: HttpRequest) -> HttpResponse:
        from .webhook import receive

        return receive(request, self.config().get("webhook_secret", ""))
