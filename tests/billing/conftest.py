"""Billing's personas and builders, shared by the billing tests.

``billing_agent`` is the staff member who acts on invoices (issue, mark paid, cancel,
refund, adjust balances, company and taxes); ``support_user`` (tests/conftest.py) reads
everything and acts on nothing.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Q

from billing import invoices
from billing.invoices import LineSpec
from billing.models import CompanyProfile, Invoice
from tests.factories import BANK_DETAILS, StaffFactory, complete_company


@pytest.fixture
def billing_agent(db):
    """Bea: staff with every billing permission, who can also see services and customers."""
    user = StaffFactory(email="bea@example.com", full_name="Bea Billing")
    user.user_permissions.set(
        Permission.objects.filter(
            Q(content_type__app_label="billing")
            | Q(content_type__app_label="services", codename="view_service")
            | Q(content_type__app_label="customers", codename="view_customer")
        )
    )
    return user


@pytest.fixture
def seller(db) -> CompanyProfile:
    """The company on the invoices: French, with its SIREN, VAT number and bank details,
    selling without tax (no rate set); complete for its e-invoices (tests/factories.py)."""
    return complete_company(bank_details=BANK_DETAILS)


@pytest.fixture
def make_invoice(db):
    """Build an invoice for ``customer``: a draft, or issued (``issue=True``)."""

    def make(
        customer, amount: Decimal = Decimal("10.00"), *, issue: bool = True, **line
    ) -> Invoice:
        spec = LineSpec(description=line.pop("description", "Support"), unit_price=amount, **line)
        draft = invoices.create_draft(customer, actor=None, lines=[spec])
        return invoices.issue(draft, actor=None, notify=False) if issue else draft

    return make
