"""Factur-X: the EN 16931 e-invoice embedded in every issued invoice and credit note
(issue 17).

An issued document's PDF is a PDF/A-3 carrying ``factur-x.xml``, a UN/CEFACT Cross
Industry Invoice (CII D16B) in the profile the company chose (EN 16931 or BASIC). The
XML is built here with lxml, element by element in the order the schemas fix; the
``factur-x`` library validates it against the official XSD of the profile and embeds it
(``generate_from_binary``), and reads it back (``get_xml_from_pdf``). The library's own
builder from a dict of business terms (``generate_cii_xml``, 5.0 and later) is not used:
its dict changed shape in every release since, while the CII structure is a fixed
standard, and the checks before issue (``missing_fields``) need the same reading of the
invoice as the XML anyway.

What the document says comes from the invoice as it was issued: its frozen customer
(``billing_*``) and seller (``seller``, the company's details on the day of issue), lines,
rates and totals, as the PDF does; the company's settings as they are today play no part,
so changing them never changes a document already issued.

Amounts: a credit note is stored with negative lines and totals (``invoices.refund``);
EN 16931 wants a credit note (type 381) with positive amounts, the sign being the
document's type, so a credit note's amounts are turned over here.

VAT categories (UNTDID 5305), one per line, from what issue decided:

* ``AE`` reverse charge (EU business customer, ``invoice.reverse_charge``): rate 0, with
  the exemption reason and its code VATEX-EU-AE;
* ``S`` standard rate: any rate above 0;
* ``O`` outside the scope of EU VAT: no rate charged to a customer outside the EU; such a
  document names no VAT number of either party (rule BR-O-02);
* ``Z`` zero rate: no rate charged to a customer inside the EU (the company set 0 %).

The schematron business rules (BR-*) need a Saxon server the library calls over HTTP,
which the panel does not run; the rules this module depends on are followed in code and
named where they apply.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from lxml import etree
from stdnum import iban as iban_number

from .choices import FacturXProfile, InvoiceKind, LegalIdentifierScheme
from .models import ZERO, CompanyProfile, Invoice, InvoiceLine, Seller
from .taxes import CENT, EU_COUNTRIES, REVERSE_CHARGE_NOTE

#: The name of the embedded file that the Factur-X specification fixes.
XML_FILENAME = "factur-x.xml"

#: BT-24, the specification identifier of each profile.
GUIDELINES = {
    FacturXProfile.EN16931: "urn:cen.eu:en16931:2017",
    FacturXProfile.BASIC: "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
}

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

#: UNTDID 1001 document types.
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
#: UNTDID 4461: SEPA credit transfer.
PAYMENT_SEPA_TRANSFER = "58"
#: UN/ECE recommendation 20: "one", a unit of anything (a month of hosting, a setup).
UNIT_ONE = "C62"
#: ISO 6523 code of the SIRET (an establishment of a French company).
SIRET_SCHEME = "0009"

STANDARD, REVERSE_CHARGE, OUTSIDE_SCOPE, ZERO_RATED = "S", "AE", "O", "Z"
OUTSIDE_SCOPE_NOTE = "Not subject to VAT: service supplied to a customer outside the EU."
EXEMPTION_CODES = {REVERSE_CHARGE: "VATEX-EU-AE", OUTSIDE_SCOPE: "VATEX-EU-O"}


@dataclass(frozen=True)
class VatCategory:
    """A line's VAT category, rate (None: the category has none) and exemption reason."""

    code: str
    rate: Decimal | None
    reason: str = ""

    @property
    def reason_code(self) -> str:
        return EXEMPTION_CODES.get(self.code, "")


def vat_category(invoice: Invoice, line: InvoiceLine) -> VatCategory:
    """The category of ``line`` on ``invoice``, from the tax decided at issue."""
    if invoice.reverse_charge:
        return VatCategory(REVERSE_CHARGE, ZERO, invoice.tax_note or REVERSE_CHARGE_NOTE)
    if line.tax_rate > 0:
        return VatCategory(STANDARD, line.tax_rate)
    if str(invoice.billing_country) not in EU_COUNTRIES:
        return VatCategory(OUTSIDE_SCOPE, None, invoice.tax_note or OUTSIDE_SCOPE_NOTE)
    return VatCategory(ZERO_RATED, ZERO)


def profile_label(seller: Seller | CompanyProfile) -> str:
    return str(FacturXProfile(seller.facturx_profile).label)


# What the profile requires -------------------------------------------------------------

