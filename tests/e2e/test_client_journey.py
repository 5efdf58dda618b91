"""A new customer's whole journey in a real browser: sign up, confirm the address, order a
product from the catalogue, pay with credit staff gave, see it active, renew it and pay the
renewal by bank transfer."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page, expect

from billing import balance, payments
from billing.models import CompanyProfile, Invoice
from customers.models import Customer
from products.choices import BillingCycle
from products.cycles import add_cycles
from services.choices import ServiceStatus
from services.models import Service
from services.tasks import deliver_service
from tests.factories import FakeServerFactory, ProductFactory, ProductPriceFactory

EMAIL = "newcomer@example.com"
PASSWORD = "a long and quiet passphrase"


@pytest.fixture
def shop(db):
    """A product of the test module sold monthly, a server with room, bank details."""
    product = ProductFactory(
        name="VPS Start", slug="vps-start", module="test", module_config={"memory_mb": 512}
    )
    ProductPriceFactory(
        product=product, cycle=BillingCycle.MONTHLY, price=Decimal("10.00"), setup_fee=0
    )
    FakeServerFactory()
    company = CompanyProfile.current()
    company.bank_details = "IBAN FR76 3000 6000 0112 3456 7890 189"
    company.save()
    return product


def sign_up_and_confirm(page: Page, base: str, mailoutbox) -> Customer:
    page.goto(f"{base}/client/signup/")
    page.locator("#id_email").fill(EMAIL)
    page.locator("#id_first_name").fill("Nina")
    page.locator("#id_last_name").fill("Newcomer")
    page.locator("#id_country").select_option("FR")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_text(EMAIL).first).to_be_visible()
    [message] = [m for m in mailoutbox if EMAIL in m.to]
    link = re.search(r"https?://\S+/client/signup/confirm/\S+/", message.body)
    assert link is not None, message.body
    page.goto(link.group(0))
    page.locator("#confirm-email").click()
    expect(page.get_by_text("is confirmed")).to_be_visible()
    return Customer.objects.get(user__email=EMAIL)


@pytest.mark.browser
def test_a_newcomer_signs_up_orders_pays_and_renews(
    page: Page, live_server, shop, admin_user, mailoutbox
):
    base = live_server.url
    customer = sign_up_and_confirm(page, base, mailoutbox)
    balance.adjust(customer, amount=Decimal("50.00"), actor=admin_user, reason="Welcome")

    # Order from the catalogue, pay with the balance.
    page.goto(f"{base}/client/catalogue/")
    page.get_by_role("link", name="VPS Start").first.click()
    page.locator("#id_billing_cycle").select_option(BillingCycle.MONTHLY)
    page.locator("#id_accept_terms").check()
    page.locator("#order-submit").click()
    expect(page).to_have_url(re.compile(r"/client/invoices/\d+/$"))
    page.locator("[data-gateway=balance]").click()

    service = Service.objects.get(customer=customer)
    expect(page).to_have_url(re.compile(rf"/client/services/{service.pk}/$"))
    expect(page.get_by_text("Being delivered")).to_be_visible()
    assert deliver_service(service.pk) == "delivered"  # what the Celery worker runs
    page.goto(f"{base}/client/")
    row = page.locator("#service-table").get_by_text("VPS Start").first
    expect(row).to_be_visible()
    expect(page.locator("#service-table")).to_contain_text("Active")
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    old = service.expires_at
    assert old is not None

    # Renew for one cycle, pay by bank transfer, which staff mark paid.
    page.goto(f"{base}/client/services/{service.pk}/")
    page.locator("#renew-button").click()
    page.get_by_label(re.compile(r"^1 × monthly")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/client/invoices/\d+/$"))
    page.locator("[data-gateway=bank_transfer]").click()
    renewal = Invoice.objects.get(customer=customer, lines__service=service, status="unpaid")
    expect(page.get_by_text(str(renewal.number)).first).to_be_visible()
    payments.record_payment(
        renewal,
        gateway="bank_transfer",
        amount=renewal.total,
        reference="TRANSFER-0001",
        actor=admin_user,
    )

    service.refresh_from_db()
    expected = add_cycles(old, BillingCycle.MONTHLY, anchor_day=service.billing_anchor_day)
    assert service.expires_at == expected
    page.goto(f"{base}/client/services/{service.pk}/renew/")
    shown = date_format(timezone.localtime(expected), "DATE_FORMAT")
    expect(page.locator("#current-expiration")).to_have_text(shown)
