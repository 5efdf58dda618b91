"""Forms of billing's staff pages: the invoice actions, the manual invoice, the balance,
the company's details and the tax rates.

The action forms only gather what an operation needs (a reference, a reason); the
operation itself (``billing.invoices``, ``billing.payments``, ``billing.balance``) checks
that it may run and refuses with a message the page shows.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from stdnum.fr import siren, siret

from clientxcms.forms import StyledForm, StyledFormMixin
from clientxcms.text import parse_id
from customers.models import Customer

from ..choices import LegalIdentifierScheme
from ..models import CompanyProfile, TaxRate

MAX_LINE_AMOUNT = Decimal("9999999.99")
#: Lines a manual invoice may have; the page shows a few empty ones to fill in.
MAX_LINES = 20


def customer_label(customer: Customer) -> str:
    """How a customer appears in a choice: name and e-mail, to tell namesakes apart."""
    return f"{customer} — {customer.email}"


class MarkPaidForm(StyledForm):
    """Staff record a bank transfer they received."""

    reference = forms.CharField(
        label=_("Transfer reference"),
        max_length=191,
        help_text=_("As on the bank statement; the same reference is never recorded twice."),
    )
    amount = forms.DecimalField(
        label=_("Amount received"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("What is left to pay, unless the transfer was for another amount."),
    )


class CancelForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class RefundForm(StyledForm):
    """Where the money goes back: the customer's balance, or outside the panel."""

    TO_BALANCE, OUTSIDE = "balance", "outside"
    destination = forms.ChoiceField(
        label=pgettext_lazy("noun", "Refund"),
        choices=[
            (TO_BALANCE, _("To the customer's balance (credit for later invoices)")),
            (OUTSIDE, _("Paid back outside the panel (bank, card)")),
        ],
        widget=forms.RadioSelect,
        initial=TO_BALANCE,
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    @property
    def to_balance(self) -> bool:
        return bool(self.cleaned_data["destination"] == self.TO_BALANCE)


class ManualInvoiceForm(StyledFormMixin, forms.Form):
    """Who the manual invoice is for, its notes and its payment terms.

    The customer field offers only the chosen customer: the page fills its options from
    the customer search, so the form never loads the whole customer table.
    """

    customer = forms.ModelChoiceField(
        label=_("Customer"),
        queryset=Customer.objects.select_related("user"),
        widget=forms.Select(attrs={"size": 6}),
        error_messages={"invalid_choice": _("Choose a customer from the search results.")},
    )
    notes = forms.CharField(
        label=_("Notes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("Printed on the invoice."),
    )
    due_days = forms.IntegerField(
        label=_("Due in (days)"),
        min_value=0,
        max_value=365,
        required=False,
        help_text=_("Empty: the company's payment terms."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["customer"].widget
        assert isinstance(widget, forms.Select)
        widget.choices = self._chosen_customer()

    def _chosen_customer(self) -> list[tuple[Any, str]]:
        value = parse_id(self["customer"].value())
        if value is None:
            return []
        chosen = Customer.objects.select_related("user").filter(pk=value).first()
        return [(chosen.pk, customer_label(chosen))] if chosen else []


class InvoiceLineForm(StyledFormMixin, forms.Form):
    description = forms.CharField(label=_("Description"), max_length=300)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=10_000, initial=1)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.00"),
        max_value=MAX_LINE_AMOUNT,
        help_text=_("Before tax, unless prices include tax."),
    )


class BaseLineFormSet(forms.BaseFormSet):
    """Blank extra rows are skipped; at least one filled line is required."""

    def clean(self) -> None:
        super().clean()
        if not any(form.cleaned_data for form in self.forms if form.is_valid()):
            raise forms.ValidationError(_("Add at least one line."))


def filled_lines(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The lines of a valid ``InvoiceLineFormSet`` that were filled in, in order."""
    return [form.cleaned_data for form in formset.forms if form.cleaned_data]


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm,
    formset=BaseLineFormSet,
    extra=3,
    max_num=MAX_LINES,
    absolute_max=MAX_LINES,
    validate_max=True,
)


class BalanceAdjustForm(StyledForm):
    """Add (positive) or remove (negative) credit, with the reason the customer sees."""

    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(-MAX_LINE_AMOUNT), MaxValueValidator(MAX_LINE_AMOUNT)],
        help_text=_("Positive adds credit, negative removes it."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=300, help_text=_("Shown to the customer.")
    )

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if not amount:
            raise forms.ValidationError(_("Add or remove an amount other than zero."))
        return amount


class RenewWithInvoiceForm(StyledForm):
    """How many billing cycles the renewal invoice pays for."""

    cycles = forms.IntegerField(label=_("Cycles"), min_value=1, max_value=36, initial=1)


class CompanyProfileForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = CompanyProfile
        fields = [
            "name",
            "address",
            "country",
            "vat_number",
            "legal_identifier",
            "legal_identifier_scheme",
            "siret",
            "email",
            "bank_details",
            "logo_url",
            "invoice_prefix",
            "credit_note_prefix",
            "payment_terms_days",
            "prices_include_tax",
            "facturx_profile",
        ]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "bank_details": forms.Textarea(attrs={"rows": 3}),
        }
        # The model's fields without a verbose name of their own (a new one would be a
        # migration): the labels Django would make of their names, translated.
        labels = {
            "name": _("Name"),
            "address": _("Address"),
            "country": _("Country"),
            "email": _("Email"),
            "bank_details": _("Bank details"),
            "logo_url": _("Logo url"),
            "invoice_prefix": _("Invoice prefix"),
            "credit_note_prefix": _("Credit note prefix"),
            "payment_terms_days": _("Payment terms days"),
            "prices_include_tax": _("Prices include tax"),
        }

    def clean(self) -> dict[str, Any]:
        """A SIREN and a SIRET are checked (length and check digit) and kept as digits; the
        SIRET must be an establishment of the SIREN: the e-invoice carries both."""
        super().clean()
        data = self.cleaned_data
        identifier = (data.get("legal_identifier") or "").strip()
        if identifier and data.get("legal_identifier_scheme") == LegalIdentifierScheme.SIREN:
            digits = re.sub(r"\D", "", identifier)
            if not siren.is_valid(digits):
                self.add_error(
                    "legal_identifier",
                    _("This is not a valid SIREN: 9 digits with a check digit (e.g. 732 829 320)."),
                )
            else:
                data["legal_identifier"] = digits
        siret_value = re.sub(r"\s", "", data.get("siret") or "")
        if siret_value:
            if not siret.is_valid(siret_value):
                self.add_error(
                    "siret", _("This is not a valid SIRET: 14 digits with a check digit.")
                )
            elif data.get("legal_identifier") and not siret_value.startswith(
                re.sub(r"\D", "", data["legal_identifier"])
            ):
                self.add_error("siret", _("A SIRET starts with the company's SIREN."))
            data["siret"] = siret_value
        return data

    def clean_logo_url(self) -> str:
        """A path under /static/: the PDF loads no other file and no remote address."""
        value: str = self.cleaned_data["logo_url"].strip()
        if value and (not value.startswith("/static/") or ".." in value):
            raise forms.ValidationError(_("Give a path under /static/, such as /static/logo.png."))
        return value


class TaxRateForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = TaxRate
        fields = ["country", "name", "rate"]
        labels = {"country": _("Country"), "name": _("Name"), "rate": _("Rate")}