#: Each missing detail is named for a person, in the language active when it is shown
#: (lazy): the company's details, which staff complete (``invoices`` sends staff, not a
#: customer, to the company's settings), then the customer's.
COMPANY_NAME = _("the company's name")
COMPANY_ADDRESS = _("the company's address")
COMPANY_COUNTRY = _("the company's country")
COMPANY_SIREN = _("the company's legal identifier (SIREN)")
COMPANY_IDENTIFIER = _("the company's legal identifier or VAT number")
COMPANY_VAT_NUMBER = _("the company's VAT number")
COMPANY_DETAILS = (
    COMPANY_NAME,
    COMPANY_ADDRESS,
    COMPANY_COUNTRY,
    COMPANY_SIREN,
    COMPANY_IDENTIFIER,
    COMPANY_VAT_NUMBER,
)
CUSTOMER_NAME = _("the customer's name")
CUSTOMER_COUNTRY = _("the customer's country")
CUSTOMER_VAT_NUMBER = _("the customer's VAT number")


def is_company_detail(detail: StrOrPromise) -> bool:
    """Whether a missing detail named by ``missing_fields`` is the company's."""
    return any(detail is known for known in COMPANY_DETAILS)


def _missing_seller(seller: Seller) -> list[StrOrPromise]:
    """The seller's details every e-invoice needs, whoever it is for."""
    missing: list[StrOrPromise] = []
    if not seller.name.strip():
        missing.append(COMPANY_NAME)
    if not seller.address.strip():
        missing.append(COMPANY_ADDRESS)
    if not seller.country:
        missing.append(COMPANY_COUNTRY)
    if not seller.legal_identifier.strip():
        if seller.country == "FR":
            missing.append(COMPANY_SIREN)
        elif not seller.vat_number.strip():
            missing.append(COMPANY_IDENTIFIER)
    return missing


def missing_company_details(company: CompanyProfile | None = None) -> list[StrOrPromise]:
    """The company's details that stop invoices from being issued, each named for a person;
    [] when the company is complete. One query (the company's row), for a warning on staff
    pages: an order a customer places is refused while one is missing.

    The VAT number is named for a company in the EU: every sale to a customer in the EU
    (taxed, zero-rated or reverse charged) needs it, so such a company cannot do without
    it; a company outside the EU needs it only for some invoices, which ``missing_fields``
    names when one is issued.
    """
    seller = (company or CompanyProfile.current()).as_seller()
    missing = _missing_seller(seller)
    if seller.country in EU_COUNTRIES and not seller.vat_number.strip():
        missing.append(COMPANY_VAT_NUMBER)
    return missing


def missing_fields(
    invoice: Invoice, seller: Seller, lines: Iterable[InvoiceLine] | None = None
) -> list[StrOrPromise]:
    """What the e-invoice of ``invoice`` sold by ``seller`` needs and does not have, each
    named for a person; [] when it can be issued. ``invoice`` carries its customer's
    details and its rates already (``invoices.issue`` asks after freezing them, before
    taking a number).

    The rules are EN 16931's (the same for the BASIC profile), and French law's for a
    French seller: a name and an address with its country for both parties (BT-27,
    BT-40, BT-44, BT-55), the seller's SIREN in France (and some identifier anywhere,
    BR-CO-26), the seller's VAT number when a line is taxed or reverse charged
    (BR-S-02, BR-Z-02, BR-AE-02), and the buyer's under reverse charge (BR-AE-02).
    ``lines`` are the invoice's, when they are not saved yet (a batch's, say).
    """
    missing = _missing_seller(seller)
    if lines is None:
        lines = invoice.lines.all()
    codes = {vat_category(invoice, line).code for line in lines}
    if codes & {STANDARD, ZERO_RATED, REVERSE_CHARGE} and not seller.vat_number.strip():
        missing.append(COMPANY_VAT_NUMBER)
    if not (invoice.billing_company.strip() or invoice.billing_name.strip()):
        missing.append(CUSTOMER_NAME)
    if not invoice.billing_country:
        missing.append(CUSTOMER_COUNTRY)
    if REVERSE_CHARGE in codes and not invoice.billing_vat_number.strip():
        missing.append(CUSTOMER_VAT_NUMBER)
    return missing


