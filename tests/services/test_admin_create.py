"""Creating a service from the administration area, in two steps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.search import CUSTOMER_SEARCH_LIMIT
from delivery.choices import ServerStatus
from products.choices import BillingCycle
from products.cycles import add_cycles
from services.choices import ServiceStatus
from services.models import Service
from tests.factories import (
    CustomerFactory,
    FakeServerFactory,
    ProductFactory,
    ProductPriceFactory,
    ServerFactory,
    ServiceFactory,
)

S = ServiceStatus
URL = "/admin/services/create/"
NO_INVOICE = "Service creation and import do not create an invoice"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


@pytest.fixture
def vps(db):
    """A product of the test module, sold monthly and annually."""
    product = ProductFactory(name="VPS S", module="test", module_config={"memory_mb": 512})
    ProductPriceFactory(product=product, cycle=BillingCycle.MONTHLY, price=Decimal("9.99"))
    ProductPriceFactory(
        product=product,
        cycle=BillingCycle.ANNUALLY,
        price=Decimal("99.00"),
        setup_fee=Decimal("5.00"),
    )
    return product


def step2_url(customer, module: str, product=None) -> str:
    query = urlencode(
        {"customer": customer.pk, "product": product.pk if product else "", "module": module}
    )
    return f"{URL}?{query}&step=2"


def step2_data(customer, module: str, product=None, **fields) -> dict:
    return {
        "customer": customer.pk,
        "product": product.pk if product else "",
        "module": module,
        "name": "Bob's box",
        "billing_cycle": BillingCycle.MONTHLY,
        "price": "9.99",
        "initial_price": "14.99",
        "expires_at": "",
        "description": "Your box",
        "notes": "VIP",
        "max_renewals": "",
        **fields,
    }


def test_the_pages_live_at_their_seed_urls():
    assert reverse("admin:service_create") == URL
    assert reverse("admin:customer_search") == "/admin/services/create/customers/"


# Step 1 ----------------------------------------------------------------------------------


def test_step_one_asks_for_customer_product_and_type_and_says_no_invoice_is_made(client, staff):
    response = client.get(URL)

    assert response.status_code == 200
    form = response.context["target_form"]
    assert list(form.fields) == ["customer", "product", "module"]
    assert ("test", "Test panel") in form.fields["module"].choices
    assert NO_INVOICE in response.text


def test_step_one_never_lists_every_customer(client, staff):
    CustomerFactory.create_batch(3)

    response = client.get(URL)

    assert response.context["target_form"].fields["customer"].widget.choices == []


def test_step_one_keeps_a_customer_given_in_the_url(client, staff, customer):
    response = client.get(f"{URL}?customer={customer.pk}")

    assert response.context["target_form"].fields["customer"].widget.choices == [
        (customer.pk, "Bob Owner — bob@example.com")
    ]


def test_the_customer_search_matches_names_and_emails_and_is_bounded(client, staff, customer):
    CustomerFactory.create_batch(CUSTOMER_SEARCH_LIMIT + 5, last_name="Smith")
    search = reverse("admin:customer_search")

    assert f'value="{customer.pk}"' in client.get(search, {"q": "bob owner"}).text
    assert f'value="{customer.pk}"' in client.get(search, {"q": "BOB@EXAMPLE"}).text
    assert client.get(search, {"q": "smith"}).text.count("<option") == CUSTOMER_SEARCH_LIMIT
    assert "No customer matches “zzz”." in client.get(search, {"q": "zzz"}).text


def test_a_product_of_another_type_is_refused_with_a_clear_message(client, staff, customer, vps):
    response = client.get(step2_url(customer, "manual", vps))

    form = response.context["target_form"]
    assert response.context["step"] == 1
    assert form.errors["product"] == [
        "The product “VPS S” is a Test panel product, not Manual: the product type must be "
        "the service type. Choose another product, another type, or no product."
    ]


def test_step_two_is_prefilled_from_the_product(client, staff, customer, vps):
    response = client.get(step2_url(customer, "test", vps))

    assert response.context["step"] == 2
    form = response.context["form"]
    assert form.initial["name"] == "VPS S"
    assert form.initial["billing_cycle"] == BillingCycle.MONTHLY
    assert (form.initial["price"], form.initial["initial_price"]) == ("9.99", "9.99")
    expected = timezone.localtime(add_cycles(timezone.now(), BillingCycle.MONTHLY))
    assert form.initial["expires_at"] == expected.strftime("%Y-%m-%dT%H:%M")
    annual = response.context["cycle_defaults"][BillingCycle.ANNUALLY]
    assert (annual["price"], annual["initial_price"]) == ("99.00", "104.00")
    assert NO_INVOICE in response.text


def test_step_two_offers_only_enabled_servers_of_the_type(client, staff, customer):
    mine = FakeServerFactory(name="fake-1")
    FakeServerFactory(name="fake-off", status=ServerStatus.DISABLED)
    ServerFactory(name="manual-1")

    response = client.get(step2_url(customer, "test"))

    assert list(response.context["form"].fields["server"].queryset) == [mine]
    assert response.context["form"].fields["server"].required


def test_step_two_checks_step_ones_choices_again(client, staff, customer, vps):
    response = client.post(URL, step2_data(customer, "manual", vps))

    assert response.status_code == 200
    assert response.context["step"] == 1
    assert "product" in response.context["target_form"].errors
    assert not Service.objects.exists()


# Creating --------------------------------------------------------------------------------


def test_a_custom_manual_service_is_created_pending_without_a_server(
    client, staff, customer, django_capture_on_commit_callbacks
):
    expires = timezone.localtime(timezone.now() + timedelta(days=30)).replace(
        second=0, microsecond=0
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL,
            step2_data(
                customer, "manual", max_renewals="3", expires_at=expires.strftime("%Y-%m-%dT%H:%M")
            ),
            follow=True,
        )

    service = Service.objects.get()
    assert response.redirect_chain[-1][0] == f"/admin/services/{service.pk}/"
    assert (service.status, service.customer, service.product, service.module) == (
        S.PENDING,
        customer,
        None,
        "manual",
    )
    assert (service.name, service.price, service.initial_price) == (
        "Bob's box",
        Decimal("9.99"),
        Decimal("14.99"),
    )
    assert (service.expires_at, service.max_renewals) == (expires, 3)
    assert (service.description, service.notes) == ("Your box", "VIP")
    assert service.events.get().action == "create"
    assert "No invoice was made." in response.text
    assert "stays pending until you deliver it" in response.text


def test_a_service_of_an_automatic_module_is_delivered_at_once(client, staff, customer, vps):
    server = FakeServerFactory()

    client.post(URL, step2_data(customer, "test", vps, server=server.pk))

    service = Service.objects.get()
    assert (service.status, service.server, service.product) == (S.ACTIVE, server, vps)
    assert service.external_id == f"test-{service.uuid}"
    assert [e.action for e in service.events.order_by("id")] == ["create", "deliver"]


def test_a_failed_delivery_keeps_the_service_pending_and_shows_the_error(client, staff, customer):
    server = FakeServerFactory(fail="create")

    response = client.post(URL, step2_data(customer, "test", server=server.pk), follow=True)

    service = Service.objects.get()
    assert service.status == S.PENDING
    assert service.last_delivery_error == "The test panel refused to create."
    assert response.redirect_chain[-1][0] == f"/admin/services/{service.pk}/"
    assert "The service was created but not delivered: The test panel refused to create." in (
        response.text
    )
    assert 'data-action="deliver"' in response.text


def test_a_full_server_is_refused_on_its_field_and_nothing_is_created(client, staff, customer, vps):
    full = FakeServerFactory(name="node-full", max_accounts=1)
    ServiceFactory(server=full, module="test", status=S.SUSPENDED)

    response = client.post(URL, step2_data(customer, "test", vps, server=full.pk))

    assert response.status_code == 200
    assert response.context["form"].errors["server"] == [
        "node-full is full (1 of 1 service): choose another one."
    ]
    assert Service.objects.filter(server=full).count() == 1


def test_a_hidden_server_with_room_may_be_chosen_by_hand(client, staff, customer, vps):
    hidden = FakeServerFactory(status=ServerStatus.HIDDEN, max_accounts=1)

    client.post(URL, step2_data(customer, "test", vps, server=hidden.pk))

    assert Service.objects.get().server == hidden


def test_a_module_that_needs_a_server_is_not_created_without_one(client, staff, customer):
    response = client.post(URL, step2_data(customer, "test"))

    assert response.context["form"].errors["server"] == ["This field is required."]
    assert not Service.objects.exists()


def test_a_one_time_service_with_an_expiration_is_refused_on_the_field(client, staff, customer):
    response = client.post(
        URL,
        step2_data(
            customer, "manual", billing_cycle=BillingCycle.ONE_TIME, expires_at="2030-01-01T10:00"
        ),
    )

    assert response.context["form"].errors["expires_at"] == [
        "A one-time service never expires: leave this empty."
    ]
    assert not Service.objects.exists()


def test_step_two_asks_the_modules_own_options_and_keeps_them_on_the_service(
    client, staff, customer, vps
):
    server = FakeServerFactory()

    page = client.get(step2_url(customer, "test", vps))
    client.post(
        URL,
        step2_data(
            customer, "test", vps, server=server.pk, **{"module-hostname": "mc.example.net"}
        ),
    )

    assert 'name="module-hostname"' in page.text
    assert "Test panel options" in page.text
    assert Service.objects.get().module_data["hostname"] == "mc.example.net"


def test_an_invalid_module_option_is_shown_on_its_field_and_nothing_is_created(
    client, staff, customer, vps
):
    server = FakeServerFactory()

    response = client.post(
        URL, step2_data(customer, "test", vps, server=server.pk, **{"module-hostname": "bad host!"})
    )

    assert response.status_code == 200
    assert response.context["form"].module_form.errors["hostname"] == [
        "Letters, digits, dots and dashes only."
    ]
    assert "is-invalid" in response.text
    assert not Service.objects.exists()


def test_a_module_without_options_asks_none(client, staff, customer):
    page = client.get(step2_url(customer, "manual"))

    assert 'id="module-options"' not in page.text
