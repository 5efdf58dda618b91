"""Factur-X (issue 17): every issued invoice and credit note carries EN 16931 XML that the
``factur-x`` library validates against the official schema and reads back from the PDF;
an invoice whose e-invoice would lack a required detail is refused at issue, naming it,
before any number is taken; staff download the XML alone, customers the same PDF."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import facturx
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from lxml import etree
from pypdf import PdfReader

from automation import runner
from billing import einvoice, invoices, payments
from billing.choices import FacturXProfile, InvoiceStatus, LineKind
from billing.forms.admin import CompanyProfileForm
from billing.invoices import BillingError, LineSpec
from billing.models import CompanyProfile, Invoice, InvoiceSequence, TaxRate
from billing.pdf import render_invoice_pdf
from services.choices import ServiceStatus
from tests.factories import COMPANY, CustomerFactory, ServiceFactory

NS = einvoice.NSMAP
#: A German VAT number with a valid check digit (stdnum), for the reverse charge.
GERMAN_VAT = "DE136695976"


def xpath(xml: bytes, path: str) -> list[str]:
    """The texts (or attribute values) at ``path`` in ``xml``."""
    return [
        str(found) if isinstance(found, str) else found.text
        for found in _root(xml).xpath(path, namespaces=NS)
    ]


def _root(xml: bytes):
    return etree.fromstring(xml)


def totals(xml: bytes) -> dict[str, Decimal | str]:
    """What the XML says the document is: its number, type and totals."""
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    return {
        "number": xpath(xml, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID")[0],
        "type": xpath(xml, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode")[0],
        "net": Decimal(xpath(xml, summation + "TaxBasisTotalAmount")[0]),
        "tax": Decimal(xpath(xml, summation + "TaxTotalAmount")[0]),
        "total": Decimal(xpath(xml, summation + "GrandTotalAmount")[0]),
        "due": Decimal(xpath(xml, summation + "DuePayableAmount")[0]),
    }


def embedded_xml(pdf: bytes) -> bytes:
    """The Factur-X XML the library finds in ``pdf`` (and checks against its XSD)."""
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == einvoice.XML_FILENAME
    return xml


def issued(customer, *lines: tuple[str, str, int]) -> Invoice:
    specs = [
        LineSpec(description=text, unit_price=Decimal(price), quantity=quantity)
        for text, price, quantity in lines
    ]
    draft = invoices.create_draft(customer, actor=None, lines=specs)
    return invoices.issue(draft, actor=None, notify=False)


@pytest.fixture
def french_vat(seller):
    TaxRate.objects.create(country="FR", rate=Decimal("20"))
    return seller


@pytest.fixture
def french_customer(db):
    return CustomerFactory(
        first_name="Bob",
        last_name="Owner",
        company="Owner SARL",
        legal_identifier="732 829 320 00074",
        address_line1="2 place Bellecour",
        postcode="69002",
        city="Lyon",
        country="FR",
    )


@pytest.fixture
def german_business(db):
    return CustomerFactory(
        company="Kunde GmbH",
        address_line1="Unter den Linden 1",
        postcode="10117",
        city="Berlin",
        country="DE",
        vat_number=GERMAN_VAT,
    )


@pytest.fixture
def us_customer(db):
    return CustomerFactory(
        address_line1="1 Main Street", city="Austin", state="TX", postcode="78701", country="US"
    )


# Every kind of document validates, is embedded and reads back -------------------------


def test_a_french_customer_pays_20_percent_vat_in_a_valid_embedded_en16931_invoice(
    french_vat, french_customer
):
    invoice = issued(french_customer, ("VPS M, monthly", "12.50", 2), ("Setup", "5.00", 1))
    xml = einvoice.build_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert totals(xml) == {
        "number": invoice.number,
        "type": "380",
        "net": invoice.subtotal,
        "tax": invoice.tax_total,
        "total": invoice.total,
        "due": invoice.total,
    }
    assert invoice.total == Decimal("36.00")
    assert xpath(xml, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString/@format") == [
        "102"
    ]
    # Lines: quantity in units, the net price, category S at 20 %, the line's total.
    assert xpath(xml, "//ram:BilledQuantity/@unitCode") == ["C62", "C62"]
    assert xpath(xml, "//ram:BilledQuantity") == ["2", "1"]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["12.50", "5.00"]
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:CategoryCode") == ["S", "S"]
    # One VAT breakdown row for the one rate.
    breakdown = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert xpath(xml, breakdown + "CategoryCode") == ["S"]
    assert xpath(xml, breakdown + "RateApplicablePercent") == ["20.00"]
    assert xpath(xml, breakdown + "BasisAmount") == ["30.00"]
    assert xpath(xml, breakdown + "CalculatedAmount") == ["6.00"]
    # The seller: its SIREN (scheme 0002), its address and country, its VAT number.
    seller = "//ram:SellerTradeParty/"
    assert xpath(xml, seller + "ram:Name") == ["Hosting SAS"]
    assert xpath(xml, seller + "ram:SpecifiedLegalOrganization/ram:ID") == ["123456782"]
    assert xpath(xml, seller + "ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == ["0002"]
    assert xpath(xml, seller + "ram:PostalTradeAddress/ram:CountryID") == ["FR"]
    assert xpath(xml, seller + "ram:PostalTradeAddress/ram:CityName") == ["Paris"]
    assert xpath(xml, seller + "ram:SpecifiedTaxRegistration/ram:ID") == ["FR11123456782"]
    assert xpath(xml, seller + "ram:SpecifiedTaxRegistration/ram:ID/@schemeID") == ["VA"]
    # The buyer: the company, its SIREN taken from the SIRET it gave, its address.
    buyer = "//ram:BuyerTradeParty/"
    assert xpath(xml, buyer + "ram:Name") == ["Owner SARL"]
    assert xpath(xml, buyer + "ram:SpecifiedLegalOrganization/ram:ID") == ["732829320"]
    assert xpath(xml, buyer + "ram:PostalTradeAddress/ram:PostcodeCode") == ["69002"]
    # Paid by SEPA transfer to the IBAN of the bank details, due on the due date.
    assert xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["58"]
    assert xpath(xml, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [
        "FR7630006000011234567890189"
    ]
    assert xpath(
        xml, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    ) == [timezone.localdate(invoice.due_at).strftime("%Y%m%d")]
    assert xpath(xml, "//ram:TaxTotalAmount/@currencyID") == [invoice.currency]

    pdf = render_invoice_pdf(invoice)

    assert embedded_xml(pdf) == xml
    assert totals(embedded_xml(pdf))["total"] == invoice.total


def test_a_german_business_under_reverse_charge_is_category_ae_with_its_exemption_reason(
    french_vat, german_business
):
    invoice = issued(german_business, ("Dedicated server", "99.00", 1))
    assert invoice.reverse_charge  # a checked German VAT number, sold from France
    xml = einvoice.build_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:CategoryCode") == ["AE"]
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:RateApplicablePercent") == ["0.00"]
    breakdown = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert xpath(xml, breakdown + "CategoryCode") == ["AE"]
    assert xpath(xml, breakdown + "ExemptionReasonCode") == ["VATEX-EU-AE"]
    assert "Reverse charge" in xpath(xml, breakdown + "ExemptionReason")[0]
    assert xpath(xml, breakdown + "CalculatedAmount") == ["0.00"]
    # BR-AE-02: both parties' VAT numbers.
    assert xpath(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == [GERMAN_VAT]
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == [
        "FR11123456782"
    ]
    assert totals(xml)["tax"] == Decimal("0.00")
    assert totals(xml)["total"] == invoice.total == Decimal("99.00")

    read_back = embedded_xml(render_invoice_pdf(invoice))
    assert totals(read_back)["number"] == invoice.number
    assert totals(read_back)["total"] == invoice.total


def test_a_us_customer_is_outside_the_scope_of_vat_with_no_rate_and_no_vat_numbers(
    french_vat, us_customer
):
    invoice = issued(us_customer, ("Game server", "20.00", 3))
    xml = einvoice.build_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:CategoryCode") == ["O"]
    # BR-O-05 and BR-48: no rate on the line nor in the breakdown.
    assert xpath(xml, "//ram:RateApplicablePercent") == []
    breakdown = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert xpath(xml, breakdown + "ExemptionReasonCode") == ["VATEX-EU-O"]
    assert xpath(xml, breakdown + "ExemptionReason") != [""]
    # BR-O-02: neither party's VAT number on a document outside the scope of VAT.
    assert xpath(xml, "//ram:SpecifiedTaxRegistration") == []
    assert xpath(xml, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == ["US"]
    assert totals(xml) == {
        "number": invoice.number,
        "type": "380",
        "net": Decimal("60.00"),
        "tax": Decimal("0.00"),
        "total": Decimal("60.00"),
        "due": Decimal("60.00"),
    }
    assert totals(embedded_xml(render_invoice_pdf(invoice)))["total"] == invoice.total


def test_a_credit_note_is_type_381_with_positive_amounts_and_refers_to_its_invoice(
    french_vat, french_customer
):
    invoice = issued(french_customer, ("VPS M, monthly", "12.50", 2))
    payments.record_payment(invoice, gateway="bank_transfer", amount=invoice.total, reference="T")
    note = invoices.refund(invoice, actor=None, to_balance=True, notify=False)
    assert note.total == -invoice.total  # stored negative in the panel
    xml = einvoice.build_xml(note)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert totals(xml) == {
        "number": note.number,
        "type": "381",
        "net": Decimal("25.00"),
        "tax": Decimal("5.00"),
        "total": Decimal("30.00"),
        "due": Decimal("30.00"),
    }
    assert xpath(xml, "//ram:BilledQuantity") == ["2"]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["12.50"]
    # The buyer as the invoice named it, its SIREN included.
    assert xpath(xml, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == [
        "732829320"
    ]
    reference = "//ram:InvoiceReferencedDocument/"
    assert xpath(xml, reference + "ram:IssuerAssignedID") == [invoice.number]
    assert xpath(xml, reference + "ram:FormattedIssueDateTime/qdt:DateTimeString") == [
        timezone.localdate(invoice.issued_at).strftime("%Y%m%d")
    ]

    read_back = embedded_xml(render_invoice_pdf(note))
    assert totals(read_back)["number"] == note.number
    assert totals(read_back)["type"] == "381"
    assert totals(read_back)["total"] == -note.total


def test_a_renewal_line_carries_its_billed_period(french_vat, french_customer):
    start = timezone.now() + timedelta(days=3)
    service = ServiceFactory(
        customer=french_customer, status=ServiceStatus.ACTIVE, expires_at=start
    )
    invoice = invoices.renewal_invoice(service, actor=None)
    line = invoice.lines.get(kind=LineKind.RENEWAL)
    xml = einvoice.build_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    period = "//ram:SpecifiedLineTradeSettlement/ram:BillingSpecifiedPeriod/"
    assert xpath(xml, period + "ram:StartDateTime/udt:DateTimeString") == [
        timezone.localdate(line.period_start).strftime("%Y%m%d")
    ]
    assert xpath(xml, period + "ram:EndDateTime/udt:DateTimeString") == [
        (timezone.localdate(line.period_end) - timedelta(days=1)).strftime("%Y%m%d")
    ]


@pytest.mark.parametrize("customer_kind", ["french_customer", "german_business", "us_customer"])
def test_the_basic_profile_validates_against_its_own_schema(request, french_vat, customer_kind):
    french_vat.facturx_profile = FacturXProfile.BASIC
    french_vat.save()
    invoice = issued(request.getfixturevalue(customer_kind), ("Web hosting", "7.00", 1))
    xml = einvoice.build_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")
    assert xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
    ]
    read_back = embedded_xml(render_invoice_pdf(invoice))
    assert facturx.get_level(_root(read_back)) == "basic"
    assert totals(read_back)["total"] == invoice.total


def test_the_pdf_of_an_issued_invoice_is_pdf_a_3(french_vat, french_customer):
    invoice = issued(french_customer, ("Web hosting", "7.00", 1))

    reader = PdfReader(io.BytesIO(render_invoice_pdf(invoice)))

    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp or 'pdfaid:part="3"' in xmp
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp


def test_a_drafts_preview_is_a_plain_pdf_without_xml(french_customer, make_invoice):
    draft = make_invoice(french_customer, issue=False)

    pdf = render_invoice_pdf(draft)

    assert list(PdfReader(io.BytesIO(pdf)).attachment_list) == []
    with pytest.raises(ValueError, match="draft"):
        einvoice.build_xml(draft)


# Refused at issue while a required detail is missing -----------------------------------


def test_an_invoice_is_refused_when_the_companys_legal_identifier_is_missing(
    french_customer, make_invoice
):
    company = CompanyProfile.current()
    company.legal_identifier = ""
    company.save()
    draft = make_invoice(french_customer, issue=False)

    with pytest.raises(BillingError) as refused:
        invoices.issue(draft, actor=None, notify=False)

    assert "the company's legal identifier (SIREN)" in refused.value.message
    assert "EN 16931" in refused.value.message
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT
    assert draft.number is None
    assert not InvoiceSequence.objects.filter(last__gt=0).exists()  # no number consumed

    company.legal_identifier = COMPANY["legal_identifier"]
    company.save()
    assert invoices.issue(draft, actor=None, notify=False).number.endswith("-000001")


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("name", "the company's name"),
        ("address", "the company's address"),
        ("country", "the company's country"),
        ("vat_number", "the company's VAT number"),
    ],
)
def test_every_missing_detail_of_the_company_is_named(
    french_vat, french_customer, make_invoice, field, named
):
    CompanyProfile.objects.update(**{field: ""})
    draft = make_invoice(french_customer, issue=False)

    with pytest.raises(BillingError, match=named):
        invoices.issue(draft, actor=None, notify=False)


def test_a_customer_without_a_country_is_named(make_invoice):
    customer = CustomerFactory(country="")
    draft = make_invoice(customer, issue=False)

    with pytest.raises(BillingError, match="the customer's country"):
        invoices.issue(draft, actor=None, notify=False)


def test_an_invoice_outside_the_scope_of_vat_needs_no_company_vat_number(us_customer, make_invoice):
    CompanyProfile.objects.update(vat_number="")

    invoice = make_invoice(us_customer)

    assert invoice.status == InvoiceStatus.UNPAID
    assert facturx.xml_check_xsd(einvoice.build_xml(invoice), flavor="factur-x", level="en16931")


def test_staff_see_why_an_invoice_cannot_be_issued(client, billing_agent, customer, make_invoice):
    CompanyProfile.objects.update(legal_identifier="")
    draft = make_invoice(customer, issue=False)
    client.force_login(billing_agent)

    response = client.post(reverse("admin:invoice_issue", args=[draft.pk]))

    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("the company's legal identifier (SIREN)" in message for message in shown)
    draft.refresh_from_db()
    assert draft.is_draft


def test_a_renewal_invoice_the_automation_cannot_issue_is_a_failure_with_the_reason(customer):
    CompanyProfile.objects.update(legal_identifier="")
    service = ServiceFactory(
        customer=customer,
        status=ServiceStatus.ACTIVE,
        expires_at=timezone.now() + timedelta(days=1),
    )

    run = runner.run_now("billing.renewal_invoices")

    assert (run.done, run.failed) == (0, 1)
    assert run.failures[0]["pk"] == service.pk
    assert "the company's legal identifier (SIREN)" in run.failures[0]["message"]
    # Nothing half-made: no draft holds the service's one open renewal line.
    assert not Invoice.objects.exists()


def test_a_renewal_invoice_staff_cannot_issue_leaves_no_draft_behind(customer):
    CompanyProfile.objects.update(address="")
    service = ServiceFactory(
        customer=customer,
        status=ServiceStatus.ACTIVE,
        expires_at=timezone.now() + timedelta(days=10),
    )

    with pytest.raises(BillingError, match="the company's address"):
        invoices.renewal_invoice(service, actor=None)

    assert not Invoice.objects.exists()


# The company settings -------------------------------------------------------------------


def company_form(**fields) -> CompanyProfileForm:
    data = {
        **COMPANY,
        "invoice_prefix": "INV",
        "credit_note_prefix": "CN",
        "payment_terms_days": "14",
        "facturx_profile": FacturXProfile.EN16931,
        **fields,
    }
    return CompanyProfileForm(data, instance=CompanyProfile.current())


def test_the_company_form_checks_and_compacts_a_siren_and_its_siret(db):
    form = company_form(legal_identifier="123 456 782", siret="123 456 782 00010")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["legal_identifier"] == "123456782"
    assert form.cleaned_data["siret"] == "12345678200010"


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"legal_identifier": "123 456 789"}, "legal_identifier"),  # wrong check digit
        ({"legal_identifier": "SIREN 999"}, "legal_identifier"),
        ({"siret": "123"}, "siret"),
        ({"siret": "73282932000074"}, "siret"),  # another company's establishment
    ],
)
def test_the_company_form_refuses_a_wrong_siren_or_siret(db, fields, error_field):
    form = company_form(**fields)

    assert not form.is_valid()
    assert error_field in form.errors


def test_another_register_takes_its_number_as_typed(db):
    form = company_form(legal_identifier="HRB 12345", legal_identifier_scheme="")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["legal_identifier"] == "HRB 12345"


# Downloads -------------------------------------------------------------------------------


def test_staff_download_the_xml_alone(client, support_user, french_vat, french_customer):
    invoice = issued(french_customer, ("Web hosting", "7.00", 1))
    client.force_login(support_user)

    response = client.get(reverse("admin:invoice_facturx", args=[invoice.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{invoice.number}-factur-x.xml"'
    )
    assert facturx.xml_check_xsd(response.content, flavor="factur-x", level="en16931")
    assert totals(response.content)["number"] == invoice.number


def test_the_staff_invoice_page_links_the_xml_of_an_issued_invoice_only(
    client, billing_agent, customer, make_invoice
):
    invoice = make_invoice(customer)
    draft = make_invoice(customer, issue=False)
    client.force_login(billing_agent)
    xml_url = reverse("admin:invoice_facturx", args=[invoice.pk])

    assert xml_url in client.get(reverse("admin:invoice_detail", args=[invoice.pk])).text
    assert (
        'id="invoice-facturx"'
        not in client.get(reverse("admin:invoice_detail", args=[draft.pk])).text
    )


def test_a_draft_has_no_xml(client, billing_agent, customer, make_invoice):
    draft = make_invoice(customer, issue=False)
    client.force_login(billing_agent)

    response = client.get(reverse("admin:invoice_facturx", args=[draft.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(("persona", "status"), [("plain_staff", 403), ("customer", 403)])
def test_the_xml_is_refused_to_whoever_may_not_read_invoices(
    client, request, customer, make_invoice, persona, status
):
    invoice = make_invoice(customer)
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    response = client.get(reverse("admin:invoice_facturx", args=[invoice.pk]))

    assert response.status_code == status


def test_anonymous_is_sent_to_sign_in_for_the_xml(client, customer, make_invoice):
    invoice = make_invoice(customer)

    response = client.get(reverse("admin:invoice_facturx", args=[invoice.pk]))

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_the_customer_downloads_the_pdf_with_the_xml_in_it(client, customer, make_invoice):
    invoice = make_invoice(customer, Decimal("12.00"))
    client.force_login(customer.user)

    response = client.get(reverse("client:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200
    read_back = totals(embedded_xml(response.content))
    assert (read_back["number"], read_back["total"]) == (invoice.number, invoice.total)
