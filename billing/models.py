"""Orders, invoices and their lines, payments, the customer's balance, taxes, the company's
billing details and the payment gateways' settings (DESIGN.md, "Billing").

Money is a ``Decimal`` with two places. An invoice is a draft until it is issued; issuing
gives it the next number of its year (``InvoiceSequence``, taken under a lock) and freezes
its lines, taxes, and the seller's and the customer's details: an issued invoice never
changes (``save`` refuses it), corrections and refunds are credit notes. A customer's
balance is the sum of a ledger of entries, never a number kept on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_countries.fields import CountryField
from django_stubs_ext import StrOrPromise

from customers.models import Customer
from delivery.fields import EncryptedJSONField
from products.choices import BillingCycle
from products.models import Product, default_currency
from services.models import Service

from .choices import (
    INVOICE_BADGES,
    BalanceEntryKind,
    FacturXProfile,
    InvoiceKind,
    InvoiceStatus,
    LegalIdentifierScheme,
    LineKind,
    OrderStatus,
    PaymentStatus,
)

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


def in_language_of(customer: Customer) -> translation.override:
    """The customer's language, active for what is written for them: the lines, notes and
    balance reasons their documents carry (stored as written), and their invoice's PDF."""
    return translation.override(language_of(customer))


def language_of(customer: Customer) -> str:
    """The language what is written for ``customer`` is written in (``in_language_of``)."""
    return customer.language or settings.LANGUAGE_CODE


class ImmutableInvoice(Exception):
    """An issued invoice or its lines were about to change."""


#: The short name of each register, printed before the number.
LEGAL_IDENTIFIER_LABELS: dict[str, StrOrPromise] = {
    LegalIdentifierScheme.SIREN: "SIREN",
    LegalIdentifierScheme.BELGIAN_ENTERPRISE: _("Enterprise number"),
    LegalIdentifierScheme.DUNS: "DUNS",
    LegalIdentifierScheme.GLN: "GLN",
}


