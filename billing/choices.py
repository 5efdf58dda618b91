"""Statuses and kinds of billing's records, with their badge colours."""

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    UNPAID = "unpaid", "Unpaid"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


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
    NEW_SERVICE = "new_service", "New service"
    RENEWAL = "renewal", "Renewal"
    SETUP_FEE = "setup_fee", "Setup fee"
    MANUAL = "manual", "Manual"
    CREDIT = "credit", "Credit"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class BalanceEntryKind(models.TextChoices):
    STAFF_CREDIT = "staff_credit", "Added by staff"
    STAFF_DEBIT = "staff_debit", "Removed by staff"
    OVERPAYMENT = "overpayment", "Overpayment"
    REFUND = "refund", "Refund to balance"
    PAYMENT = "payment", "Paid from balance"


class FacturXProfile(models.TextChoices):
    """The Factur-X profile of the XML embedded in every issued invoice (issue 17): EN 16931
    carries the whole European standard; BASIC is a subset some receivers prefer."""

    EN16931 = "en16931", "EN 16931 (Factur-X EN 16931)"
    BASIC = "basic", "Factur-X BASIC"


class LegalIdentifierScheme(models.TextChoices):
    """The register a company's legal identifier belongs to, by its ISO 6523 code, as the
    e-invoice names it (``schemeID``); "Other" sends the number without one."""

    SIREN = "0002", "SIREN (France, 9 digits)"
    BELGIAN_ENTERPRISE = "0208", "Enterprise number (Belgium, KBO/BCE)"
    DUNS = "0060", "DUNS number"
    GLN = "0088", "GLN (GS1)"
    OTHER = "", "Other national register (no scheme)"
