"""A service's details page: the service, its customer, renewals, history and actions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from delivery.modules.base import ModuleError
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.views.admin_detail import EVENTS_SHOWN

S = ServiceStatus
ADMIN = EventSource.ADMIN


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def url(service) -> str:
    return f"/admin/services/{service.pk}/"


def test_the_page_lives_at_its_url(make_service):
    service = make_service()

    assert reverse("admin:service_detail", args=[service.pk]) == url(service)


def test_it_shows_the_service_and_links_its_customer(client, staff, make_service, customer):
    service = make_service(S.ACTIVE, name="Bob's VPS", notes="Pays late", description="2 GB")

    response = client.get(url(service))

    assert response.status_code == 200
    text = response.text
    assert "Bob&#x27;s VPS" in text
    assert 'data-status="active"' in text
    assert "Pays late" in text
    assert "2 GB" in text
    assert f'href="/admin/customers/{customer.pk}/"' in text
    assert "bob@example.com" in text


def test_an_unknown_service_is_404(client, staff):
    assert client.get("/admin/services/999999/").status_code == 404


def test_it_lists_the_renewals(client, staff, make_service):
    service = make_service(S.ACTIVE, price=Decimal("10.00"))
    lifecycle.renew(service, actor=staff, source=ADMIN, cycles=2)

    response = client.get(url(service))

    [renewal] = response.context["renewals"]
    assert (renewal.cycles, renewal.price, renewal.actor) == (2, Decimal("20.00"), staff)
    assert "2 cycles · Alice Admin" in response.text


def test_the_history_shows_each_change_old_and_new_with_its_actor_and_source(
    client, staff, make_service
):
    service = make_service(S.ACTIVE, name="Old name")
    lifecycle.suspend(service, actor=staff, source=ADMIN, reason="Unpaid")
    lifecycle.update(
        service, changes={"name": "New name"}, actor=None, source=EventSource.AUTOMATION
    )

    response = client.get(url(service))

    edited, suspended = response.context["timeline"]
    assert edited.title == "Edited"
    assert [(c.label, c.old, c.new) for c in edited.changes] == [
        ("Service name", "Old name", "New name")
    ]
    assert suspended.title == "Suspended"
    assert suspended.status_changed
    assert ("Suspend reason", "—", "Unpaid") in [(c.label, c.old, c.new) for c in suspended.changes]
    text = response.text
    assert "Automation · Automation" in text
    assert "Alice Admin · Administration area" in text
    assert "Module: suspend done" in text


def test_the_history_shows_a_module_failure(client, staff, make_service):
    service = make_service(S.PENDING, fail="create")
    with pytest.raises(ModuleError):
        lifecycle.deliver(service, actor=staff, source=ADMIN)

    response = client.get(url(service))

    [failure] = response.context["timeline"]
    assert failure.title == "Could not deliver the service"
    assert "The test panel refused to create." in response.text
    assert 'id="delivery-error"' in response.text
    assert "Retry delivery" in response.text


def test_a_scheduled_cancellation_is_announced(client, staff, make_service):
    service = make_service(S.ACTIVE)
    lifecycle.cancel(service, actor=staff, source=ADMIN, when="end_of_period", reason="Moving")

    response = client.get(url(service))

    assert 'id="scheduled-cancellation"' in response.text
    assert "Reason: Moving" in response.text


def test_the_history_is_bounded(client, staff, make_service):
    service = make_service(S.ACTIVE)
    for days in range(EVENTS_SHOWN + 1):
        lifecycle.shift_expiration(service, days=days + 1, actor=staff, source=ADMIN)

    response = client.get(url(service))

    assert len(response.context["timeline"]) == EVENTS_SHOWN
    assert response.context["more_events"]


def test_the_query_count_does_not_grow_with_the_history(
    client, staff, make_service, django_assert_num_queries
):
    small = make_service(S.ACTIVE)
    lifecycle.renew(small, actor=staff, source=ADMIN)
    big = make_service(S.ACTIVE)
    for _ in range(10):
        lifecycle.renew(big, actor=staff, source=ADMIN)
        lifecycle.shift_expiration(big, days=1, actor=staff, source=ADMIN)
    # Warm the session (into the cache), so both pages count the same queries.
    client.get(url(small))

    for service in (small, big):
        # 1 the user (the session is read from the cache), 2 the service with its customer,
        # customer's user, product and server, 3 its latest events with their actors, 4 its
        # latest renewals with their actors, 5 its latest module calls with their servers,
        # 6 the invoices of the service (billing's panel). The module's tabs load later,
        # from their own URL.
        with django_assert_num_queries(6):
            assert client.get(url(service)).status_code == 200
