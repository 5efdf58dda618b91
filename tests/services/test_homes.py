"""The staff dashboard and the customer home."""

from __future__ import annotations

import pytest
from django.urls import reverse

from services.choices import ServiceStatus
from tests.factories import ProductFactory, ServiceFactory


def test_the_admin_home_counts_services_per_status(
    client, admin_user, django_assert_max_num_queries
):
    ServiceFactory.create_batch(3, status=ServiceStatus.ACTIVE)
    ServiceFactory.create_batch(2, status=ServiceStatus.SUSPENDED)
    ServiceFactory(status=ServiceStatus.PENDING)
    client.force_login(admin_user)

    # 1. the signed-in user (the session is read from the cache); 2. the counts per status
    # the database keeps (services.stats); 3.-7. the dashboard's bounded lists (expiring
    # soon, one query per status; operations needing attention and their capped count;
    # recent events), which tests/dashboard/test_dashboard.py covers; 8. the automation's
    # heartbeat; 9. the server groups past their capacity warning (issue 14); 10. the
    # charts' snapshot, one row the task dashboard.charts stores (issue 16).
    with django_assert_max_num_queries(10):
        response = client.get(reverse("admin:home"))

    assert response.status_code == 200
    counts = {row["status"]: row["count"] for row in response.context["statuses"]}
    assert counts == {
        "pending": 1,
        "active": 3,
        "suspended": 2,
        "expired": 0,
        "cancelled": 0,
        "terminated": 0,
    }
    assert response.context["total"] == 6
    badge = '<span class="badge text-bg-danger" data-status="suspended">Suspended</span>'
    assert badge in response.text


def test_the_admin_home_renders_with_no_services(client, support_user):
    client.force_login(support_user)

    response = client.get(reverse("admin:home"))

    assert response.status_code == 200
    assert {row["count"] for row in response.context["statuses"]} == {0}


def test_the_client_home_lists_only_the_customers_active_services(client, customer, other_customer):
    ServiceFactory(customer=customer, name="bob-active", status=ServiceStatus.ACTIVE)
    ServiceFactory(customer=customer, name="bob-suspended", status=ServiceStatus.SUSPENDED)
    ServiceFactory(customer=customer, name="bob-pending", status=ServiceStatus.PENDING)
    ServiceFactory(customer=other_customer, name="charlie-active", status=ServiceStatus.ACTIVE)
    client.force_login(customer.user)

    response = client.get(reverse("client:home"))

    assert [service.name for service in response.context["services"]] == ["bob-active"]
    assert "bob-active" in response.text
    for hidden in ("bob-suspended", "bob-pending", "charlie-active"):
        assert hidden not in response.text


def test_the_client_home_shows_an_empty_state(client, customer):
    client.force_login(customer.user)

    response = client.get(reverse("client:home"))

    assert response.status_code == 200
    assert "You have no active services." in response.text


def test_a_custom_service_shows_as_such_on_the_client_home(client, customer):
    ServiceFactory(customer=customer, product=None, status=ServiceStatus.ACTIVE)
    client.force_login(customer.user)

    response = client.get(reverse("client:home"))

    assert "Custom service" in response.text


@pytest.mark.parametrize("rows", [2, 20])
def test_the_client_home_query_count_does_not_grow_with_the_services(
    client, customer, django_assert_num_queries, rows
):
    ServiceFactory.create_batch(
        rows, customer=customer, product=ProductFactory(), status=ServiceStatus.ACTIVE
    )
    client.force_login(customer.user)

    # 1. the signed-in user (the session is read from the cache); 2. their customer
    # profile; 3. the figures of the panels other apps register (billing: balance and
    # unpaid invoices, one query); 4. their active services, joined with their products;
    # 5. the settings staff change (renewal grace days, for the actions offered), read
    # once into the cache, so none once warm (the tests start with it empty).
    with django_assert_num_queries(5):
        response = client.get(reverse("client:home"))

    assert len(response.context["services"]) == rows
