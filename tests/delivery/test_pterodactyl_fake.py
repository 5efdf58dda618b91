"""The fake Pterodactyl panel speaks the panel's protocol (delivery-apis.md A.9): keys and
their kinds, envelopes, error shapes, the install and suspension state machine, deployment,
and the faults it injects. The module's tests rely on all of it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.fakes import pterodactyl
from tests.fakes.pterodactyl import APPLICATION_KEY, CLIENT_KEY, READ

JSON = "application/vnd.pterodactyl.v1+json"
NOT_FOUND = {
    "errors": [
        {
            "code": "NotFoundHttpException",
            "status": "404",
            "detail": "The requested resource could not be found on the server.",
        }
    ]
}


@pytest.fixture
def fake():
    with pterodactyl.serve() as panel:
        yield panel


def call(fake, method, path, key=APPLICATION_KEY, **kwargs):
    headers = {"Accept": JSON, **kwargs.pop("headers", {})}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.request(method, fake.base_url + path, headers=headers, timeout=5, **kwargs)


def server_body(fake, **overrides):
    body = {
        "name": "mc-1",
        "user": 1,
        "egg": fake.ids["egg"],
        "docker_image": "ghcr.io/pterodactyl/yolks:java_21",
        "startup": "java -jar {{SERVER_JARFILE}}",
        "environment": {"SERVER_JARFILE": "server.jar", "BUILD_NUMBER": "latest"},
        "limits": {"memory": 1024, "swap": 0, "disk": 5120, "io": 500, "cpu": 100},
        "feature_limits": {"databases": 0, "backups": 1, "allocations": 1},
        "deploy": {"locations": [fake.ids["location"]], "dedicated_ip": False, "port_range": []},
        "external_id": "svc-1",
    }
    return {**body, **overrides}


def create(fake, **overrides):
    response = call(fake, "POST", "/api/application/servers", json=server_body(fake, **overrides))
    assert response.status_code == 201, response.text
    return response.json()["attributes"]


# Keys ----------------------------------------------------------------------------------------


def test_keys_have_the_panels_format():
    assert len(APPLICATION_KEY) == len(CLIENT_KEY) == 48
    assert APPLICATION_KEY.startswith("ptla_")
    assert CLIENT_KEY.startswith("ptlc_")


def test_a_bad_or_missing_key_is_401_in_the_panels_error_shape(fake):
    for key in ["ptla_wrongwrongwrongwrongwrongwrongwrongwrongwron", None]:
        response = call(fake, "GET", "/api/application/servers", key=key)

        assert response.status_code == 401
        assert response.json() == {
            "errors": [
                {"code": "AuthenticationException", "status": "401", "detail": "Unauthenticated."}
            ]
        }


def test_without_a_json_accept_header_a_bad_key_is_sent_to_the_login_page(fake):
    response = httpx.get(
        fake.base_url + "/api/application/servers", headers={"Accept": "text/html"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"{fake.base_url}/auth/login"


def test_an_application_key_on_the_client_api_is_403(fake):
    response = call(fake, "GET", "/api/client", key=APPLICATION_KEY)

    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "code": "AccessDeniedHttpException",
        "status": "403",
        "detail": "You are attempting to use an application API key on an endpoint that "
        "requires a client API key.",
    }


def test_a_root_admins_client_key_works_on_the_application_api(fake):
    assert call(fake, "GET", "/api/application/servers", key=CLIENT_KEY).status_code == 200


def test_the_application_api_refuses_a_key_of_a_user_who_is_not_root_admin(fake):
    user = fake.add_user("player@example.com", "player")
    key = fake.add_key("application", user_id=user["id"])

    response = call(fake, "GET", "/api/application/servers", key=key)

    assert response.status_code == 403
    detail = response.json()["errors"][0]["detail"]
    assert detail == "This account does not have permission to access the API."


def test_a_key_without_the_resources_write_bit_is_403_unauthorized(fake):
    key = fake.add_key("application", acl={"servers": READ})

    assert call(fake, "GET", "/api/application/servers", key=key).status_code == 200
    response = call(fake, "POST", "/api/application/servers", key=key, json=server_body(fake))
    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"] == "This action is unauthorized."
    assert fake.servers == {}


# Envelopes -----------------------------------------------------------------------------------


def test_lists_are_paginated_with_fractals_meta(fake):
    for n in range(3):
        fake.add_user(f"u{n}@example.com", f"user{n}")

    page = call(fake, "GET", "/api/application/users", params={"per_page": 2, "page": 2}).json()

    assert page["object"] == "list"
    assert [entry["object"] for entry in page["data"]] == ["user", "user"]
    assert page["meta"]["pagination"] == {
        "total": 4,
        "count": 2,
        "per_page": 2,
        "current_page": 2,
        "total_pages": 2,
        "links": {"previous": f"{fake.base_url}/api/application/users?page=1"},
    }


def test_the_email_filter_is_a_partial_match_and_an_unknown_filter_a_400(fake):
    fake.add_user("bob@example.com", "bob")
    fake.add_user("bobby@example.com", "bobby")

    found = call(fake, "GET", "/api/application/users", params={"filter[email]": "bob@"}).json()
    assert [u["attributes"]["email"] for u in found["data"]] == ["bob@example.com"]
    found = call(fake, "GET", "/api/application/users", params={"filter[email]": "bob"}).json()
    assert len(found["data"]) == 2
    bad = call(fake, "GET", "/api/application/users", params={"filter[password]": "x"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "InvalidFilterQuery"


def test_creating_a_user_answers_201_with_meta_resource(fake):
    body = {"email": "a@example.com", "username": "alice", "first_name": "A", "last_name": "B"}
    response = call(fake, "POST", "/api/application/users", json=body)

    assert response.status_code == 201
    user = response.json()
    assert user["object"] == "user"
    assert user["meta"] == {
        "resource": f"{fake.base_url}/api/application/users/{user['attributes']['id']}"
    }
    again = call(fake, "POST", "/api/application/users", json={**body, "username": "other"})
    assert again.status_code == 422
    assert again.json()["errors"] == [
        {
            "code": "ValidationException",
            "status": "422",
            "detail": "The email has already been taken.",
            "meta": {"source_field": "email", "rule": "unique"},
        }
    ]


def test_includes_are_merged_under_attributes_relationships(fake):
    server = create(fake)

    with_allocations = call(
        fake, "GET", f"/api/application/servers/{server['id']}", params={"include": "allocations"}
    ).json()["attributes"]
    egg = call(
        fake,
        "GET",
        f"/api/application/nests/{fake.ids['nest']}/eggs/{fake.ids['egg']}",
        params={"include": "variables"},
    ).json()

    allocations = with_allocations["relationships"]["allocations"]
    assert allocations["object"] == "list"
    assert allocations["data"][0]["object"] == "allocation"
    assert allocations["data"][0]["attributes"]["id"] == server["allocation"]
    assert allocations["data"][0]["attributes"]["assigned"] is True
    assert egg["object"] == "egg"
    variables = egg["attributes"]["relationships"]["variables"]["data"]
    assert {v["object"] for v in variables} == {"egg_variable"}
    assert [v["attributes"]["env_variable"] for v in variables] == [
        "MINECRAFT_VERSION",
        "SERVER_JARFILE",
        "BUILD_NUMBER",
    ]


def test_eggs_of_a_nest_are_a_list_without_pagination(fake):
    eggs = call(fake, "GET", f"/api/application/nests/{fake.ids['nest']}/eggs").json()

    assert eggs["object"] == "list"
    assert "meta" not in eggs
    assert eggs["data"][0]["attributes"]["name"] == "Paper"


def test_unassigned_allocations_of_a_node(fake):
    server = create(fake)
    path = f"/api/application/nodes/{fake.ids['node']}/allocations"

    free = call(fake, "GET", path, params={"filter[server_id]": "none"}).json()

    ids = [a["attributes"]["id"] for a in free["data"]]
    assert len(ids) == 19
    assert server["allocation"] not in ids


# Errors --------------------------------------------------------------------------------------


def test_unknown_ids_and_external_ids_are_404_and_the_external_lookup_is_exact(fake):
    create(fake, external_id="420")

    assert call(fake, "GET", "/api/application/servers/999").json() == NOT_FOUND
    assert call(fake, "GET", "/api/application/servers/nil").json() == NOT_FOUND
    missing = call(fake, "GET", "/api/application/servers/external/42")
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND
    assert call(fake, "GET", "/api/application/servers/external/420").status_code == 200


def test_validation_errors_name_the_field_and_the_rule(fake):
    body = server_body(fake, limits={"swap": 0, "disk": 5120, "io": 5, "cpu": 100})
    del body["feature_limits"]["backups"]

    response = call(fake, "POST", "/api/application/servers", json=body)

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["code"] for e in errors} == {"ValidationException"}
    assert {e["status"] for e in errors} == {"422"}
    assert [(e["meta"]["source_field"], e["meta"]["rule"], e["detail"]) for e in errors] == [
        ("limits.memory", "required", "The limits.memory field is required."),
        ("limits.io", "between", "The limits.io must be between 10 and 1000."),
        (
            "feature_limits.backups",
            "present",
            "The feature limits.backups field must be present.",
        ),
    ]


def test_an_allocation_already_assigned_and_a_taken_external_id_are_refused(fake):
    first = create(fake)
    body = server_body(fake, allocation={"default": first["allocation"]})
    del body["deploy"]

    errors = call(fake, "POST", "/api/application/servers", json=body).json()["errors"]

    assert [(e["meta"]["source_field"], e["meta"]["rule"]) for e in errors] == [
        ("external_id", "unique"),
        ("allocation.default", "exists"),
    ]
    assert len(fake.servers) == 1


def test_egg_variables_are_validated_with_their_rules(fake):
    body = server_body(fake, environment={"SERVER_JARFILE": "server.zip"})

    errors = call(fake, "POST", "/api/application/servers", json=body).json()["errors"]

    assert [(e["meta"]["source_field"], e["detail"]) for e in errors] == [
        ("environment.SERVER_JARFILE", "The Server Jar File variable format is invalid."),
        ("environment.BUILD_NUMBER", "The Build Number variable field is required."),
    ]


def test_malformed_json_is_a_400(fake):
    response = call(
        fake,
        "POST",
        "/api/application/servers",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BadRequestHttpException"


# Deployment ----------------------------------------------------------------------------------


def test_deployment_takes_a_free_port_of_the_range_on_a_node_of_the_location(fake):
    server = create(fake, deploy={"locations": [1], "dedicated_ip": False, "port_range": ["25570"]})

    assert fake.allocations[server["allocation"]]["port"] == 25570
    assert server["node"] == fake.ids["node"]


def test_deployment_errors_when_no_node_or_no_allocation_fits(fake):
    no_node = call(
        fake,
        "POST",
        "/api/application/servers",
        json=server_body(fake, limits={"memory": 10**7, "swap": 0, "disk": 1, "io": 500, "cpu": 0}),
    )
    for n in range(20):
        create(fake, external_id=f"svc-{n}")
    no_port = call(
        fake, "POST", "/api/application/servers", json=server_body(fake, external_id="x")
    )

    assert no_node.status_code == no_port.status_code == 400
    assert no_node.json()["errors"][0]["code"] == "NoViableNodeException"
    assert no_port.json()["errors"][0] == {
        "code": "NoViableAllocationException",
        "status": "400",
        "detail": "No allocations satisfying the requirements for automatic deployment were found.",
    }


# The state machine ---------------------------------------------------------------------------


def test_a_new_server_is_installing_then_installed_after_the_configured_reads(fake):
    server = create(fake)
    path = f"/api/application/servers/{server['id']}"

    assert server["status"] == "installing"
    assert server["container"]["installed"] == 0
    assert call(fake, "GET", path).json()["attributes"]["status"] == "installing"
    installed = call(fake, "GET", path).json()["attributes"]
    assert installed["status"] is None
    assert installed["container"]["installed"] == 1


def test_installs_can_take_time_instead_of_reads():
    with pterodactyl.serve(install_reads=None, install_seconds=0.3) as fake:
        server = create(fake)
        path = f"/api/application/servers/{server['id']}"
        assert call(fake, "GET", path).json()["attributes"]["status"] == "installing"
        time.sleep(0.35)
        assert call(fake, "GET", path).json()["attributes"]["status"] is None


def test_a_failed_install_and_a_failed_reinstall(fake):
    server = create(fake)
    fake.finish_install(server["id"], ok=False)
    path = f"/api/application/servers/{server['id']}"

    assert call(fake, "GET", path).json()["attributes"]["status"] == "install_failed"
    assert call(fake, "POST", f"{path}/reinstall").status_code == 204
    fake.finish_install(server["id"], ok=False)
    assert call(fake, "GET", path).json()["attributes"]["status"] == "reinstall_failed"


def test_suspension_is_idempotent_answers_204_and_survives_the_install(fake):
    server = create(fake)
    path = f"/api/application/servers/{server['id']}"

    first = call(fake, "POST", f"{path}/suspend")
    second = call(fake, "POST", f"{path}/suspend")
    fake.finish_install(server["id"])

    assert first.status_code == second.status_code == 204
    assert first.content == b""
    attributes = call(fake, "GET", path).json()["attributes"]
    assert attributes["status"] == "suspended"
    assert attributes["suspended"] is True
    assert call(fake, "POST", f"{path}/unsuspend").status_code == 204
    assert call(fake, "POST", f"{path}/unsuspend").status_code == 204
    assert fake.servers[server["id"]]["status"] is None


def test_suspension_is_409_during_a_transfer(fake):
    server = create(fake)
    fake.servers[server["id"]]["_transferring"] = True

    response = call(fake, "POST", f"/api/application/servers/{server['id']}/suspend")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "ConflictHttpException"


def test_the_client_api_is_409_while_installing_or_suspended_except_the_server_view(fake):
    fake.install_reads = None
    server = create(fake)
    client = f"/api/client/servers/{server['identifier']}"

    installing = call(fake, "GET", f"{client}/resources", key=CLIENT_KEY)
    view = call(fake, "GET", client, key=CLIENT_KEY)
    fake.finish_install(server["id"])
    call(fake, "POST", f"/api/application/servers/{server['id']}/suspend")
    suspended = call(fake, "POST", f"{client}/power", key=CLIENT_KEY, json={"signal": "start"})

    assert installing.status_code == suspended.status_code == 409
    assert installing.json()["errors"][0]["code"] == "ServerStateConflictException"
    assert "not yet completed its installation" in installing.json()["errors"][0]["detail"]
    assert suspended.json()["errors"][0]["detail"] == (
        "This server is currently suspended and the functionality requested is unavailable."
    )
    assert view.status_code == 200
    assert view.json()["attributes"]["is_installing"] is True


def test_power_and_resources(fake):
    fake.install_reads = 0
    server = create(fake)
    client = f"/api/client/servers/{server['identifier']}"

    assert (
        call(fake, "GET", f"{client}/resources", key=CLIENT_KEY).json()["attributes"][
            "current_state"
        ]
        == "offline"
    )
    started = call(fake, "POST", f"{client}/power", key=CLIENT_KEY, json={"signal": " start"})
    stats = call(fake, "GET", f"{client}/resources", key=CLIENT_KEY).json()
    bad = call(fake, "POST", f"{client}/power", key=CLIENT_KEY, json={"signal": "explode"})

    assert started.status_code == 204
    assert stats["object"] == "stats"
    assert stats["attributes"]["current_state"] == "running"
    assert stats["attributes"]["resources"]["memory_bytes"] == int(1024 * 0.4 * 1024 * 1024)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["detail"] == "The selected signal is invalid."
    assert bad.json()["errors"][0]["meta"]["rule"] == "in"


def test_the_client_api_hides_others_servers_from_a_user_who_is_not_admin(fake):
    fake.install_reads = 0
    server = create(fake)
    user = fake.add_user("player@example.com", "player")
    key = fake.add_key("client", user_id=user["id"])

    response = call(fake, "GET", f"/api/client/servers/{server['identifier']}", key=key)
    listed = call(fake, "GET", "/api/client", key=key, params={"type": "admin-all"}).json()
    admin_listed = call(fake, "GET", "/api/client", key=CLIENT_KEY, params={"type": "admin-all"})

    assert response.status_code == 404
    assert listed["data"] == []
    assert len(admin_listed.json()["data"]) == 1


def test_delete_frees_the_allocation_and_then_the_server_is_404(fake):
    server = create(fake)
    path = f"/api/application/servers/{server['id']}"

    deleted = call(fake, "DELETE", path)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert fake.allocations[server["allocation"]]["server_id"] is None
    assert call(fake, "DELETE", path).status_code == 404
    other = create(fake, external_id="svc-2")
    assert call(fake, "DELETE", f"/api/application/servers/{other['id']}/force").status_code == 204


def test_wings_down_leaves_no_half_created_server_and_rolls_back_suspension(fake):
    server = create(fake)
    fake.wings_down = True

    created = call(
        fake, "POST", "/api/application/servers", json=server_body(fake, external_id="2")
    )
    suspended = call(fake, "POST", f"/api/application/servers/{server['id']}/suspend")

    assert created.status_code == suspended.status_code == 504
    assert created.json()["errors"][0]["code"] == "DaemonConnectionException"
    assert list(fake.servers) == [server["id"]]
    assert fake.servers[server["id"]]["status"] == "installing"


def test_details_clear_an_omitted_external_id(fake):
    server = create(fake)

    call(
        fake,
        "PATCH",
        f"/api/application/servers/{server['id']}/details",
        json={"name": "x", "user": 1},
    )

    assert fake.servers[server["id"]]["external_id"] is None


# Faults --------------------------------------------------------------------------------------


def test_an_injected_5xx_hits_only_its_path_and_only_so_many_times(fake):
    fake.inject("/api/application/servers*", status=502, times=1)

    failed = call(fake, "GET", "/api/application/servers")
    other = call(fake, "GET", "/api/application/nodes")
    again = call(fake, "GET", "/api/application/servers")

    assert failed.status_code == 502
    assert failed.json()["errors"][0]["status"] == "502"
    assert other.status_code == again.status_code == 200


def test_an_injected_429_says_when_to_come_back(fake):
    fake.inject("/api/application/*", status=429, retry_after=7)

    response = call(fake, "GET", "/api/application/servers")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["errors"][0]["code"] == "ThrottleRequestsException"


def test_an_injected_hang_outlasts_the_clients_timeout_and_latency_delays(fake):
    fake.inject("/api/application/servers", method="GET", hang=5)
    fake.inject("/api/application/nodes", latency=0.2)

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            fake.base_url + "/api/application/servers",
            headers={"Authorization": f"Bearer {APPLICATION_KEY}", "Accept": JSON},
            timeout=0.3,
        )
    started = time.monotonic()
    assert call(fake, "GET", "/api/application/nodes").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_fault_after_the_panel_acted_loses_the_answer_not_the_work(fake):
    fake.inject("/api/application/servers", method="POST", status=500, after=True, times=1)

    response = call(fake, "POST", "/api/application/servers", json=server_body(fake))

    assert response.status_code == 500
    assert [s["external_id"] for s in fake.servers.values()] == ["svc-1"]


def test_requests_are_recorded_with_the_key_they_used(fake):
    call(fake, "GET", "/api/application/servers", params={"filter[external_id]": "x"})

    [received] = fake.received("GET", "/api/application/servers")
    assert received.token == APPLICATION_KEY
    assert received.query == {"filter[external_id]": ["x"]}


# The demo entry point ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_demo_serves_two_servers_to_import_and_prints_its_keys():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.pterodactyl", "--port", str(port), "--demo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        servers = httpx.get(
            f"http://127.0.0.1:{port}/api/application/servers",
            headers={"Authorization": f"Bearer {APPLICATION_KEY}", "Accept": JSON},
        ).json()
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert lines[0].strip() == f"Fake Pterodactyl panel at http://127.0.0.1:{port}"
    assert APPLICATION_KEY in lines[1]
    assert CLIENT_KEY in lines[2]
    assert [s["attributes"]["name"] for s in servers["data"]] == [
        "Survival world",
        "Creative build",
    ]
    assert {s["attributes"]["external_id"] for s in servers["data"]} == {None}
