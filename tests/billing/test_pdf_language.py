"""The invoice PDF is in its customer's language (``Customer.language``), whoever downloads
it: staff reading the administration in English get the French customer's French PDF.

``test_a_french_customers_pdf_is_french_whoever_downloads_it`` reads the French catalogue:
it passes once ``locale/fr`` is compiled (``make messages`` then ``compilemessages``)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from billing import payments, pdf
from billing.pdf import render_invoice_html


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def french_customer(customer):
    customer.language = "fr"
    customer.save(update_fields=["language"])
    return customer


def paid(invoice):
    payments.record_payment(
        invoice, gateway="bank_transfer", amount=invoice.total, reference="VIR-1", notify=False
    )
    invoice.refresh_from_db()
    return invoice


def test_the_pdf_is_drawn_in_the_customers_language_and_the_callers_is_kept(
    french_customer, make_invoice, seller, monkeypatch
):
    invoice = make_invoice(french_customer)
    drawn_in: list[str | None] = []
    real = pdf.render_to_string

    def spy(*args: Any, **kwargs: Any) -> str:
        drawn_in.append(translation.get_language())
        return real(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_to_string", spy)

    with translation.override("en"):
        render_invoice_html(invoice)
        pdf.render_invoice_pdf(invoice)
        assert translation.get_language() == "en"  # the caller's language is back

    assert drawn_in == ["fr", "fr"]


def test_a_french_customers_pdf_is_french_whoever_downloads_it(
    client, billing_agent, french_customer, make_invoice, seller
):
    """Needs the compiled French catalogue (locale/fr/LC_MESSAGES/django.mo)."""
    invoice = paid(make_invoice(french_customer, Decimal("12.50")))
    billing_agent.language = "en"
    billing_agent.save(update_fields=["language"])
    client.force_login(billing_agent)

    response = client.get(reverse("admin:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Facture" in text  # "Invoice"
    assert "payée" in text.lower()  # the invoice's status, "Paid" (stamped in capitals)
    assert "Invoice" not in text


def test_an_english_customers_pdf_stays_english(customer, make_invoice, seller):
    customer.language = "en"
    customer.save(update_fields=["language"])
    invoice = paid(make_invoice(customer))

    with translation.override("fr"):
        html = render_invoice_html(invoice)

    assert "Invoice" in html
    assert "Paid" in html
