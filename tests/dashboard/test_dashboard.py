"""The staff dashboard's lists: services expiring soon, failed deliveries, recent events;
its cached counts; and its bounded query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import charts
from dashboard.views import DASHBOARD_ROWS
from delivery.choices import ServerStatus
from delivery.models import ServerGroup
from services.choices import EventSource, ServiceStatus
from services.models import ServiceEvent
from tests.admin_matrix import LOGIN, sign_in
from tests.factories import ServerFactory, ServiceFactory

S = ServiceStatus


def shape(sql: str) -> str:
    """A query without its values (the moments it was run at): the same query, another time."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


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


def test_the_counts_per_status_are_right_at_once(client, admin_user):
    ServiceFactory(status=S.ACTIVE)
    client.force_login(admin_user)
    client.get(reverse("admin:home"))
    ServiceFactory(status=S.ACTIVE)

    response = client.get(reverse("admin:home"))

    assert response.context["total"] == 2


@pytest.mark.parametrize("rows", [2, 30])
def test_the_dashboard_query_count_does_not_grow_with_the_data(
    client, admin_user, django_assert_num_queries, rows
):
    for n in range(rows):
        # Each row also a full group, warned about.
        group = ServerGroup.objects.create(name=f"group {n}", module="manual", warn_at_percent=50)
        server = ServerFactory(group=group, max_accounts=1)
        service = ServiceFactory(status=S.ACTIVE, expires_at=in_days(2), server=server)
        ServiceFactory(status=S.PENDING, last_delivery_error="refused")
        ServiceEvent.objects.create(service=service, source=EventSource.ADMIN, action="renew")
    client.force_login(admin_user)

    with CaptureQueriesContext(connection) as task:
        charts.refresh(timezone.now())  # the periodic task ran: the snapshot exists
    chart_queries = {shape(q["sql"]) for q in task.captured_queries if "GROUP BY" in q["sql"]}
    assert len(chart_queries) == 5  # weeks: new, ended; renewals; revenue; recurring

    # 1. the user (the session is read from the cache); 2. beat's heartbeat (one row);
    # 3. the counts per status the database keeps (services.stats, no cache: issue 15),
    # which the status chart reuses; 4. the server groups past their warning threshold
    # (issue 14: their room and live services in correlated subqueries); 5. the charts'
    # snapshot, one row stored by the task dashboard.charts (issue 16: no chart is
    # computed here); 6. and 7. services expiring soon, with customers and products, one
    # query per status (issue 15: each reads its index in order); 8. operations needing
    # attention, the same; 9. how many they are, counted up to a cap; 10. the latest
    # events, with services and actors.
    # The same on every view, whatever the number of rows (2 or 30 of each).
    for _ in range(2):
        with django_assert_num_queries(10) as captured:
            client.get(reverse("admin:home"))
        # None of the charts' GROUP BY over services or invoices runs in the request.
        assert not chart_queries & {shape(q["sql"]) for q in captured.captured_queries}
        assert not [q for q in captured.captured_queries if "billing_invoice" in q["sql"]]


# Server groups running out of room.


def group_with(used: int, *, maximums: list[int | None], warn_at: int | None = 80, **fields):
    """A group of manual servers with ``maximums``; ``used`` live services on the first."""
    group = ServerGroup.objects.create(warn_at_percent=warn_at, module="manual", **fields)
    servers = [ServerFactory(group=group, max_accounts=limit) for limit in maximums]
    for _ in range(used):
        ServiceFactory(server=servers[0], status=S.ACTIVE)
    ServiceFactory(server=servers[0], status=S.TERMINATED)  # not live: never counted
    return group


def test_the_dashboard_warns_about_the_groups_past_their_threshold(client, admin_user):
    past = group_with(8, maximums=[5, 5], name="Paris")  # 80 % of 10
    group_with(7, maximums=[5, 5], name="Lyon")  # 70 %
    group_with(9, maximums=[5, 5], warn_at=None, name="Lille")  # never warns
    group_with(9, maximums=[5, None], name="Nice")  # a server without limit: never full
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    assert [g.name for g in response.context["full_groups"]] == ["Paris"]
    assert 'id="capacity-warning"' in response.text
    assert f'data-group="{past.pk}"' in response.text
    assert "8 of 10 places used (80 %, warning at 80 %)" in response.text


def test_hidden_servers_take_no_new_services_so_their_room_does_not_count(client, admin_user):
    group = group_with(4, maximums=[5, 5], name="Paris")  # 40 % of both
    ServerFactory(group=group, max_accounts=90, status=ServerStatus.HIDDEN)
    client.force_login(admin_user)
    assert client.get(reverse("admin:home")).context["full_groups"] == []

    group.servers.filter(max_accounts=5).exclude(services__isnull=False).update(
        status=ServerStatus.DISABLED
    )  # 4 of the 5 places left

    assert [g.name for g in client.get(reverse("admin:home")).context["full_groups"]] == ["Paris"]


def test_no_warning_when_nothing_is_past_its_threshold(client, admin_user):
    group_with(1, maximums=[5], name="Paris")
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    assert response.context["full_groups"] == []
    assert 'id="capacity-warning"' not in response.text


def test_staff_who_may_not_see_servers_see_no_warning(client, support_user):
    group_with(8, maximums=[5, 5], name="Paris")
    support_user.user_permissions.remove(
        *support_user.user_permissions.filter(codename="view_server")
    )
    client.force_login(support_user)

    response = client.get(reverse("admin:home"))

    assert "full_groups" not in response.context
    assert "Paris" not in response.text
