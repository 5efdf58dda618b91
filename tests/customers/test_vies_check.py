"""The optional VIES check of customers' VAT numbers against a fake VIES on 127.0.0.1 (issue
17, point 3): the switch, the task queued once a changed number is committed, its answers
(valid, invalid, unavailable) stored and shown to staff, and the reverse charge that rests
on a number only once it passed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from automation import options
from billing import invoices
from billing.invoices import LineSpec
from billing.models import CompanyProfile, TaxRate
from billing.taxes import REVERSE_CHARGE_NOTE, tax_for
from customers import tasks, vat, vies
from customers.choices import VatStatus
from customers.models import Customer
from tests.customers.test_account import profile_data
from tests.customers.test_admin_customers import edit_data
from tests.factories import CustomerFactory
from tests.fakes import vies as fake_vies
from tests.fakes.serving import FaultRule

TEN = Decimal("10.00")


@pytest.fixture
def fake(settings):
    """The fake VIES, which the panel is pointed at."""
    with fake_vies.serve() as served:
        settings.VIES_URL = served.base_url
        yield served


@pytest.fixture
def vies_on(db):
    options.change(vat.VIES_CHECK, True, actor=None)


@pytest.fixture
def seller(db) -> CompanyProfile:
    """A French company: 20% in France, 19% in Germany, 21% in Belgium."""
    profile = CompanyProfile.current()
    profile.name = "Hosting SAS"
    profile.address = "1 rue du Serveur\n75001 Paris"
    profile.country = "FR"
    profile.vat_number = "FR40303265045"
    profile.legal_identifier = "303265045"
    profile.bank_details = "IBAN FR76 3000 6000 0112 3456 7890 189"
    profile.save()
    for country, rate in (("FR", "20"), ("DE", "19"), ("BE", "21"), ("", "0")):
        TaxRate.objects.create(country=country, rate=Decimal(rate))
    return profile


def business(country: str, number: str, **fields: object) -> Customer:
    customer: Customer = CustomerFactory.create(
        country=country, vat_number=number, company="Business", **fields
    )
    return customer


def issue_invoice(customer: Customer):
    draft = invoices.create_draft(
        customer, actor=None, lines=[LineSpec(description="VPS", unit_price=TEN)]
    )
    return invoices.issue(draft, actor=None, notify=False)


# The client of VIES ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "name"),
    [
        ("FR40303265045", "SAS HEBERGEUR EXEMPLE"),
        ("BE0403170701", "NV VOORBEELD HOSTING"),
        ("IT00743110157", "ESEMPIO SERVER S.R.L."),
        ("NL004495445B01", "VOORBEELD SERVERS B.V."),
        ("EL094259216", "ΠΑΡΑΔΕΙΓΜΑ Α.Ε."),
        ("DE136695976", ""),  # valid, but Germany shares no name ("---")
        ("ESA28015865", ""),
    ],
)
def test_vies_says_a_registered_number_is_valid_with_its_name(fake, number, name):
    answer = vies.check(number[:2], number[2:])

    assert answer.status == VatStatus.VIES_VALID
    assert answer.name == name
    assert fake.requests[-1]["body"] == {"countryCode": number[:2], "vatNumber": number[2:]}
    assert fake.requests[-1]["path"] == "/check-vat-number"


@pytest.mark.parametrize("number", ["DE123456788", "FR11123456782", "BE0123456749"])
def test_vies_says_an_unregistered_number_is_invalid(fake, number):
    assert vies.check(number[:2], number[2:]).status == VatStatus.VIES_INVALID


@pytest.mark.parametrize(
    ("outage", "reason"),
    [
        ("MS_UNAVAILABLE", "MS_UNAVAILABLE"),
        ("MS_MAX_CONCURRENT_REQ", "MS_MAX_CONCURRENT_REQ"),
        ("SERVICE_UNAVAILABLE", "SERVICE_UNAVAILABLE"),
        (503, "HTTP 503"),
        (500, "HTTP 500"),
    ],
)
def test_an_unavailable_vies_is_never_read_as_an_invalid_number(fake, outage, reason):
    fake.outage = outage

    answer = vies.check("DE", "136695976")

    assert answer == vies.ViesAnswer(VatStatus.VIES_UNAVAILABLE, reason)


def test_a_vies_that_does_not_answer_in_time_is_unavailable(fake, monkeypatch):
    monkeypatch.setattr(vies, "READ_TIMEOUT", 0.2)
    fake.faults.append(FaultRule("/check-vat-number", hang=5))

    answer = vies.check("DE", "136695976")

    assert answer == vies.ViesAnswer(VatStatus.VIES_UNAVAILABLE, "no answer in time")


def test_a_vies_that_cannot_be_reached_is_unavailable(settings):
    with fake_vies.serve() as gone:
        url = gone.base_url
    settings.VIES_URL = url  # the fake stopped: nothing listens there any more

    answer = vies.check("DE", "136695976")

    assert answer.status == VatStatus.VIES_UNAVAILABLE
    assert answer.reason.startswith("could not reach VIES")


def test_invalid_input_is_an_answer_about_the_number():
    assert vies.read_answer(200, fake_vies.server.error("INVALID_INPUT")).status == (
        VatStatus.VIES_INVALID
    )
    assert vies.read_answer(200, {"isValid": False, "userError": "MS_UNAVAILABLE"}).status == (
        VatStatus.VIES_UNAVAILABLE
    )
    assert vies.read_answer(200, {"countryCode": "DE"}).status == VatStatus.VIES_UNAVAILABLE


# The task ----------------------------------------------------------------------------------


def test_the_task_stores_a_valid_answer_with_its_date_name_and_address(fake, vies_on):
    customer = business("BE", "BE0403170701")

    assert tasks.check_vat_number(customer.pk, "BE0403170701") == "vies_valid"

    customer.refresh_from_db()
    assert customer.current_vat_status == VatStatus.VIES_VALID
    assert customer.vat_checked_at is not None
    assert customer.vat_check_message.startswith("Valid in VIES on ")
    assert customer.vat_registered_name == "NV VOORBEELD HOSTING"
    assert customer.vat_registered_address == "Wetstraat 1\n1000 Brussel"


def test_the_task_stores_an_invalid_answer(fake, vies_on):
    customer = business("DE", "DE123456788")

    assert tasks.check_vat_number(customer.pk, "DE123456788") == "vies_invalid"

    customer.refresh_from_db()
    assert customer.current_vat_status == VatStatus.VIES_INVALID
    assert "not valid" in customer.vat_check_message
    assert "VAT charged" in customer.vat_check_message


def test_the_task_stores_why_vies_was_unavailable(fake, vies_on):
    fake.outage = "MS_UNAVAILABLE"
    customer = business("DE", "DE136695976")

    assert tasks.check_vat_number(customer.pk, "DE136695976") == "vies_unavailable"

    customer.refresh_from_db()
    assert customer.current_vat_status == VatStatus.VIES_UNAVAILABLE
    assert customer.vat_check_message.startswith("VIES unavailable on ")
    assert customer.vat_check_message.endswith(": MS_UNAVAILABLE; VAT charged.")


def test_the_task_leaves_a_number_changed_since_it_was_queued(fake, vies_on):
    customer = business("DE", "DE123456788")

    assert tasks.check_vat_number(customer.pk, "DE136695976") is None

    assert fake.requests == []
    customer.refresh_from_db()
    assert customer.current_vat_status == VatStatus.UNCHECKED


# Queued once the change is committed ------------------------------------------------------


def test_a_changed_number_queues_the_check_once_committed(
    client, customer, fake, vies_on, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.check_vat_number, "delay", lambda *a: queued.append(a))
    client.force_login(customer.user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(reverse("client:account"), profile_data(vat_number="FR40303265045"))

    assert len(callbacks) == 1
    assert queued == [(customer.pk, "FR40303265045")]


def test_the_queued_check_runs_against_vies_and_staff_see_it(
    client, customer, admin_user, fake, vies_on, django_capture_on_commit_callbacks, monkeypatch
):
    # The worker's part done in-process: the task queued on commit is run as it would be.
    monkeypatch.setattr(tasks.check_vat_number, "delay", tasks.check_vat_number)
    client.force_login(customer.user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("client:account"), profile_data(vat_number="FR40303265045"))

    customer.refresh_from_db()
    assert customer.current_vat_status == VatStatus.VIES_VALID
    client.force_login(admin_user)
    page = client.get(reverse("admin:customer_detail", args=[customer.pk]))
    assert "Valid in VIES" in page.text
    assert "SAS HEBERGEUR EXEMPLE" in page.text


def test_an_unchanged_number_queues_nothing(
    client, customer, vies_on, django_capture_on_commit_callbacks
):
    customer.vat_number = "FR40303265045"
    customer.save()
    client.force_login(customer.user)

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("client:account"), profile_data(vat_number="FR 40 303 265 045"))

    assert callbacks == []


def test_nothing_is_queued_while_the_switch_is_off(
    client, customer, django_capture_on_commit_callbacks
):
    client.force_login(customer.user)

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("client:account"), profile_data(vat_number="FR40303265045"))

    assert callbacks == []
    assert Customer.objects.get(pk=customer.pk).current_vat_status == VatStatus.FORMAT_VALID


def test_staff_changing_the_number_queue_the_check(
    client, admin_user, customer, vies_on, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.check_vat_number, "delay", lambda *a: queued.append(a))
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:customer_edit", args=[customer.pk]),
            edit_data(customer, country="DE", vat_number="DE136695976"),
        )

    assert queued == [(customer.pk, "DE136695976")]


# Staff: "Check again" and the customer's page ---------------------------------------------


def test_check_again_is_post_only_and_queues_even_with_the_switch_off(
    client, admin_user, fake, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.check_vat_number, "delay", tasks.check_vat_number)
    customer = business("DE", "DE136695976")
    url = reverse("admin:customer_vat_check", args=[customer.pk])
    client.force_login(admin_user)
    assert client.get(url).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)

    assert "Asked VIES about DE136695976" in response.text
    assert Customer.objects.get(pk=customer.pk).current_vat_status == VatStatus.VIES_VALID


def test_check_again_refuses_a_number_vies_does_not_know(client, admin_user):
    customer = business("US", "123456789")
    client.force_login(admin_user)

    response = client.post(reverse("admin:customer_vat_check", args=[customer.pk]), follow=True)

    assert "VIES checks EU VAT numbers only" in response.text


def test_the_button_is_offered_for_eu_numbers_to_staff_who_may_change(
    client, admin_user, support_user
):
    customer = business("DE", "DE136695976")
    url = reverse("admin:customer_vat_check", args=[customer.pk])

    client.force_login(admin_user)
    assert url in client.get(reverse("admin:customer_detail", args=[customer.pk])).text
    client.force_login(support_user)
    assert url not in client.get(reverse("admin:customer_detail", args=[customer.pk])).text


# Reverse charge only on a number that passed -------------------------------------------


def test_with_the_switch_off_a_number_with_a_right_check_digit_passes(seller):
    assert tax_for(business("DE", "DE136695976")).reverse_charge is True
    # Written directly, behind the forms' back: the wrong check digit is still caught.
    assert tax_for(business("DE", "DE123456789")).reverse_charge is False
    assert tax_for(business("DE", "DE123456789")).rate == Decimal("19")


def test_with_the_switch_off_a_number_vies_said_is_invalid_does_not_pass(seller):
    customer = business(
        "DE", "DE123456788", vat_checked_number="DE123456788", vat_status=VatStatus.VIES_INVALID
    )

    assert tax_for(customer).reverse_charge is False


@pytest.mark.parametrize(
    ("status", "reverse_charge"),
    [
        (VatStatus.UNCHECKED, False),
        (VatStatus.FORMAT_VALID, False),
        (VatStatus.VIES_UNAVAILABLE, False),
        (VatStatus.VIES_INVALID, False),
        (VatStatus.VIES_VALID, True),
    ],
)
def test_with_the_switch_on_only_a_vies_valid_number_passes(
    seller, vies_on, status, reverse_charge
):
    customer = business("DE", "DE136695976", vat_checked_number="DE136695976", vat_status=status)

    assert tax_for(customer).reverse_charge is reverse_charge


def test_a_vies_answer_about_an_older_number_does_not_count(seller, vies_on):
    customer = business(
        "DE", "DE136695976", vat_checked_number="DE123456788", vat_status=VatStatus.VIES_VALID
    )

    assert tax_for(customer).reverse_charge is False


def test_vies_valid_invoices_under_reverse_charge(seller, fake, vies_on):
    customer = business("BE", "BE0403170701")
    tasks.check_vat_number(customer.pk, "BE0403170701")
    customer.refresh_from_db()

    invoice = issue_invoice(customer)

    assert invoice.reverse_charge is True
    assert (invoice.tax_total, invoice.tax_note) == (Decimal("0.00"), REVERSE_CHARGE_NOTE)


def test_vies_invalid_invoices_with_vat(seller, fake, vies_on):
    customer = business("DE", "DE123456788")
    tasks.check_vat_number(customer.pk, "DE123456788")
    customer.refresh_from_db()

    invoice = issue_invoice(customer)

    assert invoice.reverse_charge is False
    assert invoice.tax_total == Decimal("1.90")


def test_vies_unavailable_the_invoice_issues_with_vat_and_staff_see_why(
    client, admin_user, seller, fake, vies_on
):
    fake.outage = "MS_UNAVAILABLE"
    customer = business("DE", "DE136695976")
    tasks.check_vat_number(customer.pk, "DE136695976")
    customer.refresh_from_db()

    invoice = issue_invoice(customer)

    assert invoice.number  # issued
    assert invoice.reverse_charge is False
    assert (invoice.tax_total, invoice.total) == (Decimal("1.90"), Decimal("11.90"))
    client.force_login(admin_user)
    page = client.get(reverse("admin:customer_detail", args=[customer.pk]))
    assert "VIES unavailable</span>" in page.text
    assert ": MS_UNAVAILABLE; VAT charged." in page.text
    assert "Not on this number: VAT charged" in page.text


def test_once_vies_is_back_the_next_invoice_is_under_reverse_charge(seller, fake, vies_on):
    fake.outage = 503
    customer = business("DE", "DE136695976")
    tasks.check_vat_number(customer.pk, "DE136695976")
    assert issue_invoice(Customer.objects.get(pk=customer.pk)).reverse_charge is False

    fake.outage = None
    tasks.check_vat_number(customer.pk, "DE136695976")

    assert issue_invoice(Customer.objects.get(pk=customer.pk)).reverse_charge is True


def test_the_switch_is_a_setting_staff_see_and_it_is_off_by_default(client, admin_user):
    assert vat.vies_enabled() is False
    client.force_login(admin_user)

    page = client.get(reverse("admin:automation_settings"))

    assert page.status_code == 200
    assert "Check VAT numbers with VIES" in page.text