class CompanyProfile(models.Model):
    """The seller on every invoice, and the invoicing settings: one row, edited by staff."""

    name = models.CharField(max_length=150, default="My hosting company")
    address = models.TextField(blank=True)
    country = CountryField(default="FR")
    vat_number = models.CharField(_("VAT number"), max_length=32, blank=True)
    legal_identifier = models.CharField(
        _("legal identifier"),
        max_length=64,
        blank=True,
        help_text=_(
            "The company's registration number: in France the SIREN (9 digits); elsewhere "
            "the number of the trade register. Required on French invoices and e-invoices."
        ),
    )
    legal_identifier_scheme = models.CharField(
        _("legal identifier's register"),
        max_length=4,
        blank=True,
        choices=LegalIdentifierScheme.choices,
        default=LegalIdentifierScheme.SIREN,
        help_text=_("Which register the legal identifier is from, as the e-invoice names it."),
    )
    siret = models.CharField(
        "SIRET",
        max_length=20,
        blank=True,
        help_text=_("France: the SIRET of the establishment that invoices (14 digits), optional."),
    )
    facturx_profile = models.CharField(
        _("e-invoice profile"),
        max_length=16,
        choices=FacturXProfile.choices,
        default=FacturXProfile.EN16931,
        help_text=_(
            "The Factur-X profile of the XML embedded in every invoice PDF. EN 16931 is the "
            "European standard; choose BASIC only if your customers' software asks for it."
        ),
    )
    email = models.EmailField(blank=True)
    bank_details = models.TextField(
        blank=True, help_text=_("IBAN and BIC shown on invoices paid by bank transfer.")
    )
    logo_url = models.CharField(max_length=300, blank=True, help_text=_("A path under /static/."))
    invoice_prefix = models.CharField(max_length=16, default="INV")
    credit_note_prefix = models.CharField(max_length=16, default="CN")
    payment_terms_days = models.PositiveIntegerField(default=14)
    prices_include_tax = models.BooleanField(
        default=False, help_text=_("Product prices are entered tax included.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @property
    def legal_identifier_label(self) -> str:
        """What the legal identifier is called on the invoice: its register's short name."""
        return str(LEGAL_IDENTIFIER_LABELS.get(self.legal_identifier_scheme, _("Company number")))

    @classmethod
    def current(cls) -> CompanyProfile:
        profile, _created = cls.objects.get_or_create(pk=1)
        return profile

    def as_seller(self) -> Seller:
        """The seller's details as they are now: what an invoice issued now freezes."""
        return Seller(
            name=self.name,
            address=self.address,
            country=str(self.country or ""),
            vat_number=self.vat_number,
            legal_identifier=self.legal_identifier,
            legal_identifier_scheme=self.legal_identifier_scheme,
            siret=self.siret,
            email=self.email,
            bank_details=self.bank_details,
            facturx_profile=self.facturx_profile,
        )


@dataclass(frozen=True)
class Seller:
    """Who sells, as a document says it: the company's details an issued invoice or credit
    note carries (``Invoice.seller``, frozen at issue), so that changing the company's
    settings later never changes a document already issued. A draft has none yet and
    shows the company as it is (``Invoice.seller_details``)."""

    name: str = ""
    address: str = ""
    #: The ISO 3166 code ("FR"), or "".
    country: str = ""
    vat_number: str = ""
    legal_identifier: str = ""
    legal_identifier_scheme: str = ""
    siret: str = ""
    email: str = ""
    bank_details: str = ""
    facturx_profile: str = FacturXProfile.EN16931

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seller:
        """The seller an invoice stored; a key it lacks (a detail added to the company
        since) keeps its default, a key no longer known is left out."""
        known = {field.name for field in dataclass_fields(cls)}
        return cls(**{key: str(value) for key, value in data.items() if key in known})

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}

    @property
    def country_name(self) -> str:
        return str(countries.name(self.country)) if self.country else ""

    @property
    def legal_identifier_label(self) -> str:
        """What the legal identifier is called on the invoice: its register's short name."""
        return str(LEGAL_IDENTIFIER_LABELS.get(self.legal_identifier_scheme, _("Company number")))


class TaxRate(models.Model):
    """The tax rate of a country; the row without a country is the default."""

    country = CountryField(blank=True, unique=True, help_text=_("Empty: every other country."))
    name = models.CharField(max_length=50, default="VAT")
    rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text=_("Percent."),
    )

    class Meta:
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="tax_rate_percent")
        ]

    def __str__(self) -> str:
        country = self.country or gettext("default")
        return f"{self.name} {self.rate}% ({country})"


class InvoiceSequence(models.Model):
    """The last number given in a series (invoices, credit notes) and a year: locked while
    a document is issued, so numbers never repeat and never skip, whatever runs at once."""

    kind = models.CharField(max_length=16, choices=InvoiceKind.choices)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="invoice_sequence_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last}"


