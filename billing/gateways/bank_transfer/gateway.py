"""Bank transfer: the company's bank details and the invoice number as the reference.

Nothing confirms a transfer automatically: staff see it arrive on the bank account and
mark the invoice paid from its staff page, which calls
``record_payment(gateway="bank_transfer", reference=<the transfer's reference>)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.gateways.base import PaymentGateway, amount_due, invoice_url
from billing.models import CompanyProfile

if TYPE_CHECKING:
    from billing.models import Invoice


class BankTransferSettingsForm(forms.Form):
    instructions = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Instructions"),
        help_text=_("Shown under the bank details (for example, how long a transfer takes)."),
    )


class BankTransferGateway(PaymentGateway):
    key = "bank_transfer"
    label = _("Bank transfer")
    description = _("Wire the amount to our bank account with the invoice number as reference.")
    settings_form = BankTransferSettingsForm
    enabled_by_default = True
    start_requires_post = False  # a page of instructions: nothing changes

    def is_configured(self) -> bool:
        """Offered once the company's bank details are filled in (billing settings)."""
        return bool(CompanyProfile.current().bank_details.strip())

    def missing_configuration(self) -> str:
        if self.is_configured():
            return ""
        return gettext("Fill in the bank details of the company profile first.")

    def start(self, invoice: Invoice, request: HttpRequest) -> HttpResponse:
        return TemplateResponse(
            request,
            "billing/gateways/bank_transfer.html",
            {
                "invoice": invoice,
                "amount_due": amount_due(invoice),
                "bank_details": CompanyProfile.current().bank_details,
                "company": CompanyProfile.current(),
                "instructions": self.config().get("instructions", ""),
                "invoice_url": invoice_url(invoice),
            },
        )
