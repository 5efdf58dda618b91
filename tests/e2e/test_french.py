"""A customer switches the client area to French: the pages, an invoice and the next
e-mail are in French, and stay so at the next sign-in."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format
from playwright.sync_api import Page, expect

from billing import invoices
from billing.invoices import LineSpec
from customers.models import Customer
from services import tasks
from services.choices import EventSource, ServiceAction, ServiceStatus
from services.models import ServiceEvent
from tests.factories import DEFAULT_PASSWORD


def _sign_in(page: Page, base: str, email: str, *, button: str) -> None:
    page.goto(f"{base}/client/login/")
    page.locator("input[name=username], input[name=email]").first.fill(email)
    page.locator("input[type=password]").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name=button).click()


@pytest.mark.browser
def test_bob_switches_to_french_and_reads_his_pages_invoice_and_email_in_french(
    page: Page, live_server, customer, make_service, mailoutbox
):
    service = make_service(ServiceStatus.ACTIVE, name="Minecraft Paris")
    draft = invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description="Support", unit_price=Decimal("12.50"))]
    )
    invoice = invoices.issue(draft, actor=None, notify=False)

    _sign_in(page, live_server.url, customer.user.email, button="Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Français").click()

    # The home page, in French, and the choice saved on Bob's account.
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("link", name="Factures", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_be_visible()
    assert Customer.objects.get(pk=customer.pk).language == "fr"

    # A service: its page and its expiry date written the French way.
    page.get_by_role("link", name="Services", exact=True).click()
    page.get_by_role("link", name="Minecraft Paris").click()
    expect(page).to_have_url(re.compile(rf"/client/services/{service.pk}/$"))
    with translation.override("fr"):
        expires = date_format(timezone.localtime(service.expires_at), "DATE_FORMAT")
    expect(page.locator("main")).to_contain_text(expires)
    expect(page.get_by_role("button", name=re.compile("^Annuler ce service"))).to_be_visible()

    # An invoice: its page in French, the amount with a decimal comma.
    page.get_by_role("link", name="Factures", exact=True).click()
    page.get_by_role("link", name=invoice.number).first.click()
    expect(
        page.get_by_role("heading", name=re.compile(f"Facture {invoice.number}"))
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text("12,50")

    # The next e-mail Bob receives is in French too.
    event = ServiceEvent.objects.create(
        service=service, source=EventSource.ADMIN, action=ServiceAction.SUSPEND
    )
    assert tasks.send_service_notification(event.pk) is True
    [message] = mailoutbox
    assert "Bonjour Bob" in message.body
    assert "a été suspendu" in message.body
    assert "has been suspended" not in message.body

    # Another browser, another day: the sign-in page follows the browser (English), the
    # client area behind it Bob's choice.
    page.context.clear_cookies()
    _sign_in(page, live_server.url, customer.user.email, button="Sign in")
    expect(page).to_have_url(re.compile("/client/$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
