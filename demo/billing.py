"""The billing part of ``manage.py seed_demo``: tax rates, the company profile, the
gateways of the embedded mode, and the demo customers' invoices, order and balance.

Every invoice, payment, order, credit and refund is made through billing's core
(``billing.invoices``, ``payments``, ``orders``, ``balance``), so numbers, frozen taxes,
ledger entries and statuses are what real use would leave. Stripe stays off: it is
offered only once staff enter its keys.

The demo's history is made up, so no one is e-mailed about it: every core call is made
with ``notify=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from billing import balance, invoices, orders, payments
from billing.invoices import LineSpec
from billing.models import CompanyProfile, GatewaySettings, Invoice, TaxRate
from customers.models import Customer, User
from products.choices import BillingCycle
from products.models import Product

from .catalogue import ADMIN, PEOPLE

COMPANY = {
    "name": "Demo Hosting SAS",
    "address": "8 rue des Serveurs\n69003 Lyon",
    "country": "FR",
    # A made-up SIREN and its French VAT number, both with valid check digits: with the
    # name, address and country, all that the company's Factur-X invoices need (issue 17).
    "vat_number": "FR11123456782",
    "legal_identifier": "123456782",
    "legal_identifier_scheme": "0002",
    "email": "billing@demo-hosting.example",
    "bank_details": "IBAN FR76 3000 6000 0112 3456 7890 189\nBIC AGRIFRPP",
}
#: (country, name, percent); the row without a country is the default.
TAX_RATES = (("", "VAT", Decimal("0.00")), ("FR", "TVA", Decimal("20.00")))
#: The gateways that work in the embedded mode, on; Stripe is not listed: off until its
#: keys are set.
GATEWAYS = {
    "bank_transfer": {"instructions": "Transfers take one to three working days to arrive."},
    "balance": {},
}
#: The product of the demo's pending order, and its cycle.
ORDER_PRODUCT = "VPS SSD 2"


@dataclass(frozen=True)
class DemoInvoice:
    """A manual invoice of the demo: its line, and what happens to it once issued."""

    description: str
    amount: str
    outcome: str  # "unpaid", "overdue", "paid" or "refunded"


#: The invoices of the customer printed for the client area (Alice), oldest first.
ALICE_INVOICES = (
    DemoInvoice("Migration of 3 websites", "45.00", "paid"),
    DemoInvoice("Extra IPv4 address (1 year)", "24.00", "refunded"),
    DemoInvoice("Managed backups 500 GB (monthly)", "12.00", "overdue"),
    DemoInvoice("Priority support (monthly)", "9.00", "unpaid"),
)
ALICE_CREDIT = Decimal("15.00")
#: Bob is a German business with a VAT number: his invoice shows the reverse charge.
BOB_INVOICE = DemoInvoice("Dedicated game server setup", "60.00", "unpaid")
#: David is in France, like the company: his invoice carries the French VAT.
DAVID_INVOICE = DemoInvoice("WordPress security audit", "80.00", "paid")
OVERDUE_BY_DAYS = 10


def billing_data_exists() -> bool:
    """The billing demo is taken to be loaded when any invoice exists: a database where
    billing is in use is never given demo invoices."""
    return Invoice.objects.exists()


def seed_billing(*, note: Callable[[str], None]) -> None:
    """Load the billing demo over the base seed, in one transaction."""
    admin = User.objects.get(email=ADMIN.email)
    alice = Customer.objects.get(user__email=PEOPLE[0].email)
    bob = Customer.objects.get(user__email=PEOPLE[1].email)
    david = Customer.objects.get(user__email=PEOPLE[3].email)
    with transaction.atomic():
        _set_up_company()
        for demo in ALICE_INVOICES:
            _make_invoice(alice, demo, admin)
        balance.adjust(
            alice, amount=ALICE_CREDIT, actor=admin, reason="A goodwill credit after an outage."
        )
        _make_invoice(bob, BOB_INVOICE, admin)
        _make_invoice(david, DAVID_INVOICE, admin)
        product = Product.objects.filter(name=ORDER_PRODUCT, is_active=True).first()
        if product is None:
            note(f"No demo order: the product {ORDER_PRODUCT!r} is missing.")
        else:
            orders.place_order(
                alice,
                items=[orders.ItemSpec(product=product, billing_cycle=BillingCycle.MONTHLY)],
                actor=alice.user,
                notify=False,
            )


def _set_up_company() -> None:
    profile = CompanyProfile.current()
    for field, value in COMPANY.items():
        setattr(profile, field, value)
    profile.save()
    for country, name, rate in TAX_RATES:
        TaxRate.objects.update_or_create(country=country, defaults={"name": name, "rate": rate})
    for key, config in GATEWAYS.items():
        GatewaySettings.objects.update_or_create(
            key=key, defaults={"enabled": True, "settings": config}
        )


def _make_invoice(customer: Customer, demo: DemoInvoice, admin: User) -> Invoice:
    """Issue one manual invoice, then pay, refund or leave it as ``demo.outcome`` says."""
    draft = invoices.create_draft(
        customer,
        actor=admin,
        lines=[LineSpec(description=demo.description, unit_price=Decimal(demo.amount))],
        due_days=-OVERDUE_BY_DAYS if demo.outcome == "overdue" else None,
    )
    invoice = invoices.issue(draft, actor=admin, notify=False)
    if demo.outcome in ("paid", "refunded"):
        invoice = payments.record_payment(
            invoice,
            gateway="bank_transfer",
            amount=invoice.total,
            reference=f"DEMO-TRANSFER-{invoice.number}",
            actor=admin,
            notify=False,
        ).invoice
    if demo.outcome == "refunded":
        invoices.refund(
            invoice,
            actor=admin,
            to_balance=True,
            reason="The address was never used.",
            notify=False,
        )
    return invoice
