"""While the company's details lack what every e-invoice needs, no invoice can be issued.
A customer checking out or renewing is then told in plain words that orders cannot be
taken, loses nothing (the form as they filled it in) and leaves nothing behind (no order,
no draft, no number taken); staff are told: an error in the log, once, and a warning on
their invoice list and company settings naming what is missing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import einvoice, invoices
from billing.invoices import ORDERS_UNAVAILABLE, RENEWALS_UNAVAILABLE, BillingError
from billing.models import CompanyProfile, Invoice, InvoiceLine, InvoiceSequence, Order, OrderItem
from products.choices import BillingCycle
from services.choices import ServiceStatus
from tests.billing.shop import french_company, game_server, order_data
from tests.factories import CustomerFactory

CHECKOUT = "/client/checkout/"
STAFF_HINT = "Company details"
LOGGER = "billing.invoices"


@pytest.fixture
def product(db):
    french_company()
    return game_server(
        "Minecraft 4 GB",
        prices={BillingCycle.MONTHLY: ("10.00", "5.00"), BillingCycle.ANNUALLY: ("100.00", "0")},
    )


@pytest.fixture
def bob(client, customer):
    client.force_login(customer.user)
    return client


def incomplete_company() -> None:
    """Staff cleared the SIREN: a French company's e-invoices cannot do without it."""
    CompanyProfile.objects.update(legal_identifier="")


def nothing_written() -> None:
    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()
    assert not Invoice.objects.exists()
    assert not InvoiceLine.objects.exists()
    assert not InvoiceSequence.objects.filter(last__gt=0).exists()


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER and record.levelno == logging.ERROR
    ]


# The customer ------------------------------------------------------------------------------


