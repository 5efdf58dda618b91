"""VAT numbers and legal identifiers checked when they are entered (issue 17, point 3 and the
customer half of point 4): format and check digit per country with python-stdnum, in the
client-area profile and the staff customer form alike, and refused with the reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers import vat
from customers.choices import VatStatus
from customers.models import Customer
from tests.customers.test_account import profile_data
from tests.customers.test_admin_customers import edit_data

#: (country, as typed, as stored): real-format numbers whose check digit is right.
VALID = [
    ("FR", "FR 40 303 265 045", "FR40303265045"),
    ("FR", "40303265045", "FR40303265045"),
    ("DE", "de136695976", "DE136695976"),
    ("DE", "136.695.976", "DE136695976"),
    ("BE", "BE 0403.170.701", "BE0403170701"),
    ("IT", "IT00743110157", "IT00743110157"),
    ("NL", "NL004495445B01", "NL004495445B01"),
    ("ES", "ES-A28015865", "ESA28015865"),
    ("ES", "A28015865", "ESA28015865"),
    ("GR", "EL094259216", "EL094259216"),
    ("GR", "GR094259216", "EL094259216"),  # Greece's ISO code read, its VAT prefix stored
    ("GR", "094259216", "EL094259216"),
]
#: (country, as typed, what the message says after "... for <country>: ").
INVALID = [
    ("FR", "FR12345678901", "France: the check digit is wrong"),
    ("DE", "DE136695977", "Germany: the check digit is wrong"),
    ("DE", "DE13669597", "Germany: it has the wrong number of characters"),
    ("BE", "BE0403170702", "Belgium: the check digit is wrong"),
    ("IT", "IT00743110158", "Italy: the check digit is wrong"),
    ("NL", "NL004495445A01", "Netherlands: it is not written the way"),
    ("ES", "ESA2801586X", "Spain:"),
    ("GR", "EL094259217", "Greece: the check digit is wrong"),
]


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_a_valid_number_is_compacted_with_its_countrys_prefix(country, typed, stored):
    assert vat.normalise(typed, country) == stored


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_a_wrong_number_is_refused_with_the_reason(country, typed, reason):
    with pytest.raises(ValidationError) as refused:
        vat.normalise(typed, country)

    [message] = refused.value.messages
    assert message.startswith(f"This is not a valid VAT number for {reason}")


@pytest.mark.parametrize(
    ("country", "typed", "named"),
    [
        ("DE", "FR40303265045", "France"),
        ("FR", "DE136695976", "Germany"),
        ("DE", "EL094259216", "Greece"),
        ("FR", "GB980780684", "United Kingdom"),
    ],
)
def test_a_number_of_another_country_is_refused_naming_both(country, typed, named):
    with pytest.raises(ValidationError) as refused:
        vat.normalise(typed, country)

    [message] = refused.value.messages
    assert message.startswith(f"This VAT number is from {named}, but the country given is")
    assert refused.value.error_list[0].code == "vat_wrong_country"


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "GB 980 7806 84", "GB980780684"),  # stdnum.gb.vat
        ("GB", "XI980780684", "XI980780684"),  # Northern Ireland's EU prefix
        ("CH", "CHE-116.281.710 MWST", "CHE116281710MWST"),  # stdnum.ch.vat
        ("NO", "NO 974 760 673 MVA", "NO974760673MVA"),  # stdnum.no.mva
        ("US", "12-3456789", "123456789"),  # no module: kept as typed, compacted
    ],
)
def test_numbers_from_outside_the_eu_are_checked_by_their_countrys_module_if_any(
    country, typed, stored
):
    assert vat.normalise(typed, country) == stored


def test_a_non_eu_number_its_module_refuses_is_refused():
    with pytest.raises(ValidationError, match="not a valid VAT number for United Kingdom"):
        vat.normalise("GB980780685", "GB")


def test_a_number_needs_a_country_and_only_letters_and_digits():
    with pytest.raises(ValidationError, match="Choose the country first"):
        vat.normalise("DE136695976", "")
    with pytest.raises(ValidationError, match="letters and digits only"):
        vat.normalise("DE<script>", "DE")
    assert vat.normalise("  ", "DE") == ""


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("FR", "732 829 320", "732829320"),  # SIREN
        ("FR", "732 829 320 00074", "73282932000074"),  # SIRET
        ("DE", "HRB 12345", "HRB12345"),  # other countries: kept, compacted
    ],
)
def test_legal_identifiers_are_compacted_and_french_ones_checked(country, typed, stored):
    assert vat.normalise_legal_id(typed, country) == stored


def test_a_wrong_siren_is_refused():
    with pytest.raises(ValidationError, match="not a valid SIREN .* the check digit is wrong"):
        vat.normalise_legal_id("732829321", "FR")


# The client-area profile -----------------------------------------------------------------


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer.user)
    return customer


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_the_profile_stores_a_valid_number_compacted(client, signed_in, country, typed, stored):
    response = client.post(
        reverse("client:account"),
        profile_data(country=country, vat_number=typed, legal_identifier=""),
    )

    assert response.status_code == 302
    customer = Customer.objects.get(pk=signed_in.pk)
    assert customer.vat_number == stored
    assert customer.current_vat_status == VatStatus.FORMAT_VALID
    assert customer.vat_checked_at is not None


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_the_profile_refuses_a_wrong_number_with_the_reason(
    client, signed_in, country, typed, reason
):
    response = client.post(
        reverse("client:account"), profile_data(country=country, vat_number=typed)
    )

    assert response.status_code == 200
    assert f"This is not a valid VAT number for {reason}" in response.text
    assert Customer.objects.get(pk=signed_in.pk).vat_number == ""


def test_the_profile_refuses_a_number_of_another_country(client, signed_in):
    response = client.post(
        reverse("client:account"), profile_data(country="DE", vat_number="FR40303265045")
    )

    assert response.status_code == 200
    assert "This VAT number is from France, but the country given is Germany" in response.text
    assert Customer.objects.get(pk=signed_in.pk).country.code == "FR"  # nothing saved


def test_the_profile_keeps_the_business_details_and_checks_the_siren(client, signed_in):
    refused = client.post(reverse("client:account"), profile_data(legal_identifier="732 829 321"))
    assert refused.status_code == 200
    assert "not a valid SIREN (9 digits) or SIRET (14 digits)" in refused.text

    client.post(
        reverse("client:account"),
        profile_data(
            company="Owner SARL", vat_number="FR40303265045", legal_identifier="732829320"
        ),
    )

    customer = Customer.objects.get(pk=signed_in.pk)
    assert (customer.company, customer.vat_number, customer.legal_identifier) == (
        "Owner SARL",
        "FR40303265045",
        "732829320",
    )
    page = client.get(reverse("client:account"))
    assert 'value="732829320"' in page.text
    assert 'value="FR40303265045"' in page.text


def test_the_customer_never_sees_the_check_status_or_staffs_reason(client, signed_in):
    signed_in.vat_number = signed_in.vat_checked_number = "FR40303265045"
    signed_in.vat_status = VatStatus.VIES_UNAVAILABLE
    signed_in.vat_check_message = "VIES unavailable on 2026-01-01 10:00: MS_UNAVAILABLE"
    signed_in.save()

    page = client.get(reverse("client:account"))

    assert page.status_code == 200
    assert "MS_UNAVAILABLE" not in page.text
    assert "VIES" not in page.text


def test_a_customer_changes_only_their_own_business_details(client, signed_in, other_customer):
    other_customer.vat_number = "DE136695976"
    other_customer.country = "DE"
    other_customer.save()

    client.post(
        reverse("client:account"),
        profile_data(
            vat_number="FR40303265045", pk=str(other_customer.pk), user=str(other_customer.pk)
        ),
    )

    other_customer.refresh_from_db()
    assert other_customer.vat_number == "DE136695976"
    assert Customer.objects.get(pk=signed_in.pk).vat_number == "FR40303265045"
    # Another customer's details are on staff pages only, which refuse a customer, and on
    # their invoices, which are not found for anyone else.
    assert client.get(reverse("admin:customer_detail", args=[other_customer.pk])).status_code == 403
    assert client.get(reverse("admin:customer_edit", args=[other_customer.pk])).status_code == 403
    assert (
        client.post(reverse("admin:customer_vat_check", args=[other_customer.pk])).status_code
        == 403
    )


# The staff form --------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_staff_store_a_valid_number_compacted(client, admin_user, customer, country, typed, stored):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, country=country, vat_number=typed, legal_identifier=""),
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.vat_number == stored
    assert customer.current_vat_status == VatStatus.FORMAT_VALID


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_staff_are_refused_a_wrong_number_with_the_reason(
    client, admin_user, customer, country, typed, reason
):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, country=country, vat_number=typed),
    )

    assert response.status_code == 200
    assert f"This is not a valid VAT number for {reason}" in response.text
    customer.refresh_from_db()
    assert customer.vat_number == ""


def test_staff_create_a_business_customer_with_its_checked_number(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_create"),
        {
            "email": "gmbh@example.de",
            "first_name": "Greta",
            "last_name": "Gross",
            "company": "Spiele GmbH",
            "vat_number": "de 136 695 976",
            "legal_identifier": "HRB 12345",
            "country": "DE",
            "language": "en",
            "password1": "",
            "password2": "",
        },
    )

    assert response.status_code == 302
    customer = Customer.objects.get(user__email="gmbh@example.de")
    assert (customer.vat_number, customer.legal_identifier) == ("DE136695976", "HRB12345")
    assert customer.current_vat_status == VatStatus.FORMAT_VALID


def test_changing_the_number_resets_a_vies_answer(client, admin_user, customer):
    customer.country = "DE"
    customer.vat_number = customer.vat_checked_number = "DE136695976"
    customer.vat_status = VatStatus.VIES_VALID
    customer.vat_registered_name = "SPIELE GMBH"
    customer.save()
    client.force_login(admin_user)

    client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, vat_number="DE123456788"),
    )

    customer.refresh_from_db()
    assert customer.vat_number == "DE123456788"
    assert customer.current_vat_status == VatStatus.FORMAT_VALID
    assert customer.vat_registered_name == ""


def test_a_number_changed_behind_the_forms_back_is_not_taken_for_checked(customer):
    customer.country = "DE"
    customer.vat_number = customer.vat_checked_number = "DE136695976"
    customer.vat_status = VatStatus.VIES_VALID
    customer.save()

    Customer.objects.filter(pk=customer.pk).update(vat_number="DE123456788")
    customer.refresh_from_db()

    assert customer.current_vat_status == VatStatus.UNCHECKED
