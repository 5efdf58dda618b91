"""An issued invoice never changes, its seller included: the company's details are frozen
on the invoice at issue (``Invoice.seller``), as the customer's are, and its PDF and
Factur-X XML read them from there. Changing the company's settings changes the documents
issued afterwards, a draft's preview, and nothing already issued."""

from __future__ import annotations

import importlib
import io
from decimal import Decimal

import facturx
import pytest
from django.apps import apps as django_apps
from lxml import etree
from pypdf import PdfReader

from billing import einvoice, invoices, payments
from billing.choices import FacturXProfile, InvoiceStatus
from billing.models import CompanyProfile, ImmutableInvoice, Invoice, Seller, TaxRate
from billing.pdf import render_invoice_html, render_invoice_pdf
from tests.factories import BANK_DETAILS, COMPANY, CustomerFactory

NS = einvoice.NSMAP
SELLER = "//ram:SellerTradeParty/"

#: The company after it moved to Belgium, renamed, with another bank and the BASIC profile.
MOVED = {
    "name": "Nouvelle Hébergement SRL",
    "address": "12 rue de la Loi\n1000 Bruxelles",
    "country": "BE",
    "vat_number": "BE0403170701",
    "legal_identifier": "0403170701",
    "legal_identifier_scheme": "0208",
    "siret": "",
    "email": "invoices@nouvelle.example",
    "bank_details": "IBAN BE71 0961 2345 6769 · BIC GKCCBEBB",
    "facturx_profile": FacturXProfile.BASIC,
}


def xpath(xml: bytes, path: str) -> list[str]:
    return [
        str(found) if isinstance(found, str) else found.text
        for found in etree.fromstring(xml).xpath(path, namespaces=NS)
    ]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def embedded_xml(pdf: bytes) -> bytes:
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    return xml


def move_the_company() -> CompanyProfile:
    """Staff change every detail of the company an invoice names."""
    company = CompanyProfile.current()
    for name, value in MOVED.items():
        setattr(company, name, value)
    company.save()
    return company


@pytest.fixture
def french_vat(seller):
    """The complete French company (with SIRET and bank details), charging 20 % in France."""
    seller.siret = "12345678200010"
    seller.save()
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    return seller


@pytest.fixture
def french_customer(db):
    return CustomerFactory(
        company="Owner SARL",
        address_line1="2 place Bellecour",
        postcode="69002",
        city="Lyon",
        country="FR",
    )


