"""The staff dashboard's lists: services expiring soon, failed deliveries, recent events;
its cached counts; and its bounded query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from dashboard.views import DASHBOARD_ROWS
from services.choices import EventSource, ServiceStatus
from services.models import ServiceEvent
from tests.admin_matrix import LOGIN, sign_in
from tests.factories import ServiceFactory

S = ServiceStatus


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


@pytest.mark.parametrize(
    ("persona", "expected"),
    # Any staff may open it: it is where they land after signing in.
    [
        ("anonymous", LOGIN),
        ("customer", 403),
        ("plain_staff", 200),
        ("support_user", 200),
        ("admin_user", 200),
    ],
)
def test_who_may_open_the_dashboard(db, client, request, persona, expected):
    sign_in(client, request, persona)

    response = client.get(reverse("admin:home"))

    if expected == LOGIN:
        assert response.url == "/admin/login/?next=/admin/"
    else:
        assert response.status_code == expected


def test_staff_without_the_permission_see_no_service_data(client, plain_staff):
    ServiceFactory(name="secret-service", status=S.ACTIVE, expires_at=in_days(1))
    client.force_login(plain_staff)

    response = client.get(reverse("admin:home"))

    assert "Your account may not view services yet" in response.text
    assert "secret-service" not in response.text
    assert "statuses" not in response.context


def test_it_lists_live_services_expiring_within_seven_days_soonest_first(client, support_user):
    ServiceFactory(name="in-3-days", status=S.ACTIVE, expires_at=in_days(3))
    ServiceFactory(name="in-1-day", status=S.SUSPENDED, expires_at=in_days(1))
    ServiceFactory(name="in-8-days", status=S.ACTIVE, expires_at=in_days(8))
    ServiceFactory(name="already-past", status=S.ACTIVE, expires_at=in_days(-1))
    ServiceFactory(name="pending-soon", status=S.PENDING, expires_at=in_days(2))
    ServiceFactory(name="cancelled-soon", status=S.CANCELLED, expires_at=in_days(2))
    client.force_login(support_user)

    response = client.get(reverse("admin:home"))

    assert [s.name for s in response.context["expiring"]] == ["in-1-day", "in-3-days"]
    assert "in-1-day" in response.text
    assert "in-8-days" not in response.text


def test_the_expiring_list_is_bounded(client, admin_user):
    ServiceFactory.create_batch(DASHBOARD_ROWS + 3, status=S.ACTIVE, expires_at=in_days(2))
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    assert len(response.context["expiring"]) == DASHBOARD_ROWS


def test_it_lists_failed_deliveries_and_operations_in_flight(client, admin_user, customer):
    ServiceFactory(
        name="broken",
        customer=customer,
        status=S.PENDING,
        last_delivery_error="The panel refused: no space left",
        delivery_attempts=3,
    )
    ServiceFactory(name="waiting", status=S.PENDING)
    ServiceFactory(name="active-with-old-error", status=S.ACTIVE, last_delivery_error="old")
    ServiceFactory(
        name="suspending",
        status=S.ACTIVE,
        operation="suspend",
        operation_state="retrying",
        operation_attempts=2,
        operation_started_at=timezone.now(),
    )
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    assert [s.name for s in response.context["attention"]] == ["suspending", "broken"]
    assert response.context["attention_count"] == 2
    assert 'id="attention-count">2<' in response.text
    assert "Suspend: failed, will be retried" in response.text
    assert "The panel refused: no space left" in response.text
    assert reverse("admin:customer_detail", args=[customer.pk]) in response.text


def test_it_shows_the_ten_latest_events_with_service_and_actor(client, admin_user):
    service = ServiceFactory(name="bob-vps")
    for n in range(DASHBOARD_ROWS + 2):
        ServiceEvent.objects.create(
            service=service, source=EventSource.ADMIN, action=f"action-{n}", actor=admin_user
        )
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    events = response.context["events"]
    assert [e.action for e in events][:2] == ["action-11", "action-10"]
    assert len(events) == DASHBOARD_ROWS
    assert "action-1<" not in response.text
    assert "Action-11" in response.text
    assert "Alice Admin" in response.text
    assert reverse("admin:service_detail", args=[service.pk]) in response.text


def test_the_counts_per_status_are_cached_briefly(client, admin_user):
    ServiceFactory(status=S.ACTIVE)
    client.force_login(admin_user)
    client.get(reverse("admin:home"))
    ServiceFactory(status=S.ACTIVE)

    cached = client.get(reverse("admin:home"))
    cache.clear()  # as when the 30 s have passed
    fresh = client.get(reverse("admin:home"))

    assert cached.context["total"] == 1
    assert fresh.context["total"] == 2


@pytest.mark.parametrize("rows", [2, 30])
def test_the_dashboard_query_count_does_not_grow_with_the_data(
    client, admin_user, django_assert_num_queries, rows
):
    for _ in range(rows):
        service = ServiceFactory(status=S.ACTIVE, expires_at=in_days(2))
        ServiceFactory(status=S.PENDING, last_delivery_error="refused")
        ServiceEvent.objects.create(service=service, source=EventSource.ADMIN, action="renew")
    client.force_login(admin_user)

    # 1. the session; 2. the user; 3. beat's heartbeat (one row); 4. the counts per status
    # (GROUP BY, then cached); 5. services expiring soon, with customers and products;
    # 6. operations needing attention, the same; 7. how many they are, counted up to a
    # cap; 8. the latest events, with services and actors.
    with django_assert_num_queries(8):
        client.get(reverse("admin:home"))
    # Within 30 s the counts come from the cache: one query fewer.
    with django_assert_num_queries(7):
        client.get(reverse("admin:home"))
