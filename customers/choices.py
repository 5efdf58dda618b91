"""Where a customer's VAT number stands after its checks, and the colour of its badge."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class VatStatus(models.TextChoices):
    """The last check of a customer's VAT number (``customers.vat``).

    ``format_valid``: its format and check digit are right for its country (python-stdnum);
    the ``vies_*`` values are the answer of the European Commission's VIES service.
    """

    UNCHECKED = "unchecked", _("Not checked")
    FORMAT_VALID = "format_valid", _("Format valid")
    VIES_VALID = "vies_valid", _("Valid in VIES")
    VIES_INVALID = "vies_invalid", _("Invalid in VIES")
    VIES_UNAVAILABLE = "vies_unavailable", _("VIES unavailable")


#: Keyed by the stored value, so a raw status string finds its colour too.
VAT_STATUS_BADGES: dict[str, str] = {
    VatStatus.UNCHECKED: "secondary",
    VatStatus.FORMAT_VALID: "info",
    VatStatus.VIES_VALID: "success",
    VatStatus.VIES_INVALID: "danger",
    VatStatus.VIES_UNAVAILABLE: "warning",
}
