"""Statuses and kinds of billing's records, with their badge colours."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OrderStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("order status", "Pending payment")
    PAID = "paid", pgettext_lazy("order status", "Paid")
    CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("invoice status", "Draft")
    UNPAID = "unpaid", pgettext_lazy("invoice status", "Unpaid")
    PAID = "paid", pgettext_lazy("invoice status", "Paid")
    CANCELLED = "cancelled", pgettext_lazy("invoice status", "Cancelled")
    REFUNDED = "refunded", pgettext_lazy("invoice status", "Refunded")


INVOICE_BADGES: dict[str, str] = {
    InvoiceStatus.DRAFT: "secondary",
    InvoiceStatus.UNPAID: "warning",
    InvoiceStatus.PAID: "success",
    InvoiceStatus.CANCELLED: "dark",
    InvoiceStatus.REFUNDED: "info",
}
#: Statuses whose lines may still be paid: a renewal line there is "open".
OPEN_INVOICE = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.UNPAID})


class LineKind(models.TextChoices):
    NEW_SERVICE = "new_service", _("New service")
    RENEWAL = "renewal", _("Renewal")
    SETUP_FEE = "setup_fee", _("Setup fee")
    MANUAL = "manual", pgettext_lazy("invoice line", "Manual")
    CREDIT = "credit", _("Credit")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("payment status", "Pending")
    SUCCEEDED = "succeeded", pgettext_lazy("payment status", "Succeeded")
    FAILED = "failed", pgettext_lazy("payment status", "Failed")
    REFUNDED = "refunded", pgettext_lazy("payment status", "Refunded")


class BalanceEntryKind(models.TextChoices):
    STAFF_CREDIT = "staff_credit", _("Added by staff")
    STAFF_DEBIT = "staff_debit", _("Removed by staff")
    OVERPAYMENT = "overpayment", _("Overpayment")
    REFUND = "refund", _("Refund to balance")
    PAYMENT = "payment", _("Paid from balance")


class FacturXProfile(models.TextChoices):
    """The Factur-X profile of the XML embedded in every issued invoice (issue 17): EN 16931
    carries the whole European standard; BASIC is a subset some receivers prefer."""

    EN16931 = "en16931", "EN 16931 (Factur-X EN 16931)"
    BASIC = "basic", "Factur-X BASIC"


class LegalIdentifierScheme(models.TextChoices):
    """The register a company's legal identifier belongs to, by its ISO 6523 code, as the
    e-invoice names it (``schemeID``); "Other" sends the number without one."""

    SIREN = "0002", _("SIREN (France, 9 digits)")
    BELGIAN_ENTERPRISE = "0208", _("Enterprise number (Belgium, KBO/BCE)")
    DUNS = "0060", _("DUNS number")
    GLN = "0088", "GLN (GS1)"
    OTHER = "", _("Other national register (no scheme)")
