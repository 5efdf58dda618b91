"""Staff manage servers: the list with capacity, creating and editing with write-only
credentials, and testing the connection through the module."""

from __future__ import annotations

import pytest
from django.urls import reverse

from delivery.models import Server, ServerGroup
from services.choices import ServiceStatus
from tests.admin_matrix import ACTION, FORM, PERSONAS, VIEW, assert_access, sign_in
from tests.factories import FakeServerFactory, ServerFactory, ServiceFactory

SECRET = "ptla_very-secret-application-key"


def server_data(**fields: str) -> dict[str, str]:
    data = {
        "name": "node-paris-1",
        "module": "test",
        "hostname": "panel.example.net",
        "port": "443",
        "max_accounts": "50",
        "status": "active",
        "credentials-api_key": SECRET,
        "credentials-fail": "",
    }
    return {**data, **fields}


@pytest.fixture
def server(db):
    return FakeServerFactory(name="node-1", credentials={"api_key": SECRET, "fail": "create"})


# The permission matrix.


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "name", "kind"),
    [
        ("get", "admin:server_list", VIEW),
        ("get", "admin:server_create", FORM),
        ("post", "admin:server_create", FORM),
        ("get", "admin:server_edit", FORM),
        ("post", "admin:server_edit", FORM),
        ("post", "admin:server_test", ACTION),
    ],
)
def test_who_may_open_the_server_pages(client, request, server, persona, method, name, kind):
    url = reverse(name) if name.endswith(("_list", "_create")) else reverse(name, args=[server.pk])
    sign_in(client, request, persona)

    assert_access(client, method, url, persona, kind)


# The list.


def test_the_list_shows_capacity_used_by_live_services_and_status(client, support_user, server):
    server.max_accounts = 4
    server.save()
    ServiceFactory.create_batch(3, server=server, status=ServiceStatus.ACTIVE)
    ServiceFactory(server=server, status=ServiceStatus.TERMINATED)
    ServerFactory(name="node-2", status="disabled")
    client.force_login(support_user)

    response = client.get(reverse("admin:server_list"))

    counts = {s.name: s.live_service_count for s in response.context["servers"]}
    assert counts == {"node-1": 3, "node-2": 0}
    assert 'data-capacity="3/4"' in response.text
    assert "3 / 4" in response.text
    assert "/ no limit" in response.text
    assert (
        '<span class="badge text-bg-danger" data-status="disabled">Disabled</span>' in response.text
    )
    assert SECRET not in response.text
    assert reverse("admin:server_test", args=[server.pk]) not in response.text  # Sam may not


@pytest.mark.parametrize("rows", [2, 30])
def test_the_list_query_count_does_not_grow_with_the_servers(
    client, admin_user, django_assert_num_queries, rows
):
    for n, server in enumerate(ServerFactory.create_batch(rows)):
        ServiceFactory(server=server)
        if n % 2:
            server.group = ServerGroup.objects.create(name=f"group {n}", module="manual")
            server.save()
    client.force_login(admin_user)

    # 1. the user (the session is read from the cache); 2. one page of servers with their
    # groups and their live services counted in a correlated subquery; 3. every group with
    # the room and the live services of its active servers, the same way.
    with django_assert_num_queries(3):
        response = client.get(reverse("admin:server_list"))

    assert len(response.context["servers"]) == min(rows, 25)
    assert len(response.context["groups"]) == rows // 2


# Creating.


def test_staff_create_a_server_with_encrypted_credentials(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_create"), server_data())

    assert response.status_code == 302
    server = Server.objects.get()
    assert (server.name, server.module, server.max_accounts) == ("node-paris-1", "test", 50)
    assert server.credentials == {"api_key": SECRET, "fail": "", "fail_retryable": ""}


def test_the_credential_fields_are_empty_password_inputs(client, admin_user):
    client.force_login(admin_user)

    response = client.get(
        reverse("admin:server_create"), {"module": "test"}, headers={"HX-Request": "true"}
    )

    assert '<input type="password" name="credentials-api_key"' in response.text
    assert 'autocomplete="new-password"' in response.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"port": "70000"}, "port", "less than or equal to 65535"),
        ({"module": "nope"}, "module", "Select a valid choice."),
    ],
)
def test_an_invalid_server_is_refused_with_the_error_in_the_form(
    client, admin_user, changes, field, message
):
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_create"), server_data(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.text
    assert not Server.objects.exists()


