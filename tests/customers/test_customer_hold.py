""" "Do not suspend or terminate until" for a whole customer: set by staff in the customer
form, recorded in the staff activity log, shown on the customer's page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from customers.models import Customer, StaffActivity


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.TIME_ZONE = "UTC"


def edit_data(customer: Customer, **changes: str) -> dict[str, str]:
    """The edit form as the page would post it back, with ``changes``."""
    data = {
        "email": customer.user.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "country": str(customer.country),
        "language": customer.language,
    }
    return {**data, **changes}


def test_staff_set_a_customers_hold_and_the_change_is_recorded(client, admin_user, customer):
    client.force_login(admin_user)
    form = client.get(reverse("admin:customer_edit", args=[customer.pk]))
    assert "Do not suspend or terminate until" in form.text

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, hold_until="2027-01-15T10:00"),
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.hold_until == datetime(2027, 1, 15, 10, tzinfo=UTC)
    activity = StaffActivity.objects.get(action="customer changed")
    assert activity.actor == admin_user
    assert activity.changes["hold_until"] == {"old": None, "new": "2027-01-15 10:00:00+00:00"}


def test_staff_clear_a_customers_hold(client, admin_user, customer):
    Customer.objects.filter(pk=customer.pk).update(hold_until=datetime(2027, 1, 15, tzinfo=UTC))
    client.force_login(admin_user)

    client.post(reverse("admin:customer_edit", args=[customer.pk]), edit_data(customer))

    customer.refresh_from_db()
    assert customer.hold_until is None


def test_the_customers_page_shows_the_hold_when_set(client, admin_user, customer):
    client.force_login(admin_user)
    url = reverse("admin:customer_detail", args=[customer.pk])
    assert 'id="customer-hold"' not in client.get(url).text

    Customer.objects.filter(pk=customer.pk).update(hold_until=datetime(2099, 1, 15, 10, tzinfo=UTC))
    page = client.get(url).text

    assert "agreed for this customer until 2099-01-15 10:00." in page
    assert "(over)" not in page


def test_a_hold_that_is_over_is_shown_as_such(client, admin_user, customer):
    Customer.objects.filter(pk=customer.pk).update(hold_until=datetime(2020, 1, 15, tzinfo=UTC))
    client.force_login(admin_user)

    page = client.get(reverse("admin:customer_detail", args=[customer.pk])).text

    assert "agreed for this customer until 2020-01-15 00:00 (over)." in page
