"""The catalogue in the client area: what is on sale, by type, each product's page, and
the products that cannot be delivered (no order button, their checkout refused)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Order
from delivery.choices import ServerStatus
from delivery.models import ServerGroup
from products.choices import BillingCycle
from products.models import ProductPrice
from services.choices import ServiceStatus
from tests.billing.shop import french_company, game_server, on_sale, order_data
from tests.factories import FakeServerFactory, ServiceFactory

CATALOGUE = "/client/catalogue/"


@pytest.fixture
def company(db):
    return french_company()


@pytest.fixture
def bob(client, customer, company):
    client.force_login(customer.user)
    return client


def page(product) -> str:
    return reverse("client:catalogue_product", args=[product.slug])


def listed(response) -> dict[str, list[str]]:
    """The catalogue's groups: type label → product names."""
    return {
        label: [offer.product.name for offer in offers]
        for label, offers in response.context["groups"]
    }


def full_server(**fields):
    """A test-module server whose one account is taken by a live service."""
    server = FakeServerFactory(max_accounts=1, **fields)
    ServiceFactory(module="test", server=server, status=ServiceStatus.ACTIVE)
    return server


# Where things are, and who may see them --------------------------------------------------


def test_the_catalogue_and_checkout_live_where_issue_11_says(db):
    assert reverse("client:catalogue") == CATALOGUE
    assert reverse("client:catalogue_product", args=["vps-s"]) == "/client/catalogue/vps-s/"
    assert reverse("client:checkout") == "/client/checkout/"


def test_anonymous_visitors_are_sent_to_the_client_login(client, company):
    product = on_sale()
    login = reverse("client:login")

    for method, url in (
        ("get", CATALOGUE),
        ("get", page(product)),
        ("get", f"{reverse('client:checkout')}?product={product.slug}"),
        ("post", reverse("client:checkout")),
    ):
        response = getattr(client, method)(url, order_data(product) if method == "post" else {})
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login}?next="), url
    assert not Order.objects.exists()


def test_staff_are_refused_like_on_every_client_page(client, admin_user, company):
    product = on_sale()
    client.force_login(admin_user)

    assert client.get(CATALOGUE).status_code == 403
    assert client.get(page(product)).status_code == 403
    assert client.post(reverse("client:checkout"), order_data(product)).status_code == 403
    assert not Order.objects.exists()


# The list --------------------------------------------------------------------------------


def test_it_lists_only_active_products_with_a_price_grouped_by_their_type(bob):
    on_sale("Web hosting S")
    game_server("Minecraft 4 GB")
    on_sale("Old plan", is_active=False)
    on_sale("Not priced yet", prices={})
    dollars = on_sale("Dollar plan", prices={})
    ProductPrice.objects.create(
        product=dollars, cycle=BillingCycle.MONTHLY, price=Decimal(5), currency="USD"
    )

    response = bob.get(CATALOGUE)

    assert response.status_code == 200
    assert listed(response) == {"Manual": ["Web hosting S"], "Test panel": ["Minecraft 4 GB"]}
    assert b"Old plan" not in response.content
    assert b"Not priced yet" not in response.content


def test_each_product_shows_its_price_per_cycle_and_its_setup_fee(bob):
    on_sale(
        "VPS M",
        prices={BillingCycle.MONTHLY: ("12.00", "5.00"), BillingCycle.ANNUALLY: ("120.00", "0")},
    )

    html = bob.get(CATALOGUE).content.decode()

    assert "12.00 EUR" in html
    assert "+ 5.00 setup" in html
    assert "120.00 EUR" in html
    assert html.index("Monthly") < html.index("Annually")


def test_a_product_whose_servers_are_full_or_disabled_is_shown_unavailable(bob):
    full_server()
    FakeServerFactory(status=ServerStatus.DISABLED)
    product = on_sale("Game server", module="test")

    response = bob.get(CATALOGUE)

    (offer,) = next(offers for label, offers in response.context["groups"])
    assert offer.product == product
    assert offer.deliverable is False
    assert b"data-unavailable" in response.content


