"""Panels (clientxcms/panels.py): the customer, product and server pages show what
services register for them, to the staff allowed to see services, and only to them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from clientxcms import panels
from services.choices import ServiceStatus
from tests.factories import ProductFactory, ServerFactory, ServiceFactory, StaffFactory


@pytest.fixture
def no_services_staff(db):
    """Nina: may view customers, products and servers, but not services."""
    user = StaffFactory(email="nina@example.com", full_name="Nina Noservices")
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_customer", "view_product", "view_server"])
    )
    return user


def test_services_register_their_panels_for_the_lower_apps_pages():
    keys = {
        (kind.__name__, entry.model, entry.key)
        for kind, entries in panels._registry.items()
        for entry in entries.values()
    }

    assert {
        ("Panel", "customer", "services"),
        ("Panel", "customer", "renewals"),
        ("Panel", "customer", "history"),
        ("Column", "customer", "services"),
        ("ListFilter", "customer", "services"),
        ("Column", "product", "services"),
        ("Column", "server", "capacity"),
    } <= keys


def test_registering_the_same_key_twice_for_a_model_is_refused():
    panel = panels.Panel(model="customer", key="twice", label="Twice", template="x.html")
    panels.register(panel)
    try:
        with pytest.raises(ImproperlyConfigured, match="already registered"):
            panels.register(panel)
    finally:
        panels.unregister(panel)


def test_panels_come_in_their_order_then_by_key(admin_user):
    keys = [panel.key for panel in panels.panels_for("customer", admin_user)]

    # billing's balance (5) is a one-line summary above services' tables (10-30), its
    # invoices (40) and orders (45) below them.
    assert keys == ["balance", "services", "renewals", "history", "invoices", "orders"]


def test_the_customer_page_shows_services_panels_to_those_who_may_view_services(
    client, support_user, customer
):
    ServiceFactory(customer=customer, name="bob-vps", status=ServiceStatus.ACTIVE)
    client.force_login(support_user)

    text = client.get(reverse("admin:customer_detail", args=[customer.pk])).text

    assert 'id="customer-services"' in text
    assert "bob-vps" in text
    assert "1 live · 1 in all" in text
    assert 'id="customer-renewals"' in text
    assert 'id="customer-history"' in text


def test_staff_who_may_not_view_services_see_a_customer_without_them_nor_their_queries(
    client, no_services_staff, customer, django_assert_num_queries
):
    ServiceFactory(customer=customer, name="bob-vps")
    client.force_login(no_services_staff)

    # 1. the user (the session is read from the cache); 2-3. their permissions (own, then
    # groups'); 4. the customer with their login: no service count, no panel's rows;
    # 5. their latest e-mails (the customers app's own card).
    with django_assert_num_queries(5):
        response = client.get(reverse("admin:customer_detail", args=[customer.pk]))

    assert response.status_code == 200
    assert "bob-vps" not in response.text
    assert 'id="customer-services"' not in response.text
    assert "Nothing else to show about this customer." in response.text


def test_staff_who_may_not_view_services_get_lists_without_service_columns_or_filters(
    client, no_services_staff, customer
):
    product, server = ProductFactory(), ServerFactory()
    ServiceFactory(customer=customer, product=product, server=server)
    client.force_login(no_services_staff)

    customers = client.get(reverse("admin:customer_list"), {"services": "none"})
    products = client.get(reverse("admin:product_list"))
    servers = client.get(reverse("admin:server_list"))

    # The services filter is not there, so it filters nothing out.
    assert [c.pk for c in customers.context["customers"]] == [customer.pk]
    assert "Any services" not in customers.text
    assert "live / all" not in customers.text
    assert not hasattr(customers.context["customers"][0], "service_count")
    assert "data-services=" not in products.text
    assert "data-capacity=" not in servers.text
    assert "Capacity used" not in servers.text


def test_the_lists_show_the_service_columns_and_filter_to_those_who_may_view_services(
    client, support_user, customer
):
    product, server = ProductFactory(), ServerFactory()
    ServiceFactory(customer=customer, product=product, server=server, status=ServiceStatus.ACTIVE)
    client.force_login(support_user)

    customers = client.get(reverse("admin:customer_list"))
    products = client.get(reverse("admin:product_list"))
    servers = client.get(reverse("admin:server_list"))

    assert "Any services" in customers.text
    assert "live / all" in customers.text
    assert 'data-services="1"' in products.text
    assert "Capacity used" in servers.text
    assert f"?server={server.pk}" in servers.text
