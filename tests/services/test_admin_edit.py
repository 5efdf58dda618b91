"""Editing a service: every field of the seed's list, each change recorded old and new."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.forms.edit import STATUS_ADVICE
from tests.factories import FakeServerFactory, ProductFactory, ServerFactory

S = ServiceStatus


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def url(service) -> str:
    return f"/admin/services/{service.pk}/edit/"


def as_posted(response) -> dict:
    """The edit form's current values, as the browser would post them back."""
    form = response.context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            value = ""
        elif hasattr(value, "strftime"):  # Already in local time, as the widget shows it.
            value = value.strftime("%Y-%m-%dT%H:%M")
        data[name] = str(value)
    return data


def test_the_page_lives_at_its_url(make_service):
    service = make_service()

    assert reverse("admin:service_edit", args=[service.pk]) == url(service)


def test_it_offers_every_field_of_the_seed_and_advises_against_editing_the_status(
    client, staff, make_service
):
    response = client.get(url(make_service()))

    assert set(response.context["form"].fields) == {
        "name",
        "expires_at",
        "price",
        "initial_price",
        "server",
        "billing_cycle",
        "notes",
        "description",
        "max_renewals",
        "hold_until",
        "status",
        "module",
        "reason",
    }
    assert STATUS_ADVICE in response.text


def test_saving_records_every_change_with_its_old_and_new_value(client, staff, make_service):
    service = make_service(S.ACTIVE, name="Old", price=Decimal("9.99"), notes="")
    data = as_posted(client.get(url(service)))
    data.update(name="New", price="12.50", notes="Upgraded", status=S.SUSPENDED, reason="Deal")

    response = client.post(url(service), data)

    assert response.status_code == 302
    assert response.url == f"/admin/services/{service.pk}/"
    service.refresh_from_db()
    assert (service.name, service.price, service.status) == ("New", Decimal("12.50"), S.SUSPENDED)
    event = service.events.get()
    assert (event.action, event.actor, event.reason) == ("update", staff, "Deal")
    assert (event.from_status, event.to_status) == (S.ACTIVE, S.SUSPENDED)
    assert event.changes == {
        "name": ["Old", "New"],
        "price": ["9.99", "12.50"],
        "notes": ["", "Upgraded"],
        "status": [S.ACTIVE, S.SUSPENDED],
    }


def test_saving_an_untouched_form_changes_nothing(client, staff, make_service):
    service = make_service(S.ACTIVE)
    expires_at = service.expires_at

    response = client.post(url(service), as_posted(client.get(url(service))), follow=True)

    service.refresh_from_db()
    assert service.expires_at == expires_at  # Its seconds were not rounded away.
    assert not service.events.exists()
    assert "Nothing was changed." in response.text


def test_a_new_expiration_is_saved_to_the_minute(client, staff, make_service):
    service = make_service(S.ACTIVE)
    data = as_posted(client.get(url(service)))
    data["expires_at"] = "2031-05-31T09:30"

    client.post(url(service), data)

    service.refresh_from_db()
    assert timezone.localtime(service.expires_at).strftime("%Y-%m-%d %H:%M") == "2031-05-31 09:30"
    assert service.billing_anchor_day == 31


def test_a_refusal_of_the_lifecycle_is_a_form_error(client, staff, make_service):
    service = make_service(S.ACTIVE, renewal_count=3)
    data = as_posted(client.get(url(service)))
    data["max_renewals"] = "2"

    response = client.post(url(service), data)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"Cannot edit service #{service.pk}: it has already been renewed 3 times, "
        "more than a maximum of 2."
    ]
    service.refresh_from_db()
    assert service.max_renewals is None


def test_a_server_of_another_type_is_refused(client, staff, make_service):
    service = make_service(S.ACTIVE)
    data = as_posted(client.get(url(service)))
    data["server"] = ServerFactory(name="manual-box").pk

    response = client.post(url(service), data)

    assert response.context["form"].errors["server"] == ["manual-box is a Manual server, not test."]


def test_the_type_must_stay_the_products_type(client, staff, make_service):
    service = make_service(S.ACTIVE, product=ProductFactory(name="VPS", module="test"))
    data = as_posted(client.get(url(service)))
    data.update(module="manual", server="")

    response = client.post(url(service), data)

    assert response.context["form"].errors["module"] == [
        "The product “VPS” is a Test panel product: the service type must be the product type."
    ]


def test_the_server_of_a_custom_service_can_change(client, staff, make_service):
    service = make_service(S.ACTIVE, product=None)
    old, new = service.server, FakeServerFactory()
    data = as_posted(client.get(url(service)))
    data["server"] = new.pk

    client.post(url(service), data)

    service.refresh_from_db()
    assert service.server == new
    assert service.events.get().changes == {"server": [old.pk, new.pk]}


def test_a_one_time_service_cannot_keep_an_expiration(client, staff, make_service):
    service = make_service(S.ACTIVE)
    data = as_posted(client.get(url(service)))
    data["billing_cycle"] = BillingCycle.ONE_TIME

    response = client.post(url(service), data)

    assert response.context["form"].errors["expires_at"] == [
        "A one-time service never expires: leave this empty."
    ]
