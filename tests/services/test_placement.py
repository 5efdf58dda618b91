"""Where a new service goes (``services.placement``): the servers a product may use, the
strategies, hidden and disabled servers, the refusals when nothing has room, and staff
choosing a full server by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from delivery.choices import PlacementStrategy, ServerStatus
from delivery.models import ServerGroup
from products.choices import BillingCycle
from services import placement
from services.choices import EventSource, ServiceStatus
from services.models import Service
from tests.factories import CustomerFactory, FakeServerFactory, ProductFactory, ServiceFactory

S = ServiceStatus


def product(**fields):
    return ProductFactory(module="test", module_config={"memory_mb": 512}, **fields)


def place(prod, customer=None):
    """One new service of ``prod``, placed as a paid order places it."""
    return placement.create_placed(
        product=prod,
        actor=None,
        source=EventSource.AUTOMATION,
        customer=customer or CustomerFactory(),
        name=prod.name,
        billing_cycle=BillingCycle.MONTHLY,
        price=Decimal(10),
        initial_price=Decimal(10),
        module_data={"hostname": "mc.example.net"},
    )


def fill(server, count: int, status: str = S.ACTIVE) -> None:
    ServiceFactory.create_batch(count, module="test", server=server, status=status)


def group(strategy=PlacementStrategy.LEAST_FULL, **fields):
    return ServerGroup.objects.create(name=strategy, module="test", strategy=strategy, **fields)


# The strategies.


def test_least_full_spreads_the_services_over_the_servers(db):
    spread = group()
    a = FakeServerFactory(group=spread, max_accounts=5)
    b = FakeServerFactory(group=spread, max_accounts=5)
    fill(a, 2)
    prod = product(server_group=spread)

    servers = [place(prod).server for _ in range(4)]

    # b has fewer; then they tie and the older one (a) goes first.
    assert servers == [b, b, a, b]


def test_fill_until_full_fills_the_fullest_server_with_room_then_the_next(db):
    packed = group(PlacementStrategy.FILL_UNTIL_FULL)
    a = FakeServerFactory(group=packed, max_accounts=3)
    b = FakeServerFactory(group=packed, max_accounts=3)
    fill(b, 1)
    prod = product(server_group=packed)

    servers = [place(prod).server for _ in range(5)]

    assert servers == [b, b, a, a, a]
    with pytest.raises(placement.NoRoom, match="No server has room for"):
        place(prod)


def test_only_live_services_take_a_place(db):
    server = FakeServerFactory(max_accounts=2)
    fill(server, 1, S.TERMINATED)
    fill(server, 1, S.CANCELLED)
    fill(server, 1, S.EXPIRED)  # still live: it holds its place until terminated

    assert place(product()).server == server
    with pytest.raises(placement.NoRoom):
        place(product())


def test_a_server_without_a_maximum_always_has_room(db):
    server = FakeServerFactory(max_accounts=None)
    fill(server, 30)

    assert place(product()).server == server


# Which servers a product may use.


def test_hidden_and_disabled_servers_are_never_chosen(db):
    FakeServerFactory(status=ServerStatus.HIDDEN, max_accounts=50)
    FakeServerFactory(status=ServerStatus.DISABLED, max_accounts=50)
    prod = product()

    with pytest.raises(placement.NoRoom, match=f"No server has room for {prod.name} right now"):
        place(prod)
    assert not Service.objects.exists()
    assert placement.deliverable([prod]) == set()


def test_a_product_with_a_group_uses_only_the_group_s_servers(db):
    eu = group()
    in_group = FakeServerFactory(group=eu, max_accounts=2)
    FakeServerFactory(max_accounts=100)  # empty, but not in the group
    fill(in_group, 1)
    prod = product(server_group=eu)

    assert place(prod).server == in_group
    with pytest.raises(placement.NoRoom):
        place(prod)
    assert placement.deliverable([prod]) == set()


def test_a_product_without_a_group_uses_every_active_server_of_its_type_grouped_or_not(db):
    grouped = FakeServerFactory(group=group(), max_accounts=5)
    loose = FakeServerFactory(max_accounts=5)
    FakeServerFactory(module="manual", max_accounts=5)  # another type
    fill(loose, 1)
    prod = product()

    # A tie goes to the older server.
    assert [place(prod).server for _ in range(3)] == [grouped, grouped, loose]


def test_a_module_that_needs_no_server_is_placed_nowhere_and_always_deliverable(db):
    manual = ProductFactory(module="manual")

    service = placement.create_placed(
        product=manual,
        actor=None,
        source=EventSource.AUTOMATION,
        customer=CustomerFactory(),
        name="Consulting",
        billing_cycle=BillingCycle.MONTHLY,
        price=Decimal(10),
        initial_price=Decimal(10),
    )

    assert service.server is None
    assert placement.deliverable([manual]) == {manual.pk}


def test_deliverable_answers_for_every_product_in_one_query(db, django_assert_num_queries):
    eu, us = group(), ServerGroup.objects.create(name="US", module="test")
    fill(FakeServerFactory(group=eu, max_accounts=1), 1)
    FakeServerFactory(group=us, max_accounts=3)
    products = [
        product(server_group=eu),
        product(server_group=us),
        product(),
        ProductFactory(module="manual"),
        ProductFactory(module="gone"),
    ]

    with django_assert_num_queries(1):
        able = placement.deliverable(products)

    assert able == {products[1].pk, products[2].pk, products[3].pk}
    # Three new services fit in US, four do not.
    assert placement.deliverable([products[1]], wanted=3) == {products[1].pk}
    assert placement.deliverable([products[1]], wanted=4) == set()


# Staff choosing the server by hand.


def create_on(server):
    prod = product()
    return placement.create_on_server(
        server=server,
        actor=None,
        source=EventSource.ADMIN,
        customer=CustomerFactory(),
        product=prod,
        module="test",
        name="by hand",
        billing_cycle=BillingCycle.MONTHLY,
        price=Decimal(10),
        initial_price=Decimal(10),
        module_data={"hostname": "mc.example.net"},
    )


def test_staff_may_place_a_service_on_a_hidden_server_with_room(db):
    hidden = FakeServerFactory(status=ServerStatus.HIDDEN, max_accounts=1)

    assert create_on(hidden).server == hidden


def test_staff_are_refused_a_full_server(db):
    full = FakeServerFactory(name="node-full", max_accounts=2)
    fill(full, 2)

    with pytest.raises(placement.NoRoom, match=r"node-full is full \(2 of 2 services\)"):
        create_on(full)
    assert Service.objects.filter(server=full).count() == 2
