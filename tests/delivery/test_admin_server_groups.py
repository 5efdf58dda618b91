"""Staff group servers: the groups on the servers page with the room their active servers
have left, creating and editing a group, and putting a server in one of its type."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import StaffActivity
from delivery.choices import PlacementStrategy, ServerStatus
from delivery.models import ServerGroup
from services.choices import ServiceStatus
from tests.admin_matrix import FORM, PERSONAS, VIEW, assert_access, sign_in
from tests.factories import FakeServerFactory, ServiceFactory

from .test_admin_servers import server_data


@pytest.fixture
def group(db):
    return ServerGroup.objects.create(name="Paris", module="test", warn_at_percent=80)


def group_data(**fields: str) -> dict[str, str]:
    data = {
        "name": "Roubaix",
        "module": "test",
        "strategy": PlacementStrategy.FILL_UNTIL_FULL,
        "warn_at_percent": "90",
    }
    return {**data, **fields}


# The permission matrix.


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "name", "kind"),
    [
        ("get", "admin:server_group_create", FORM),
        ("post", "admin:server_group_create", FORM),
        ("get", "admin:server_group_edit", FORM),
        ("post", "admin:server_group_edit", FORM),
    ],
)
def test_who_may_open_the_group_pages(client, request, group, persona, method, name, kind):
    url = reverse(name, args=[group.pk]) if name.endswith("_edit") else reverse(name)
    sign_in(client, request, persona)

    assert_access(client, method, url, persona, kind)


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_sees_the_groups_on_the_servers_page(client, request, group, persona):
    sign_in(client, request, persona)

    assert_access(client, "get", reverse("admin:server_list"), persona, VIEW)


# The servers page.


def test_each_group_shows_the_live_services_of_its_active_servers_against_their_room(
    client, support_user, group
):
    paris_1 = FakeServerFactory(group=group, max_accounts=10)
    FakeServerFactory(group=group, max_accounts=5)
    hidden = FakeServerFactory(group=group, max_accounts=100, status=ServerStatus.HIDDEN)
    ServiceFactory.create_batch(12, server=paris_1, status=ServiceStatus.ACTIVE)
    ServiceFactory(server=paris_1, status=ServiceStatus.TERMINATED)
    ServiceFactory(server=hidden, status=ServiceStatus.ACTIVE)
    unlimited = ServerGroup.objects.create(name="Lyon", module="test")
    FakeServerFactory(group=unlimited, max_accounts=None)
    client.force_login(support_user)

    response = client.get(reverse("admin:server_list"))

    figures = {g.name: (g.live_service_count, g.capacity) for g in response.context["groups"]}
    # 12 of 15 on the active servers; the hidden one's service and room take no part.
    assert figures == {"Lyon": (0, 0), "Paris": (12, 15)}
    assert 'data-capacity="12/15"' in response.text
    assert "12 / 15" in response.text
    assert 'data-capacity="0/"' in response.text  # Lyon: no limit
    assert "Fill until full" not in response.text  # Paris spreads: the default
    assert "Least full first" in response.text
    assert "80 %" in response.text
    # Each server says which group it is in; Sam may see but not edit.
    assert response.text.count("<td>Paris</td>") == 3
    assert reverse("admin:server_group_edit", args=[group.pk]) not in response.text


def test_the_groups_need_their_own_view_permission_and_services_for_their_figures(
    client, plain_staff, group
):
    plain_staff.user_permissions.add(*permissions("view_server", "view_servergroup"))
    client.force_login(plain_staff)

    response = client.get(reverse("admin:server_list"))

    (shown,) = response.context["groups"]
    assert shown.name == "Paris"
    assert response.context["group_columns"] == []  # no services.view_service: no counts
    assert not hasattr(shown, "live_service_count")

    plain_staff.user_permissions.remove(*permissions("view_servergroup"))
    assert "groups" not in client.get(reverse("admin:server_list")).context


def permissions(*codenames: str):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__in=codenames)


# Creating and editing.


def test_staff_create_a_group_and_it_is_in_the_activity_log(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_group_create"), group_data())

    assert response.status_code == 302
    group = ServerGroup.objects.get()
    assert (group.name, group.module, group.strategy, group.warn_at_percent) == (
        "Roubaix",
        "test",
        "fill_until_full",
        90,
    )
    assert StaffActivity.objects.filter(action="server group created").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("warn_at_percent", "0"), ("warn_at_percent", "101"), ("module", "gone"), ("strategy", "x")],
)
def test_a_group_with_a_wrong_value_is_refused(client, admin_user, field, value):
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_group_create"), group_data(**{field: value}))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ServerGroup.objects.exists()


def test_staff_edit_a_group_and_see_its_servers(client, admin_user, group):
    FakeServerFactory(name="node-in-paris", group=group)
    client.force_login(admin_user)
    url = reverse("admin:server_group_edit", args=[group.pk])

    assert "node-in-paris" in client.get(url).text
    response = client.post(url, group_data(name="Paris", warn_at_percent=""))

    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.strategy, group.warn_at_percent) == ("fill_until_full", None)
    assert StaffActivity.objects.filter(action="server group changed").exists()


def test_a_group_cannot_change_to_a_type_its_servers_are_not(client, admin_user, group):
    FakeServerFactory(group=group)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_group_edit", args=[group.pk]), group_data(module="manual")
    )

    assert response.status_code == 200
    assert "Its servers are of another type" in str(response.context["form"].errors["module"])
    group.refresh_from_db()
    assert group.module == "test"


def test_a_server_joins_a_group_of_its_type_only(client, admin_user, group):
    manual = ServerGroup.objects.create(name="Manual", module="manual")
    client.force_login(admin_user)

    refused = client.post(reverse("admin:server_create"), server_data(group=str(manual.pk)))
    accepted = client.post(reverse("admin:server_create"), server_data(group=str(group.pk)))

    assert refused.status_code == 200
    assert "groups Manual servers" in str(refused.context["form"].errors["group"])
    assert accepted.status_code == 302
    assert group.servers.get().name == "node-paris-1"