# Building the XML ----------------------------------------------------------------------


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    """A ``ram:`` child of ``parent`` with ``text`` and ``attributes``."""
    element = etree.SubElement(parent, _q(RAM, name), attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: Any, name: str, moment: dt.datetime | dt.date, *, namespace: str = UDT) -> Any:
    """``<ram:name><udt:DateTimeString format="102">YYYYMMDD</...>``: the local date."""
    day = timezone.localdate(moment) if isinstance(moment, dt.datetime) else moment
    holder = _sub(parent, name)
    leaf = etree.SubElement(holder, _q(namespace, "DateTimeString"), {"format": "102"})
    leaf.text = day.strftime("%Y%m%d")
    return holder


def _amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _percent(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


_POSTCODE_CITY = re.compile(r"^(?P<postcode>\d[\d-]{2,9})\s+(?P<city>\S.*)$")


def _address(parent: Any, text: str, country: str) -> None:
    """``PostalTradeAddress`` from an address typed as lines: a line that starts with a
    postcode ("75001 Paris") gives the postcode and the city; the others, in order, the
    address lines (the third takes what is left)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    postcode = city = ""
    for index in range(len(lines) - 1, -1, -1):
        match = _POSTCODE_CITY.match(lines[index])
        if match:
            postcode, city = match["postcode"], match["city"]
            del lines[index]
            break
    if len(lines) > 3:
        lines = [lines[0], lines[1], ", ".join(lines[2:])]
    address = _sub(parent, "PostalTradeAddress")
    if postcode:
        _sub(address, "PostcodeCode", postcode)
    for name, line in zip(("LineOne", "LineTwo", "LineThree"), lines, strict=False):
        _sub(address, name, line)
    if city:
        _sub(address, "CityName", city)
    _sub(address, "CountryID", country)


def _legal_organization(parent: Any, identifier: str, scheme: str) -> None:
    if not identifier:
        return
    organization = _sub(parent, "SpecifiedLegalOrganization")
    if scheme:
        _sub(organization, "ID", identifier, schemeID=scheme)
    else:
        _sub(organization, "ID", identifier)


def _seller(agreement: Any, company: Seller, *, with_vat: bool) -> None:
    seller = _sub(agreement, "SellerTradeParty")
    siret = _digits(company.siret)
    if siret:
        _sub(seller, "GlobalID", siret, schemeID=SIRET_SCHEME)
    _sub(seller, "Name", company.name)
    scheme = company.legal_identifier_scheme
    identifier = company.legal_identifier.strip()
    if scheme == LegalIdentifierScheme.SIREN:
        identifier = _digits(identifier)
    _legal_organization(seller, identifier, scheme)
    _address(seller, company.address, company.country)
    if company.email:
        communication = _sub(seller, "URIUniversalCommunication")
        _sub(communication, "URIID", company.email, schemeID="EM")
    if with_vat and company.vat_number.strip():
        registration = _sub(seller, "SpecifiedTaxRegistration")
        _sub(registration, "ID", _compact_vat(company.vat_number), schemeID="VA")


def _compact_vat(number: str) -> str:
    return re.sub(r"[\s.\-]", "", number).upper()


def _buyer(agreement: Any, invoice: Invoice, *, with_vat: bool, profile: str) -> None:
    buyer = _sub(agreement, "BuyerTradeParty")
    _sub(buyer, "Name", invoice.billing_company or invoice.billing_name)
    identifier = invoice.billing_legal_identifier.strip()
    if identifier:
        digits = _digits(identifier)
        if str(invoice.billing_country) == "FR" and len(digits) in (9, 14):
            # A SIRET starts with its company's SIREN, which is what BT-47 names.
            _legal_organization(buyer, digits[:9], LegalIdentifierScheme.SIREN)
        else:
            _legal_organization(buyer, identifier, "")
    if invoice.billing_company and profile == FacturXProfile.EN16931:
        contact = _sub(buyer, "DefinedTradeContact")
        _sub(contact, "PersonName", invoice.billing_name)
    _address(buyer, invoice.billing_address, str(invoice.billing_country))
    if with_vat and invoice.billing_vat_number.strip():
        registration = _sub(buyer, "SpecifiedTaxRegistration")
        _sub(registration, "ID", _compact_vat(invoice.billing_vat_number), schemeID="VA")


_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30})\b")
_BIC = re.compile(r"\bBIC\b[\s:]*([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b")


def bank_account(details: str) -> tuple[str, str]:
    """The IBAN (checked) and the BIC found in the company's bank details, or ""."""
    found = ""
    for match in _IBAN.finditer(details.upper()):
        candidate = iban_number.compact(match.group(1))
        # The pattern may run into the next word ("… 189 BIC"): shorten until it checks.
        while len(candidate) >= 15 and not iban_number.is_valid(candidate):
            candidate = candidate[:-1]
        if iban_number.is_valid(candidate):
            found = candidate
            break
    bic = _BIC.search(details.upper())
    return found, bic.group(1) if bic else ""


@dataclass
class _Breakdown:
    category: VatCategory
    basis: Decimal = ZERO
    tax: Decimal = ZERO


def build_xml(invoice: Invoice) -> bytes:
    """The CII XML of the issued ``invoice``, in the profile and with the seller frozen at
    its issue, as UTF-8 bytes."""
    if invoice.is_draft or not invoice.number or invoice.issued_at is None:
        raise ValueError(f"{invoice} is a draft: only an issued document has an e-invoice.")
    company = invoice.seller_details()
    profile = company.facturx_profile
    credit_note = invoice.kind == InvoiceKind.CREDIT_NOTE
    sign = Decimal(-1) if credit_note else Decimal(1)
    lines = list(invoice.lines.all())
    categories = [vat_category(invoice, line) for line in lines]
    # BR-O-02: a document outside the scope of VAT names no VAT number of either party.
    with_vat = any(category.code != OUTSIDE_SCOPE for category in categories)

    root = etree.Element(_q(RSM, "CrossIndustryInvoice"), nsmap=NSMAP)
    context = etree.SubElement(root, _q(RSM, "ExchangedDocumentContext"))
    guideline = _sub(context, "GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ID", GUIDELINES[FacturXProfile(profile)])

    document = etree.SubElement(root, _q(RSM, "ExchangedDocument"))
    _sub(document, "ID", invoice.number)
    _sub(document, "TypeCode", TYPE_CREDIT_NOTE if credit_note else TYPE_INVOICE)
    _date(document, "IssueDateTime", invoice.issued_at)
    if invoice.notes.strip():
        note = _sub(document, "IncludedNote")
        _sub(note, "Content", invoice.notes.strip())

    transaction = etree.SubElement(root, _q(RSM, "SupplyChainTradeTransaction"))
    breakdown: dict[tuple[str, Decimal | None], _Breakdown] = {}
    line_total = ZERO
    for number, (line, category) in enumerate(zip(lines, categories, strict=True), start=1):
        net = line.subtotal * sign
        line_total += net
        entry = breakdown.setdefault((category.code, category.rate), _Breakdown(category))
        entry.basis += net
        entry.tax += line.tax_amount * sign
        _line(transaction, number, line, category, sign=sign)

    agreement = _sub(transaction, "ApplicableHeaderTradeAgreement")
    _seller(agreement, company, with_vat=with_vat)
    _buyer(agreement, invoice, with_vat=with_vat, profile=profile)
    # Hosting is a service: no delivery; the billed periods are on the lines (BT-134/135).
    _sub(transaction, "ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ApplicableHeaderTradeSettlement")
    if not credit_note:
        _sub(settlement, "PaymentReference", invoice.number)
    _sub(settlement, "InvoiceCurrencyCode", invoice.currency)
    account, bic = bank_account(company.bank_details)
    if account and not credit_note:
        means = _sub(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "TypeCode", PAYMENT_SEPA_TRANSFER)
        creditor = _sub(means, "PayeePartyCreditorFinancialAccount")
        _sub(creditor, "IBANID", account)
        if bic and profile == FacturXProfile.EN16931:
            institution = _sub(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _sub(institution, "BICID", bic)
    for entry in breakdown.values():
        _tax(settlement, entry.category, basis=entry.basis, tax=entry.tax)
    terms = _sub(settlement, "SpecifiedTradePaymentTerms")
    if credit_note:
        assert invoice.credit_note_for is not None  # a database constraint
        _sub(terms, "Description", f"Credit note for invoice {invoice.credit_note_for.number}.")
    else:
        _sub(terms, "Description", _terms(invoice))
        if invoice.due_at is not None:
            _date(terms, "DueDateDateTime", invoice.due_at)

    tax_total = invoice.tax_total * sign
    grand_total = invoice.total * sign
    summation = _sub(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "LineTotalAmount", _amount(line_total))
    _sub(summation, "TaxBasisTotalAmount", _amount(line_total))
    _sub(summation, "TaxTotalAmount", _amount(tax_total), currencyID=invoice.currency)
    _sub(summation, "GrandTotalAmount", _amount(grand_total))
    _sub(summation, "DuePayableAmount", _amount(grand_total))

    corrected = invoice.credit_note_for
    if credit_note and corrected is not None and corrected.number:
        reference = _sub(settlement, "InvoiceReferencedDocument")
        _sub(reference, "IssuerAssignedID", corrected.number)
        if corrected.issued_at is not None:
            _date(reference, "FormattedIssueDateTime", corrected.issued_at, namespace=QDT)

    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _terms(invoice: Invoice) -> str:
    # Issuing sets the due date from the company's payment terms: an issued invoice has one
    # (staff may not clear it); the company's current terms are not the invoice's.
    if invoice.due_at is None:
        return "Payable on receipt."
    return f"Payable by {timezone.localdate(invoice.due_at).isoformat()}."


def _line(
    transaction: Any, number: int, line: InvoiceLine, category: VatCategory, *, sign: Decimal
) -> None:
    """One ``IncludedSupplyChainTradeLineItem``. The net price is never negative (BR-27):
    a line that takes money off (a credit note's, turned over, is not one) is a negative
    quantity at a positive price."""
    price = line.unit_price * sign
    quantity = Decimal(line.quantity)
    if price < 0:
        price, quantity = -price, -quantity
    item = _sub(transaction, "IncludedSupplyChainTradeLineItem")
    document = _sub(item, "AssociatedDocumentLineDocument")
    _sub(document, "LineID", str(number))
    product = _sub(item, "SpecifiedTradeProduct")
    _sub(product, "Name", line.description)
    agreement = _sub(item, "SpecifiedLineTradeAgreement")
    net_price = _sub(agreement, "NetPriceProductTradePrice")
    _sub(net_price, "ChargeAmount", _amount(price))
    delivery = _sub(item, "SpecifiedLineTradeDelivery")
    _sub(delivery, "BilledQuantity", str(quantity), unitCode=UNIT_ONE)
    settlement = _sub(item, "SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ApplicableTradeTax")
    _sub(tax, "TypeCode", "VAT")
    _sub(tax, "CategoryCode", category.code)
    if category.rate is not None:
        _sub(tax, "RateApplicablePercent", _percent(category.rate))
    if line.period_start is not None and line.period_end is not None:
        period = _sub(settlement, "BillingSpecifiedPeriod")
        _date(period, "StartDateTime", line.period_start)
        # The period ends where the next begins: its last day is the day before.
        _date(period, "EndDateTime", timezone.localdate(line.period_end) - dt.timedelta(days=1))
    summation = _sub(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "LineTotalAmount", _amount(line.subtotal * sign))


def _tax(settlement: Any, category: VatCategory, *, basis: Decimal, tax: Decimal) -> None:
    """One row of the VAT breakdown (BG-23)."""
    row = _sub(settlement, "ApplicableTradeTax")
    _sub(row, "CalculatedAmount", _amount(tax))
    _sub(row, "TypeCode", "VAT")
    if category.reason:
        _sub(row, "ExemptionReason", category.reason)
    _sub(row, "BasisAmount", _amount(basis))
    _sub(row, "CategoryCode", category.code)
    if category.reason_code:
        _sub(row, "ExemptionReasonCode", category.reason_code)
    # BR-48: every row has a rate, but outside the scope of VAT.
    if category.rate is not None:
        _sub(row, "RateApplicablePercent", _percent(category.rate))


# Validating and embedding --------------------------------------------------------------


def validate(xml: bytes, profile: str) -> None:
    """Raise when ``xml`` breaks the official XSD of ``profile``."""
    import facturx

    facturx.xml_check_xsd(xml, flavor="factur-x", level=profile)


def embed(pdf: bytes, invoice: Invoice) -> bytes:
    """The PDF/A-3 ``pdf`` of ``invoice`` with its XML embedded as ``factur-x.xml`` and the
    Factur-X metadata: checked against the XSD of the profile frozen at issue on the way,
    so a document that breaks the schema is never handed out."""
    import facturx

    xml = build_xml(invoice)
    result = facturx.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level=invoice.seller_details().facturx_profile,
        check_xsd=True,
        lang=_language(invoice),
    )
    return bytes(result)


def _language(invoice: Invoice) -> str:
    language = getattr(invoice.customer, "language", "") or "en"
    return str(language)


def xml_filename(invoice: Invoice) -> str:
    """The downloaded XML's name: the document's number."""
    return f"{invoice.number or f'draft-{invoice.pk}'}-factur-x.xml"
