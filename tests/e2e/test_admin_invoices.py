"""Staff bill a customer in a real browser: a manual invoice, issued, paid by bank
transfer, and its PDF downloaded."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from billing.choices import InvoiceStatus
from billing.models import CompanyProfile, Invoice, Payment

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(page: Page, live_server, admin_user) -> Page:
    """The browser signed in as Alice: the login page has its own test."""
    client = Client()
    client.force_login(admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page


@pytest.fixture
def seller(db) -> CompanyProfile:
    profile = CompanyProfile.current()
    profile.name = "Hosting SAS"
    profile.bank_details = "IBAN FR76 3000 6000 0112 3456 7890 189"
    profile.save()
    return profile


def test_staff_invoice_a_customer_who_pays_by_bank_transfer(
    admin_page: Page, live_server, customer, seller
):
    page = admin_page
    page.goto(f"{live_server.url}/admin/invoices/")
    page.get_by_role("link", name="New invoice").click()

    page.get_by_placeholder("Search by name, company or e-mail").fill("bob")
    expect(page.locator("#id_customer option")).to_have_text(["Bob Owner — bob@example.com"])
    page.locator("#id_customer").select_option(str(customer.pk))
    page.locator("#id_lines-0-description").fill("Website migration")
    page.locator("#id_lines-0-quantity").fill("2")
    page.locator("#id_lines-0-unit_price").fill("45.00")
    page.get_by_role("button", name="Create the draft").click()

    invoice = Invoice.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/invoices/{invoice.pk}/")
    expect(page.locator("h1 [data-status]")).to_have_text("Draft")

    page.get_by_role("button", name="Issue").click()
    page.locator("#action-issue").get_by_role("button", name="Issue").click()
    expect(page.locator("h1 [data-status]")).to_have_text("Unpaid")
    invoice.refresh_from_db()
    assert invoice.number
    assert re.fullmatch(r"INV-\d{4}-\d{6}", invoice.number)
    expect(page.locator("#invoice-number")).to_have_text(invoice.number)
    expect(page.locator("#invoice-total")).to_have_text("90.00 EUR")

    page.get_by_role("button", name="Mark paid").click()
    dialog = page.locator("#action-mark-paid")
    expect(dialog.get_by_label("Amount received")).to_have_value("90.00")
    dialog.get_by_label("Transfer reference").fill("VIR-2026-0042")
    dialog.get_by_role("button", name="Record the payment").click()
    expect(page.locator("h1 [data-status]")).to_have_text("Paid")
    expect(page.locator("#invoice-payments")).to_contain_text("VIR-2026-0042")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.get().gateway == "bank_transfer"

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert download.suggested_filename == f"{invoice.number}.pdf"
    assert data.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert invoice.number in text
    assert "90.00" in text