def test_a_missing_credential_is_refused_and_the_typed_secret_not_echoed(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_create"),
        server_data(name="", **{"credentials-api_key": ""}),
    )

    settings_form = response.context["form"].settings_form
    assert settings_form.errors["api_key"] == ["This field is required."]
    assert "This field is required." in response.text

    response = client.post(reverse("admin:server_create"), server_data(name=""))
    assert SECRET not in response.text  # re-rendered after an error, still not shown


# Editing: credentials are write-only.


def test_the_edit_page_never_shows_the_stored_secret(client, admin_user, server):
    client.force_login(admin_user)

    response = client.get(reverse("admin:server_edit", args=[server.pk]))

    assert response.status_code == 200
    assert SECRET not in response.text
    assert "Stored, and never shown again. Leave empty to keep it." in response.text
    assert 'value="create"' not in response.text  # the "fail" credential either
    assert 'value="node-1"' in response.text  # ordinary fields are shown


def test_the_credentials_swapped_in_by_htmx_do_not_show_the_secret_either(
    client, admin_user, server
):
    client.force_login(admin_user)

    response = client.get(
        reverse("admin:server_edit", args=[server.pk]),
        {"module": "test"},
        headers={"HX-Request": "true"},
    )

    assert 'name="credentials-api_key"' in response.text
    assert SECRET not in response.text


def test_an_empty_credential_keeps_the_stored_one(client, admin_user, server):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(name="node-1b", **{"credentials-api_key": "", "credentials-fail": ""}),
    )

    assert response.status_code == 302
    server.refresh_from_db()
    assert server.name == "node-1b"
    assert server.credentials == {"api_key": SECRET, "fail": "create", "fail_retryable": ""}


def test_a_typed_credential_replaces_the_stored_one(client, admin_user, server):
    client.force_login(admin_user)

    client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(**{"credentials-api_key": "new-key", "credentials-fail": "suspend"}),
    )

    server.refresh_from_db()
    assert server.credentials == {"api_key": "new-key", "fail": "suspend", "fail_retryable": ""}


def test_an_invalid_edit_does_not_render_the_secret_back(client, admin_user, server):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(port="0", **{"credentials-api_key": ""}),
    )

    assert response.status_code == 200
    assert "greater than or equal to 1" in response.text
    assert SECRET not in response.text


def test_changing_the_type_does_not_carry_the_old_credentials(client, admin_user, server):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_edit", args=[server.pk]),
        server_data(module="manual", **{"credentials-api_key": ""}),
    )

    assert response.status_code == 302
    server.refresh_from_db()
    assert (server.module, server.credentials) == ("manual", {})


# Testing the connection.


def test_a_working_connection_is_reported(client, admin_user, server):
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_test", args=[server.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:server_edit", args=[server.pk])
    assert "node-1: the connection works. connect done" in response.text


def test_a_failing_connection_shows_the_modules_message(client, admin_user):
    server = FakeServerFactory(name="node-down", fail="connect")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:server_test", args=[server.pk]),
        {"next": reverse("admin:server_list")},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("admin:server_list")
    assert "node-down: the connection failed. The test panel refused to connect." in response.text
    assert "alert-danger" in response.text


def test_a_server_of_an_unknown_module_fails_its_test_cleanly(client, admin_user):
    server = ServerFactory(name="orphan", module="gone")
    client.force_login(admin_user)

    response = client.post(reverse("admin:server_test", args=[server.pk]), follow=True)

    assert "No delivery module is registered as &#x27;gone&#x27;." in response.text


def test_testing_the_connection_is_post_only(client, admin_user, server):
    client.force_login(admin_user)

    assert client.get(reverse("admin:server_test", args=[server.pk])).status_code == 405