class Order(models.Model):
    """What a customer bought in one checkout; paying its invoice creates its services."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    currency = models.CharField(max_length=3, default=default_currency)
    invoice = models.OneToOneField(
        "Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="order"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="order_customer_idx"),
            # The unpaid-orders task's due rows (billing/timeline.py).
            models.Index(
                fields=["created_at"],
                condition=Q(status=OrderStatus.PENDING),
                name="order_pending_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Order #%(id)s") % {"id": self.pk}


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    module_options = models.JSONField(default=dict, blank=True)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    price = models.DecimalField(**MONEY)
    setup_fee = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_item_quantity"),
            models.CheckConstraint(
                condition=Q(price__gte=0, setup_fee__gte=0), name="order_item_money"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product}"


class Invoice(models.Model):
    """What a customer owes (or, as a credit note, is given back)."""

    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    number = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)
    year = models.PositiveIntegerField(null=True, blank=True, editable=False)
    sequence = models.PositiveIntegerField(null=True, blank=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    credit_note_for = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3, default=default_currency)
    # The customer's billing details, frozen when the invoice is issued.
    billing_name = models.CharField(max_length=200, blank=True, editable=False)
    billing_company = models.CharField(max_length=150, blank=True, editable=False)
    billing_address = models.TextField(blank=True, editable=False)
    billing_country = CountryField(blank=True, editable=False)
    billing_vat_number = models.CharField(max_length=32, blank=True, editable=False)
    #: The customer's company registration number (a SIREN in France), when they gave one.
    billing_legal_identifier = models.CharField(max_length=64, blank=True, editable=False)
    #: The seller's details, frozen when the invoice is issued (``Seller.as_dict``): the
    #: PDF and the e-invoice of an issued document read them, never the company's current
    #: settings. Empty on a draft.
    seller = models.JSONField(default=dict, blank=True, editable=False)
    reverse_charge = models.BooleanField(default=False, editable=False)
    tax_note = models.CharField(max_length=300, blank=True, editable=False)
    subtotal = models.DecimalField(**MONEY, default=ZERO, editable=False)
    tax_total = models.DecimalField(**MONEY, default=ZERO, editable=False)
    total = models.DecimalField(**MONEY, default=ZERO, editable=False)
    notes = models.TextField(blank=True, help_text=_("Printed on the invoice."))
    issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    due_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="invoice_customer_idx"),
            models.Index(fields=["status", "due_at"], name="invoice_status_due_idx"),
            # The dashboard's revenue per month: the money received in a date range.
            models.Index(
                fields=["paid_at"], name="invoice_paid_idx", condition=Q(paid_at__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "year", "sequence"],
                condition=Q(sequence__isnull=False),
                name="invoice_number_once_per_year",
            ),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.DRAFT) | Q(number__isnull=False),
                name="issued_invoice_has_number",
            ),
            models.CheckConstraint(
                condition=Q(kind=InvoiceKind.INVOICE) | Q(credit_note_for__isnull=False),
                name="credit_note_refers_to_invoice",
            ),
        ]
        permissions = [
            ("issue_invoice", "Can issue invoices"),
            ("record_payment", "Can mark invoices paid"),
            ("refund_invoice", "Can refund invoices"),
        ]

    def __str__(self) -> str:
        return self.number or gettext("Draft #%(id)s") % {"id": self.pk}

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def status_badge(self) -> str:
        return INVOICE_BADGES.get(self.status, "secondary")

    @property
    def is_overdue(self) -> bool:
        return (
            self.status == InvoiceStatus.UNPAID
            and self.due_at is not None
            and self.due_at < timezone.now()
        )

    def seller_details(self) -> Seller:
        """The seller the document names: frozen at issue for an issued one; for a draft
        (whose PDF is a preview) the company as it is now. An issued document without a
        frozen seller (none should be: migration 0004 filled those issued before) shows
        the company as it is now as well, the best information there is."""
        if self.is_draft or not self.seller:
            return CompanyProfile.current().as_seller()
        return Seller.from_dict(self.seller)

    def amount_paid(self) -> Decimal:
        paid = self.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(s=Sum("amount"))
        return paid["s"] or ZERO

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse to change what an issued invoice says; its status and dates may move."""
        if self.pk is not None:
            stored = Invoice.objects.filter(pk=self.pk).values(*FROZEN_FIELDS, "status").first()
            if stored is not None and stored["status"] != InvoiceStatus.DRAFT:
                changed = [f for f in FROZEN_FIELDS if stored[f] != getattr(self, f)]
                if changed:
                    raise ImmutableInvoice(
                        f"Invoice {self} is issued: {', '.join(changed)} cannot change. "
                        "Make a credit note instead."
                    )
        super().save(*args, **kwargs)


