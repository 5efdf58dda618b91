"""Which tax an invoice carries for a customer (DESIGN.md, "Billing").

The rate is the customer's country's, else the default rate. A business customer with a
VAT number in another EU country than the company's pays no VAT: the invoice says that
the customer accounts for it (reverse charge, article 196 of the VAT directive). The
number must have passed its checks (``customers.vat.number_passes``): with the VIES check
on, VIES said it is valid; with it off, its format and check digit are right. Otherwise
the invoice carries the country's VAT, and the customer's page tells staff why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop

from customers import vat
from customers.models import Customer

from .models import ZERO, CompanyProfile, TaxRate

#: The member states of the European Union, by ISO 3166 code.
EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
#: Frozen on the invoice in English, as written here (its e-invoice's exemption reason too);
#: in the catalogue (``gettext_noop``) so that pages and PDFs show it in their language.
REVERSE_CHARGE_NOTE = gettext_noop(
    "Reverse charge: VAT to be accounted for by the customer (article 196 of Council "
    "Directive 2006/112/EC)."
)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class TaxDecision:
    rate: Decimal
    reverse_charge: bool = False
    note: str = ""


def all_rates() -> dict[str, Decimal]:
    """Every rate by country code ("" for the default row), in one query: what a batch of
    invoices reads once instead of once per invoice (``billing.renewal_batches``)."""
    return {str(r.country): r.rate for r in TaxRate.objects.all()}


def rate_for_country(country: str, rates: Mapping[str, Decimal] | None = None) -> Decimal:
    """The country's rate, else the default row's, else no tax; from ``rates``
    (``all_rates``) when given, else read now."""
    if rates is None:
        rates = {str(r.country): r.rate for r in TaxRate.objects.filter(country__in=[country, ""])}
    return rates.get(country, rates.get("", ZERO))


def tax_for(
    customer: Customer,
    company: CompanyProfile | None = None,
    *,
    rates: Mapping[str, Decimal] | None = None,
) -> TaxDecision:
    """The tax of an invoice for ``customer`` sold by ``company``: reverse charge only for a
    VAT number that passed its checks (module docstring). ``rates`` as ``rate_for_country``."""
    company = company or CompanyProfile.current()
    country, seller = str(customer.country), str(company.country)
    if (
        customer.vat_number
        and country in EU_COUNTRIES
        and seller in EU_COUNTRIES
        and country != seller
        and vat.number_passes(customer)
    ):
        return TaxDecision(rate=ZERO, reverse_charge=True, note=REVERSE_CHARGE_NOTE)
    return TaxDecision(rate=rate_for_country(country, rates))


def split(amount: Decimal, rate: Decimal, *, inclusive: bool) -> tuple[Decimal, Decimal]:
    """``amount`` as (net, tax) at ``rate`` percent, rounded to the cent.

    ``inclusive``: the amount already holds the tax (prices entered tax included).
    """
    if inclusive:
        net = (amount * 100 / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        return net, amount - net
    return amount, (amount * rate / 100).quantize(CENT, ROUND_HALF_UP)
