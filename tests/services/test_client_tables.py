"""The client service tables (home and all services): what tells services apart, the
services that need the customer first, a home page bounded whatever the number of
services, and query counts that do not grow with the rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import invoices
from delivery.modules.manual import ManualModule
from services.choices import ServiceStatus
from services.views.client import HOME_SERVICES
from tests.factories import ProductFactory, ServiceFactory

S = ServiceStatus


@pytest.fixture
def bob(client, customer):
    client.force_login(customer.user)
    return client


def test_each_row_shows_its_number_and_its_hostname(bob, customer):
    service = ServiceFactory(
        customer=customer,
        status=S.ACTIVE,
        product=ProductFactory(module="test"),
        module_data={"hostname": "mc1.example.net"},
    )

    response = bob.get(reverse("client:service_list"))

    assert f"#{service.pk}" in response.text
    assert "mc1.example.net" in response.text


def test_the_manual_module_has_no_reference():
    service = ServiceFactory.build(module_data={"hostname": "x.example"}, external_id="r-1")

    assert ManualModule().display_reference(service) == ""


def test_services_expiring_soon_and_with_an_unpaid_invoice_come_first(bob, customer):
    later = ServiceFactory(customer=customer, status=S.ACTIVE, name="later")
    ServiceFactory(
        customer=customer,
        status=S.ACTIVE,
        name="soon",
        expires_at=timezone.now() + timedelta(days=3),
    )
    owing = ServiceFactory(
        customer=customer,
        status=S.ACTIVE,
        name="owing",
        expires_at=timezone.now() + timedelta(days=60),
    )
    invoices.renewal_invoice(owing, actor=None)

    for name in ("client:home", "client:service_list"):
        rows = bob.get(reverse(name)).context["services"]
        assert [service.name for service in rows] == ["owing", "soon", later.name]


def test_the_home_is_bounded_and_links_to_all_services(bob, customer):
    ServiceFactory.create_batch(HOME_SERVICES + 1, customer=customer, status=S.ACTIVE, product=None)

    response = bob.get(reverse("client:home"))

    assert len(response.context["services"]) == HOME_SERVICES
    assert 'id="more-services"' in response.text


@pytest.mark.parametrize("rows", [2, 50])
def test_the_home_query_count_does_not_grow_with_the_services(
    bob, customer, django_assert_num_queries, rows
):
    ServiceFactory.create_batch(rows, customer=customer, status=S.ACTIVE, product=ProductFactory())

    # 1. the user (the session is read from the cache); 2. the customer; 3. the bounded
    # rows, with their products and billing's flags; 4. billing's home panel;
    # 5. the settings staff change (renewal grace days, for the actions offered), read
    # once into the cache, so none once warm (the tests start with it empty).
    with django_assert_num_queries(5):
        response = bob.get(reverse("client:home"))

    assert len(response.context["services"]) == min(rows, HOME_SERVICES)


@pytest.mark.parametrize("rows", [2, 50])
def test_the_services_query_count_does_not_grow_with_the_services(
    bob, customer, django_assert_num_queries, rows
):
    ServiceFactory.create_batch(rows, customer=customer, status=S.ACTIVE, product=ProductFactory())

    # 1. the user (the session is read from the cache); 2. the customer; 3. the
    # paginator's COUNT; 4. one page of rows, with their products and billing's flags;
    # 5. the settings staff change (renewal grace days, for the actions offered), read
    # once into the cache, so none once warm (the tests start with it empty).
    with django_assert_num_queries(5):
        response = bob.get(reverse("client:service_list"))

    assert len(response.context["services"]) == min(rows, 25)