def test_a_customer_checking_out_sees_a_plain_message_and_nothing_is_written(bob, product, caplog):
    incomplete_company()
    caplog.set_level(logging.ERROR, logger=LOGGER)

    response = bob.post(
        CHECKOUT,
        order_data(product, billing_cycle="annually", **{"options-hostname": "mc.example.net"}),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert ORDERS_UNAVAILABLE in html
    assert STAFF_HINT not in html
    assert "SIREN" not in html
    assert "cannot be issued" not in html
    assert response.context["form"].non_field_errors() == [ORDERS_UNAVAILABLE]
    nothing_written()
    # What they chose is still chosen: the form comes back as they filled it in.
    form = response.context["form"]
    assert form["billing_cycle"].value() == "annually"
    assert '<option value="annually" selected>' in html
    assert 'value="mc.example.net"' in html
    # Staff learn of it from the log, with the staff's message.
    (logged,) = errors_logged(caplog)
    assert "the company's legal identifier (SIREN)" in logged
    assert STAFF_HINT in logged


def test_the_error_is_logged_once_however_many_customers_are_refused(bob, product, caplog):
    incomplete_company()
    caplog.set_level(logging.ERROR, logger=LOGGER)

    for _ in range(3):
        assert ORDERS_UNAVAILABLE in bob.post(CHECKOUT, order_data(product)).content.decode()

    assert len(errors_logged(caplog)) == 1
    # Another detail missing is another incident: logged too.
    CompanyProfile.objects.update(address="")
    bob.post(CHECKOUT, order_data(product))
    assert len(errors_logged(caplog)) == 2
    nothing_written()


def test_once_the_company_is_complete_the_same_order_goes_through(bob, product):
    incomplete_company()
    bob.post(CHECKOUT, order_data(product))
    CompanyProfile.objects.update(legal_identifier="123456782")

    response = bob.post(CHECKOUT, order_data(product))

    order = Order.objects.get()
    assert response.status_code == 302
    assert order.invoice.number.endswith("-000001")  # the refusal took no number


def test_a_refusal_about_the_order_itself_is_still_told_as_it_is(caplog):
    """Only the company's details are hidden from the customer: a refusal they can act on
    keeps its message, and is no incident for staff."""
    caplog.set_level(logging.ERROR, logger=LOGGER)
    exc = BillingError("Minecraft 4 GB is not sold monthly.")

    assert invoices.customer_message(exc) == "Minecraft 4 GB is not sold monthly."
    assert errors_logged(caplog) == []


def test_a_customer_renewing_sees_a_plain_message_and_no_invoice_is_made(bob, make_service, caplog):
    service = make_service(ServiceStatus.ACTIVE, expires_at=timezone.now() + timedelta(days=10))
    incomplete_company()
    caplog.set_level(logging.ERROR, logger=LOGGER)
    url = reverse("client:service_renew", args=[service.pk])

    response = bob.post(url, {"cycles": 1}, follow=True)

    html = response.content.decode()
    assert RENEWALS_UNAVAILABLE in html
    assert STAFF_HINT not in html
    assert "SIREN" not in html
    assert response.redirect_chain == [(url, 302)]
    nothing_written()
    assert len(errors_logged(caplog)) == 1


# Staff ------------------------------------------------------------------------------------


def test_staff_issuing_are_still_told_what_to_fill_in_and_where(customer, make_invoice):
    incomplete_company()
    draft = make_invoice(customer, issue=False)

    with pytest.raises(invoices.CompanyIncomplete) as refused:
        invoices.issue(draft, actor=None, notify=False)

    assert "the company's legal identifier (SIREN)" in refused.value.message
    assert "(Billing › Company details)" in refused.value.message
    assert refused.value.missing == ["the company's legal identifier (SIREN)"]


def test_a_missing_detail_of_the_customer_is_no_company_incident(make_invoice):
    draft = make_invoice(CustomerFactory(country=""), issue=False)

    with pytest.raises(BillingError) as refused:
        invoices.issue(draft, actor=None, notify=False)

    assert not isinstance(refused.value, invoices.CompanyIncomplete)
    assert STAFF_HINT not in refused.value.message


@pytest.mark.parametrize("page", ["admin:invoice_list", "admin:billing_company"])
def test_staff_pages_warn_naming_every_missing_detail(client, billing_agent, page):
    CompanyProfile.objects.update(legal_identifier="", vat_number="", address="")
    client.force_login(billing_agent)

    html = client.get(reverse(page)).content.decode()

    assert 'id="company-incomplete"' in html
    warning = html.split('id="company-incomplete"')[1].split("</div>")[0]
    assert "the company&#x27;s address" in warning
    assert "the company&#x27;s legal identifier (SIREN)" in warning
    assert "the company&#x27;s VAT number" in warning
    assert "orders are refused" in warning


@pytest.mark.parametrize("page", ["admin:invoice_list", "admin:billing_company"])
def test_staff_pages_say_nothing_while_the_company_is_complete(client, billing_agent, page):
    client.force_login(billing_agent)

    html = client.get(reverse(page)).content.decode()

    assert 'id="company-incomplete"' not in html


def test_the_invoice_list_links_the_company_settings_for_who_may_change_them(
    client, billing_agent, support_user
):
    incomplete_company()
    link = f'href="{reverse("admin:billing_company")}" class="alert-link"'

    client.force_login(billing_agent)
    assert link in client.get(reverse("admin:invoice_list")).content.decode()
    client.force_login(support_user)
    support_html = client.get(reverse("admin:invoice_list")).content.decode()
    assert 'id="company-incomplete"' in support_html
    assert link not in support_html


# The check -------------------------------------------------------------------------------


def test_a_complete_company_misses_nothing(db):
    assert einvoice.missing_company_details() == []


def test_a_company_in_the_eu_needs_its_vat_number_one_outside_does_not(db):
    CompanyProfile.objects.update(vat_number="")
    assert einvoice.missing_company_details() == ["the company's VAT number"]

    CompanyProfile.objects.update(country="US", legal_identifier="EIN 12-3456789")
    assert einvoice.missing_company_details() == []


def test_the_check_is_one_query(db, django_assert_num_queries):
    incomplete_company()

    with django_assert_num_queries(1):
        assert einvoice.missing_company_details() == ["the company's legal identifier (SIREN)"]