def assert_names_the_first_company(invoice: Invoice) -> None:
    """The PDF's text and the XML (built, and embedded in the PDF) name the company as it
    was when ``invoice`` was issued: French, EN 16931, its SIREN, SIRET, VAT number, IBAN."""
    pdf = render_invoice_pdf(invoice)
    text = pdf_text(pdf)
    for shown in ("Hosting SAS", "1 rue du Serveur", "75001 Paris", "France"):
        assert shown in text
    assert "FR11123456782" in text
    assert "SIREN 123456782" in text
    assert "SIRET: 12345678200010" in text
    assert "billing@hosting.example" in text
    for gone in ("Nouvelle", "Bruxelles", "BE0403170701", "0403170701", "Belgium"):
        assert gone not in text

    xml = einvoice.build_xml(invoice)
    assert embedded_xml(pdf) == xml
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert xpath(xml, SELLER + "ram:Name") == ["Hosting SAS"]
    assert xpath(xml, SELLER + "ram:GlobalID") == ["12345678200010"]
    assert xpath(xml, SELLER + "ram:SpecifiedLegalOrganization/ram:ID") == ["123456782"]
    assert xpath(xml, SELLER + "ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == ["0002"]
    assert xpath(xml, SELLER + "ram:PostalTradeAddress/ram:CityName") == ["Paris"]
    assert xpath(xml, SELLER + "ram:PostalTradeAddress/ram:CountryID") == ["FR"]
    assert xpath(xml, SELLER + "ram:URIUniversalCommunication/ram:URIID") == [
        "billing@hosting.example"
    ]
    assert xpath(xml, SELLER + "ram:SpecifiedTaxRegistration/ram:ID") == ["FR11123456782"]


def test_changing_the_company_changes_neither_the_pdf_nor_the_xml_of_an_issued_invoice(
    french_vat, french_customer, make_invoice
):
    before = make_invoice(french_customer, Decimal("12.50"))
    assert before.seller == {
        **{key: str(value) for key, value in COMPANY.items()},
        "siret": "12345678200010",
        "bank_details": BANK_DETAILS,
        "facturx_profile": "en16931",
    }

    move_the_company()
    before.refresh_from_db()

    assert_names_the_first_company(before)
    # The bank details to pay it by, printed while it is unpaid, and in its XML.
    assert "IBAN FR76" in pdf_text(render_invoice_pdf(before))
    assert xpath(einvoice.build_xml(before), "//ram:IBANID") == ["FR7630006000011234567890189"]


def test_an_invoice_issued_after_the_change_names_the_new_details(
    french_vat, french_customer, make_invoice
):
    make_invoice(french_customer)
    move_the_company()

    after = make_invoice(french_customer, Decimal("12.50"))

    pdf = render_invoice_pdf(after)
    text = pdf_text(pdf)
    assert "Nouvelle Hébergement SRL" in text
    assert "1000 Bruxelles" in text
    assert "Belgium" in text
    assert "BE0403170701" in text
    assert "Enterprise number 0403170701" in text
    assert "IBAN BE71" in text
    assert "Hosting SAS" not in text
    assert "SIRET" not in text
    xml = embedded_xml(pdf)
    assert xml == einvoice.build_xml(after)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")
    assert facturx.get_level(etree.fromstring(xml)) == "basic"
    assert xpath(xml, SELLER + "ram:Name") == ["Nouvelle Hébergement SRL"]
    assert xpath(xml, SELLER + "ram:GlobalID") == []
    assert xpath(xml, SELLER + "ram:SpecifiedLegalOrganization/ram:ID") == ["0403170701"]
    assert xpath(xml, SELLER + "ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == ["0208"]
    assert xpath(xml, SELLER + "ram:PostalTradeAddress/ram:CountryID") == ["BE"]
    assert xpath(xml, SELLER + "ram:SpecifiedTaxRegistration/ram:ID") == ["BE0403170701"]
    assert xpath(xml, "//ram:IBANID") == ["BE71096123456769"]


def test_a_credit_note_names_the_seller_of_its_own_issue(french_vat, french_customer, make_invoice):
    invoice = make_invoice(french_customer, Decimal("12.50"))
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")
    move_the_company()

    note = invoices.refund(invoice, actor=None, to_balance=True, notify=False)

    assert note.seller == CompanyProfile.current().as_seller().as_dict()
    assert note.seller["name"] == "Nouvelle Hébergement SRL"
    note_xml = einvoice.build_xml(note)
    assert xpath(note_xml, SELLER + "ram:Name") == ["Nouvelle Hébergement SRL"]
    assert xpath(note_xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
        invoice.number
    ]
    assert "Nouvelle Hébergement SRL" in pdf_text(render_invoice_pdf(note))
    # The invoice it corrects still names the company as it was.
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED
    assert_names_the_first_company(invoice)


def test_a_drafts_preview_shows_the_company_as_it_is_now(french_vat, french_customer, make_invoice):
    draft = make_invoice(french_customer, issue=False)
    assert draft.seller == {}

    move_the_company()

    html = render_invoice_html(draft)
    assert "Nouvelle Hébergement SRL" in html
    assert "Hosting SAS" not in html
    # Issued now, it freezes the details of now.
    issued = invoices.issue(draft, actor=None, notify=False)
    assert issued.seller["name"] == "Nouvelle Hébergement SRL"


def test_the_immutability_guard_refuses_a_change_of_the_seller(
    french_vat, french_customer, make_invoice
):
    invoice = make_invoice(french_customer)
    invoice.seller = {**invoice.seller, "name": "Someone Else Ltd"}

    with pytest.raises(ImmutableInvoice, match="seller cannot change"):
        invoice.save()

    invoice.refresh_from_db()
    assert invoice.seller["name"] == "Hosting SAS"
    # Its status may still move: the guard reads the seller as stored.
    invoice.status = InvoiceStatus.CANCELLED
    invoice.save(update_fields=["status", "updated_at"])


def test_a_draft_may_be_given_any_seller_until_it_is_issued(french_customer, make_invoice):
    draft = make_invoice(french_customer, issue=False)
    draft.seller = {"name": "Anything"}

    draft.save()  # a draft is not frozen; issuing overwrites it with the company's details

    assert invoices.issue(draft, actor=None, notify=False).seller["name"] == "Hosting SAS"


def test_a_seller_stored_before_a_detail_was_added_reads_with_its_default(db):
    seller = Seller.from_dict({"name": "Old SAS", "country": "FR", "gone": "x"})

    assert seller.name == "Old SAS"
    assert seller.siret == ""
    assert seller.facturx_profile == FacturXProfile.EN16931
    assert seller.country_name == "France"


# Migration 0004: invoices issued before it --------------------------------------------------

migration = importlib.import_module("billing.migrations.0004_invoice_seller")


def test_the_migration_fills_the_seller_of_issued_invoices_from_the_current_company(
    french_vat, french_customer, make_invoice
):
    issued = make_invoice(french_customer)
    draft = make_invoice(french_customer, issue=False)
    # As they were before the migration: no seller on any invoice.
    Invoice.objects.update(seller={})

    migration.fill_issued_sellers(django_apps, None)

    issued.refresh_from_db()
    draft.refresh_from_db()
    assert issued.seller == CompanyProfile.current().as_seller().as_dict()
    assert draft.seller == {}
    assert_names_the_first_company(issued)


def test_the_migration_freezes_every_detail_a_seller_has():
    assert set(migration.SELLER_FIELDS) == set(Seller().as_dict())
