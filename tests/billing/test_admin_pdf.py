"""The invoice PDF: a real PDF, drawn by WeasyPrint, whose text holds what an invoice must say."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing import invoices, payments
from billing.models import CompanyProfile, TaxRate
from billing.pdf import logo_path, render_invoice_html, render_invoice_pdf


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def french_vat(seller):
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    return seller


def test_the_pdf_is_a_pdf_holding_the_number_total_seller_and_lines(
    client, billing_agent, customer, make_invoice, french_vat
):
    invoice = make_invoice(customer, Decimal("12.50"), quantity=2, description="Mail box")
    client.force_login(billing_agent)

    response = client.get(reverse("admin:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert invoice.number in text
    assert invoice.total == Decimal("30.00")
    assert "30.00" in text
    assert "Mail box" in text
    assert "Hosting SAS" in text
    assert "FR11123456782" in text
    assert "SIREN 123456782" in text
    assert "Bob Owner" in text
    assert "20.00 %" in text
    assert "IBAN FR76" in text


def test_a_reverse_charge_invoice_says_so(customer, make_invoice, seller):
    customer.country, customer.vat_number = "DE", "DE136695976"
    customer.save()
    invoice = make_invoice(customer)

    text = pdf_text(render_invoice_pdf(invoice))

    assert invoice.reverse_charge
    assert "Reverse charge" in text
    assert "DE136695976" in text


def test_a_credit_note_names_the_invoice_it_corrects(customer, make_invoice, seller):
    invoice = make_invoice(customer)
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")
    note = invoices.refund(invoice, actor=None, to_balance=False)

    text = pdf_text(render_invoice_pdf(note))

    assert "Credit note" in text
    assert note.number in text
    assert f"Corrects invoice {invoice.number}" in " ".join(text.split())


def test_a_drafts_pdf_is_marked_as_such(customer, make_invoice, seller):
    draft = make_invoice(customer, issue=False)

    text = pdf_text(render_invoice_pdf(draft))

    assert "Draft" in text


def test_the_logo_is_only_ever_a_static_file(seller):
    seller.logo_url = "/static/../../etc/passwd"
    assert logo_path(seller) is None
    seller.logo_url = "/static/no-such-logo.png"
    assert logo_path(seller) is None


def test_the_company_form_refuses_a_logo_outside_static(client, billing_agent, seller):
    client.force_login(billing_agent)
    data = {
        "name": "Hosting SAS",
        "country": "FR",
        "invoice_prefix": "INV",
        "credit_note_prefix": "CN",
        "payment_terms_days": "14",
        "logo_url": "http://169.254.169.254/latest",
    }

    response = client.post(reverse("admin:billing_company"), data)

    assert response.status_code == 200
    assert "Give a path under /static/" in response.text
    assert CompanyProfile.current().logo_url == ""


def test_the_html_escapes_what_staff_and_customers_typed(customer, make_invoice, seller):
    customer.company = "<script>x</script>"
    customer.save()
    invoice = make_invoice(customer)

    html = render_invoice_html(invoice)

    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def tiny_png() -> bytes:
    """A 1×1 black PNG, made here rather than shipped."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def test_the_logo_from_the_static_files_is_drawn(
    customer, make_invoice, seller, settings, tmp_path
):
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(tiny_png())
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, str(tmp_path)]
    invoice = make_invoice(customer)
    without_logo = render_invoice_pdf(invoice)

    seller.logo_url = "/static/brand/logo.png"
    seller.save()
    with_logo = render_invoice_pdf(invoice)

    assert b"/Subtype /Image" not in without_logo
    assert b"/Subtype /Image" in with_logo
