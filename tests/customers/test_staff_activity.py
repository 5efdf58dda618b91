"""The staff activity log: changes to servers, products and customers, staff sign-ins, and
the page where administrators read it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from customers.activity import diff, record
from customers.models import StaffActivity
from products.models import ProductPrice
from tests.customers.test_admin_customers import edit_data
from tests.delivery.test_admin_servers import SECRET, server_data
from tests.factories import DEFAULT_PASSWORD, FakeServerFactory, ProductFactory, StaffFactory
from tests.products.test_admin_products import MONTHLY, price_rows, product_data

NEW_SECRET = "ptla_the-replacement-key-nobody-may-read"


@pytest.fixture
def server(db):
    return FakeServerFactory(
        name="node-1", credentials={"api_key": SECRET, "fail": "", "fail_retryable": ""}
    )


def only_entry(action: str) -> StaffActivity:
    return StaffActivity.objects.get(action=action)


def test_changing_a_servers_credentials_records_that_they_changed_but_not_the_secret(
    client, admin_user, server
):
    client.force_login(admin_user)

    client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(name="node-1", **{"credentials-api_key": NEW_SECRET}),
        REMOTE_ADDR="198.51.100.4",
    )

    entry = only_entry("server changed")
    assert entry.actor == admin_user
    assert (entry.target_type.model, entry.target_id) == ("server", str(server.pk))
    assert entry.changes["credentials"] == {"changed": True, "names": ["api_key"]}
    assert entry.ip_address == "198.51.100.4"
    stored = json.dumps(entry.changes) + entry.target_repr
    assert SECRET not in stored
    assert NEW_SECRET not in stored


def test_the_activity_page_shows_the_change_without_the_secret(client, admin_user, server):
    client.force_login(admin_user)
    client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(name="node-1b", **{"credentials-api_key": NEW_SECRET}),
    )

    page = client.get(reverse("admin:activity_list"))

    assert page.status_code == 200
    assert "server changed" in page.text
    assert "node-1b" in page.text
    assert "changed (api_key)" in page.text
    assert NEW_SECRET not in page.text
    assert SECRET not in page.text


def test_a_server_saved_unchanged_records_nothing(client, admin_user, server):
    client.force_login(admin_user)

    url = reverse("admin:server_edit", args=[server.pk])
    client.post(url, server_data(name="node-1"))

    client.post(url, server_data(name="node-1"))  # the same again, secret left empty

    assert StaffActivity.objects.filter(action="server changed").count() == 1


def test_a_new_servers_credentials_are_recorded_as_set_not_shown(client, admin_user):
    client.force_login(admin_user)

    client.post(reverse("admin:server_create"), server_data())

    entry = only_entry("server created")
    assert entry.changes["name"] == {"old": None, "new": "node-paris-1"}
    assert entry.changes["credentials"]["changed"] is True
    assert SECRET not in json.dumps(entry.changes)


def test_a_price_change_is_recorded_with_old_and_new_prices(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("admin:product_create"), {**product_data(), **price_rows(MONTHLY)})
    product_id = only_entry("product created").target_id

    rows = price_rows({**MONTHLY, "price": "12.50"}, initial=1)
    rows["prices-0-id"] = str(ProductPrice.objects.get(product_id=product_id).pk)
    client.post(reverse("admin:product_edit", args=[product_id]), {**product_data(), **rows})

    entry = only_entry("product changed")
    assert entry.changes["prices"]["old"] == {"monthly": "9.99 EUR (setup 5.00)"}
    assert entry.changes["prices"]["new"] == {"monthly": "12.50 EUR (setup 5.00)"}


def test_deactivating_a_product_is_recorded(client, admin_user):
    product = ProductFactory(is_active=True)
    client.force_login(admin_user)

    client.post(reverse("admin:product_deactivate", args=[product.pk]))

    entry = only_entry("product deactivated")
    assert (entry.actor, entry.target_id) == (admin_user, str(product.pk))


def test_editing_a_customer_records_the_fields_changed(client, admin_user, customer):
    client.force_login(admin_user)

    client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, city="Lyon", email="bob.new@example.com"),
    )

    entry = only_entry("customer changed")
    assert entry.changes["city"]["new"] == "Lyon"
    assert entry.changes["email"] == {"old": "bob@example.com", "new": "bob.new@example.com"}


def test_a_failed_staff_sign_in_is_recorded_without_the_password(client, admin_user):
    client.post(
        reverse("admin:login"),
        {"username": "alice@example.com", "password": "hunter2-wrong"},
        REMOTE_ADDR="192.0.2.9",
    )

    entry = only_entry("sign-in failed")
    assert entry.actor is None
    assert entry.actor_label == "alice@example.com"
    assert entry.target_id == str(admin_user.pk)
    assert entry.ip_address == "192.0.2.9"
    assert "hunter2" not in json.dumps(entry.changes)


def test_a_failed_sign_in_on_the_staff_page_with_an_unknown_address_is_recorded(client, db):
    client.post(reverse("admin:login"), {"username": "nobody@example.com", "password": "x"})

    assert only_entry("sign-in failed").actor_label == "nobody@example.com"


def test_a_customers_failed_sign_in_is_not_staff_activity(client, customer):
    client.post(reverse("client:login"), {"username": "bob@example.com", "password": "x"})

    assert not StaffActivity.objects.exists()


def test_a_successful_staff_sign_in_is_recorded(client, admin_user):
    client.post(
        reverse("admin:login"), {"username": "alice@example.com", "password": DEFAULT_PASSWORD}
    )

    assert only_entry("sign-in").actor == admin_user


@pytest.mark.parametrize("persona", ["plain_staff", "customer"])
def test_who_may_not_read_the_activity_gets_403(client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    assert client.get(reverse("admin:activity_list")).status_code == 403


def test_anonymous_is_sent_to_the_staff_login(client, db):
    response = client.get(reverse("admin:activity_list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_page_lists_newest_first_and_filters_by_actor(client, admin_user):
    other = StaffFactory(email="other@example.com")
    record(action="first thing", actor=admin_user)
    record(action="second thing", actor=other)
    record(action="third thing", actor=admin_user)
    client.force_login(admin_user)

    everyone = client.get(reverse("admin:activity_list")).text
    alice_only = client.get(reverse("admin:activity_list"), {"actor": admin_user.pk}).text

    assert (
        everyone.index("third thing")
        < everyone.index("second thing")
        < everyone.index("first thing")
    )
    assert "second thing" not in alice_only
    assert "first thing" in alice_only


def test_the_page_query_count_does_not_grow_with_the_rows(
    client, admin_user, django_assert_num_queries
):
    client.force_login(admin_user)
    url = reverse("admin:activity_list")
    # 1. the user (the session is read from the cache); 2. the staff for the actor filter;
    # 3. the page of rows, with actor and target type joined in.
    for count in (2, 40):
        StaffActivity.objects.all().delete()
        for n in range(count):
            record(action=f"thing {n}", actor=admin_user, target=admin_user)
        with django_assert_num_queries(3):
            client.get(url)


def test_diff_records_only_that_a_secret_changed():
    changes = diff(
        {"token": "old-secret", "name": "a"}, {"token": "new-secret", "name": "b"}, secret={"token"}
    )

    assert changes == {"token": {"changed": True}, "name": {"old": "a", "new": "b"}}