#: What an issued invoice says and may never change.
FROZEN_FIELDS = (
    "kind",
    "number",
    "customer_id",
    "currency",
    "billing_name",
    "billing_company",
    "billing_address",
    "billing_country",
    "billing_vat_number",
    "billing_legal_identifier",
    "seller",
    "reverse_charge",
    "subtotal",
    "tax_total",
    "total",
    "issued_at",
)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=LineKind.choices, default=LineKind.MANUAL)
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(**MONEY)
    # Frozen when the invoice is issued.
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=ZERO)
    tax_amount = models.DecimalField(**MONEY, default=ZERO)
    # What the line pays for.
    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoice_lines"
    )
    order_item = models.ForeignKey(
        OrderItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="lines"
    )
    cycles = models.PositiveIntegerField(default=1)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    #: True while the invoice can still be paid (draft or unpaid): the partial unique index
    #: below then allows one open renewal line per service.
    is_open = models.BooleanField(default=True, editable=False)
    #: True once the invoice is cancelled or refunded: the line no longer pays for its
    #: period, so another invoice may (the partial unique index below counts only the others).
    is_void = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(kind=LineKind.RENEWAL, is_open=True),
                name="one_open_renewal_per_service",
            ),
            # One invoice pays a service's period, however many workers or clicks invoice
            # it: what makes the renewal-invoice task safe to run twice at once.
            models.UniqueConstraint(
                fields=["service", "period_start"],
                condition=Q(kind=LineKind.RENEWAL, is_void=False),
                name="one_renewal_per_service_period",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="invoice_line_quantity"),
            models.CheckConstraint(
                condition=~Q(kind=LineKind.RENEWAL) | Q(service__isnull=False, cycles__gte=1),
                name="renewal_line_names_service",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_amount

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse to add or change a line of an issued invoice."""
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True)
        if status.first() not in (None, InvoiceStatus.DRAFT) and not _only_closing(self, kwargs):
            raise ImmutableInvoice(f"Invoice {self.invoice} is issued: its lines cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if not self.invoice.is_draft:
            raise ImmutableInvoice(f"Invoice {self.invoice} is issued: its lines cannot change.")
        return super().delete(*args, **kwargs)


def _only_closing(line: InvoiceLine, kwargs: dict[str, Any]) -> bool:
    """Closing or voiding a line (``is_open``, ``is_void``) is bookkeeping, allowed once the
    invoice is issued."""
    fields = set(kwargs.get("update_fields") or [])
    return line.pk is not None and bool(fields) and fields <= {"is_open", "is_void"}


class Payment(models.Model):
    """Money received for an invoice through a gateway, recorded once per gateway reference."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=32)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=191, blank=True)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.SUCCEEDED
    )
    data = models.JSONField(default=dict, blank=True, help_text=_("The gateway's data, no secret."))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"],
                condition=~Q(reference=""),
                name="payment_reference_once_per_gateway",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.invoice}"


class BalanceEntry(models.Model):
    """One movement of a customer's credit: positive adds, negative spends."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="balance_entries")
    kind = models.CharField(max_length=16, choices=BalanceEntryKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default=default_currency)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="balance_entries"
    )
    reason = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="balance_customer_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="balance_entry_not_zero")
        ]
        permissions = [("adjust_balance", "Can add or remove a customer's credit")]

    def __str__(self) -> str:
        return f"{self.amount:+} {self.currency} ({self.get_kind_display()})"


def balance_of(customer: Customer, currency: str | None = None) -> Decimal:
    """A customer's credit: the sum of their ledger in ``currency`` (the default one)."""
    total = BalanceEntry.objects.filter(
        customer=customer, currency=currency or settings.DEFAULT_CURRENCY
    ).aggregate(s=Sum("amount"))["s"]
    # SQLite sums decimals as floats' text ("7.5"): give the sum its two places back.
    return Decimal(total or ZERO).quantize(Decimal("0.01"))


class GatewayEvent(models.Model):
    """A notification from a payment gateway (a Stripe webhook event), stored once by its id
    and applied once."""

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=191)
    type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.type} {self.event_id}"


class GatewaySettings(models.Model):
    """A payment gateway as staff set it up: on or off, and its settings, encrypted at rest."""

    key = models.CharField(max_length=32, unique=True)
    enabled = models.BooleanField(default=False)
    settings = EncryptedJSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("gateway settings")

    def __str__(self) -> str:
        return self.key
