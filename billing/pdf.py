"""An invoice or credit note as a PDF: the same document for staff, the customer and the
e-mail that sends it (issue 10, point 7).

The document is an HTML template (``billing/pdf/invoice.html``) laid out by WeasyPrint,
which understands CSS paged media (page size, margins, running footers) and embeds its
fonts, so the PDF looks the same wherever it is opened. WeasyPrint is not a browser: it
runs no script and the page's Content-Security-Policy does not apply, so the template
carries its own ``<style>``.

The document is in its customer's language (``Customer.language``), whoever downloads it:
staff reading the administration in another language, or the e-mail task, get the very
PDF the customer gets.

WeasyPrint would fetch whatever URL the HTML names. The template names one resource at
most, the company's logo, a file under the static files; the fetcher refuses every
other URL, so an address typed by staff can never make the server fetch a remote or local
resource it should not (server-side request forgery).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string

from . import einvoice
from .choices import InvoiceKind
from .models import ZERO, CompanyProfile, Invoice, in_language_of

TEMPLATE = "billing/pdf/invoice.html"


@dataclass(frozen=True)
class TaxSummary:
    """The lines taxed at one rate: their net amount and their tax."""

    rate: Decimal
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class BillTo:
    """Who the document is addressed to."""

    name: str
    company: str
    address: str
    country: str
    vat_number: str
    legal_identifier: str = ""


def bill_to(invoice: Invoice) -> BillTo:
    """The customer's details frozen when the invoice was issued; for a draft, which has
    none yet, the customer's current ones (a draft's PDF is a preview for staff)."""
    if not invoice.is_draft:
        return BillTo(
            name=invoice.billing_name,
            company=invoice.billing_company,
            address=invoice.billing_address,
            country=invoice.billing_country.name if invoice.billing_country else "",
            vat_number=invoice.billing_vat_number,
            legal_identifier=invoice.billing_legal_identifier,
        )
    customer = invoice.customer
    lines = [customer.address_line1, customer.address_line2]
    lines.append(" ".join(part for part in (customer.postcode, customer.city) if part))
    if customer.state:
        lines.append(customer.state)
    return BillTo(
        name=customer.full_name,
        company=customer.company,
        address="\n".join(line for line in lines if line),
        country=customer.country.name if customer.country else "",
        vat_number=customer.vat_number,
        legal_identifier=customer.legal_identifier,
    )


def tax_summary(lines: list[Any]) -> list[TaxSummary]:
    """Net and tax per rate, in rate order, as invoices in the EU must show them."""
    net: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    tax: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        net[line.tax_rate] += line.subtotal
        tax[line.tax_rate] += line.tax_amount
    return [TaxSummary(rate, net[rate], tax[rate]) for rate in sorted(net)]


def logo_path(company: CompanyProfile) -> Path | None:
    """The logo's file, found like any static file, or None (no logo, or none there)."""
    name = company.logo_url.strip().removeprefix("/static/").lstrip("/")
    if not name:
        return None
    try:
        found = finders.find(name)
    except SuspiciousFileOperation:  # "../" out of the static directories
        return None
    if not isinstance(found, str):
        return None
    return Path(found)


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    """What the PDF template shows: the document, its seller, its buyer, lines and taxes.

    The seller is the one frozen at issue (``Invoice.seller_details``; a draft's is the
    company as it is now), so changing the company's settings never changes the PDF of a
    document already issued. The logo is the exception: a file under the static files,
    read as it is now (its path is a setting of the panel's look, not a detail the law
    asks of an invoice).
    """
    lines = list(invoice.lines.all())
    logo = logo_path(CompanyProfile.current())
    return {
        "invoice": invoice,
        "seller": invoice.seller_details(),
        "bill_to": bill_to(invoice),
        "lines": lines,
        "taxes": tax_summary(lines),
        "is_credit_note": invoice.kind == InvoiceKind.CREDIT_NOTE,
        "corrects": invoice.credit_note_for,
        "logo_url": logo.as_uri() if logo else "",
    }


def render_invoice_html(invoice: Invoice) -> str:
    """The document as HTML, before layout (tests and previews read this), in its
    customer's language."""
    with in_language_of(invoice.customer):
        return render_to_string(TEMPLATE, invoice_context(invoice))


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as PDF bytes: for an issued document a Factur-X PDF/A-3
    with its XML embedded (``einvoice``, issue 17); a draft's preview is a plain PDF."""
    # Imported here: importing WeasyPrint loads pango and takes a good part of a second,
    # which processes that never draw a PDF need not pay.
    import weasyprint  # type: ignore[import-untyped]  # ships neither stubs nor py.typed

    with in_language_of(invoice.customer):
        return _render_pdf(invoice, weasyprint)


def _render_pdf(invoice: Invoice, weasyprint: Any) -> bytes:
    """``render_invoice_pdf`` in the language already active (the customer's)."""
    context = invoice_context(invoice)
    allowed = context["logo_url"]

    class LogoOnlyFetcher(weasyprint.URLFetcher):
        """WeasyPrint's fetcher, limited to local files and to the one logo allowed."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not allowed or url != allowed:
                raise ValueError(f"The invoice PDF loads no resource but the logo: {url!r}.")
            return super().fetch(url, headers)

    html = render_to_string(TEMPLATE, context)
    fetcher = LogoOnlyFetcher(allowed_protocols=("file",))
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    if invoice.is_draft:
        pdf = document.write_pdf()
        assert pdf is not None  # without a target, write_pdf returns the bytes
        return bytes(pdf)
    # PDF/A-3 is the archival PDF that may carry files: Factur-X requires it.
    pdf = document.write_pdf(pdf_variant="pdf/a-3b")
    assert pdf is not None
    return einvoice.embed(bytes(pdf), invoice)


def pdf_filename(invoice: Invoice) -> str:
    """The downloaded file's name: its number, or the draft's id."""
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"
