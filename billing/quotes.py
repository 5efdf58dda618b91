"""What an order will cost a customer, taxes included, before it is placed.

The checkout shows the amounts the invoice will carry, so this reckons them line by line
exactly as issuing does (``invoices._freeze_taxes``): a price entered tax included loses
the company's own tax first, then each line gets the customer's rate, rounded to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from customers.models import Customer
from products.models import ProductPrice

from .models import ZERO, CompanyProfile
from .taxes import TaxDecision, rate_for_country, split, tax_for


@dataclass(frozen=True)
class Quote:
    """The first invoice of one product for one cycle: net, tax and total."""

    price: ProductPrice
    net: Decimal
    tax: Decimal
    decision: TaxDecision

    @property
    def total(self) -> Decimal:
        return self.net + self.tax

    @property
    def cycle(self) -> str:
        return self.price.cycle


@dataclass(frozen=True)
class Reckoner:
    """The tax decision and the included rate for one customer, reused for every price."""

    decision: TaxDecision
    included: Decimal | None

    @classmethod
    def for_customer(cls, customer: Customer) -> Reckoner:
        company = CompanyProfile.current()
        included = rate_for_country(str(company.country)) if company.prices_include_tax else None
        return cls(decision=tax_for(customer, company), included=included)

    def line(self, amount: Decimal) -> tuple[Decimal, Decimal]:
        """(net, tax) of one invoice line of ``amount``, as issuing will freeze it."""
        net = amount if self.included is None else split(amount, self.included, inclusive=True)[0]
        return net, split(net, self.decision.rate, inclusive=False)[1]

    def quote(self, price: ProductPrice) -> Quote:
        """The price line plus, when there is one, the setup-fee line."""
        net, tax = self.line(price.price)
        if price.setup_fee > ZERO:
            setup_net, setup_tax = self.line(price.setup_fee)
            net, tax = net + setup_net, tax + setup_tax
        return Quote(price=price, net=net, tax=tax, decision=self.decision)