@pytest.mark.parametrize("count", [2, 20])
def test_the_catalogue_costs_the_same_queries_for_2_and_20_products(bob, count):
    for n in range(count):
        # Half need a server (one with room), half are delivered by hand.
        on_sale(f"Product {n}", module="test" if n % 2 else "manual")
    FakeServerFactory()
    bob.get(CATALOGUE)  # warm the session (into the cache) and caches

    with CaptureQueriesContext(connection) as queries:
        response = bob.get(CATALOGUE)

    assert response.status_code == 200
    assert sum(len(offers) for _, offers in response.context["groups"]) == count
    # User (the session is read from the cache), customer, products, their prices, and
    # the room of all servers at once.
    assert len(queries) == 5, [q["sql"] for q in queries.captured_queries]


# A product's page ------------------------------------------------------------------------


def test_the_product_page_shows_the_description_prices_with_taxes_and_the_module_options(bob):
    product = game_server(
        "Minecraft 4 GB",
        description="A server for 20 players.",
        prices={BillingCycle.MONTHLY: ("10.00", "5.00")},
    )

    response = bob.get(page(product))
    html = response.content.decode()

    assert response.status_code == 200
    assert "A server for 20 players." in html
    (quote,) = response.context["offer"].quotes
    assert (quote.net, quote.tax, quote.total) == (
        Decimal("15.00"),
        Decimal("3.00"),
        Decimal("18.00"),
    )
    assert "18.00 EUR" in html
    # The test module's service_form asks for a hostname.
    assert 'name="options-hostname"' in html
    assert 'id="id_billing_cycle"' in html


def test_an_undeliverable_product_has_no_order_button(bob):
    full_server()
    product = on_sale("Game server", module="test")

    response = bob.get(page(product))

    assert response.context["form"] is None
    assert b'id="product-unavailable"' in response.content
    assert b'id="id_accept_terms"' not in response.content
    assert b">Order</button>" not in response.content


def test_posting_an_order_for_an_undeliverable_product_is_refused_with_a_message(bob):
    full_server()
    product = on_sale("Game server", module="test")

    response = bob.post(reverse("client:checkout"), order_data(product))

    assert response.status_code == 302
    assert response["Location"] == page(product)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "No server has room for Game server right now. It cannot be ordered."
    ]
    assert not Order.objects.exists()


def test_a_product_delivered_by_hand_can_be_ordered_without_any_server(bob):
    product = on_sale("Consulting hour")

    response = bob.get(page(product))

    assert response.context["offer"].deliverable is True
    assert b'id="id_accept_terms"' in response.content


@pytest.mark.parametrize("slug", ["no-such-product", "old-plan", "not-priced"])
def test_a_product_not_on_sale_is_a_404(bob, slug):
    on_sale("Old plan", slug="old-plan", is_active=False)
    on_sale("Not priced", slug="not-priced", prices={})

    assert bob.get(f"/client/catalogue/{slug}/").status_code == 404


# Which products can be delivered: the placement rule, per product --------------------------


def test_a_product_limited_to_a_full_group_is_unavailable_while_its_type_has_room(bob):
    group = ServerGroup.objects.create(name="EU", module="test")
    full_server(group=group)
    FakeServerFactory(max_accounts=5)  # room, but outside the group
    grouped = on_sale("Grouped", module="test", server_group=group)
    anywhere = on_sale("Anywhere", module="test")

    response = bob.get(CATALOGUE)

    deliverable = {
        o.product.name: o.deliverable for _, offers in response.context["groups"] for o in offers
    }
    assert deliverable == {"Grouped": False, "Anywhere": True}
    assert bob.get(page(grouped)).context["form"] is None
    assert bob.get(page(anywhere)).context["form"] is not None


def test_a_hidden_server_offers_no_room_to_the_catalogue(bob):
    FakeServerFactory(status=ServerStatus.HIDDEN, max_accounts=5)
    product = on_sale("Game server", module="test")

    assert bob.get(page(product)).context["offer"].deliverable is False


@pytest.mark.parametrize("count", [2, 20])
def test_grouped_products_cost_the_catalogue_no_more_queries(bob, count):
    groups = [ServerGroup.objects.create(name=f"G{n}", module="test") for n in range(count)]
    for n, group in enumerate(groups):
        FakeServerFactory(group=group, max_accounts=1 + n % 2)
        on_sale(f"Product {n}", module="test", server_group=group)
    bob.get(CATALOGUE)

    with CaptureQueriesContext(connection) as queries:
        response = bob.get(CATALOGUE)

    assert all(o.deliverable for _, offers in response.context["groups"] for o in offers)
    assert len(queries) == 5, [q["sql"] for q in queries.captured_queries]
