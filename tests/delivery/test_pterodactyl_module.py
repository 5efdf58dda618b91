"""The Pterodactyl module against the fake panel, through the real ``PanelClient``: every
operation, every kind of failure, its tabs, and the tab action views of both areas."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from delivery.calllog import calling
from delivery.forms import ServerForm
from delivery.http import PanelError
from delivery.models import ModuleCall, Server
from delivery.modules.base import Audience, ModuleError
from delivery.modules.pterodactyl import username_for
from delivery.modules.pterodactyl.api import panel_url
from delivery.registry import get_module
from products.forms import ProductForm
from services.choices import ServiceAction, ServiceStatus
from services.models import ServiceEvent
from tests.delivery.pterodactyl_setup import config
from tests.factories import ProductFactory, ServiceFactory, StaffFactory
from tests.fakes.pterodactyl import APPLICATION_KEY, CLIENT_KEY

module = get_module("pterodactyl")


def posts(fake, pattern):
    return fake.received("POST", pattern)


# Configuration -------------------------------------------------------------------------------


def test_the_module_is_registered_with_import():
    assert module.label == "Pterodactyl"
    assert module.supports_import is True


def test_the_panels_address_is_the_servers_hostname_port_and_scheme():
    def url(hostname, port, scheme=None):
        return panel_url(Server(hostname=hostname, port=port, credentials={"scheme": scheme}))

    assert url("panel.example.com", 443) == "https://panel.example.com"
    assert url("panel.example.com", 8443, "https") == "https://panel.example.com:8443"
    assert url("127.0.0.1", 8091, "http") == "http://127.0.0.1:8091"
    assert url("https://panel.example.com/", 443) == "https://panel.example.com"


def test_credentials_are_write_only_and_a_client_key_must_not_be_an_application_key(
    panel_server,
):
    form = ServerForm(instance=panel_server)
    html = str(form.settings_form)

    assert APPLICATION_KEY not in html
    assert CLIENT_KEY not in html
    assert 'type="password"' in html
    with pytest.raises(ValidationError, match="application key"):
        module.clean_server_credentials(
            {"scheme": "https", "application_key": APPLICATION_KEY, "client_key": APPLICATION_KEY}
        )


def test_the_product_configuration_is_validated(fake):
    assert config(fake)["port_range"] == ""
    with pytest.raises(ValidationError, match="a location .* or a node"):
        config(fake, location=None)
    with pytest.raises(ValidationError, match="not both"):
        config(fake, node=fake.ids["node"])
    with pytest.raises(ValidationError, match="spans more than 1000"):
        config(fake, port_range="25565-27000")
    with pytest.raises(ValidationError, match="JSON object"):
        config(fake, environment=["x"])
    with pytest.raises(ValidationError, match="io"):
        config(fake, io=5)
    assert config(fake, port_range=" 25565-25600,27015 ")["port_range"] == "25565-25600, 27015"


def test_a_stored_configuration_shows_again_in_the_product_form(db, fake):
    stored = config(fake, port_range="25565-25600", environment={"MINECRAFT_VERSION": "1.21"})
    product = ProductFactory(module="pterodactyl", module_config=stored)

    html = str(ProductForm(instance=product).settings_form)

    assert 'value="25565-25600"' in html
    assert "{&quot;MINECRAFT_VERSION&quot;: &quot;1.21&quot;}" in html


def test_usernames_follow_the_panels_rule():
    assert username_for("Bob.Owner+games@example.com", 7) == "bob.ownergames-7"
    assert username_for("__@example.com", 3) == "customer-3"


# Create and follow ---------------------------------------------------------------------------


def test_create_makes_the_panel_user_and_the_server_named_by_the_services_uuid(fake, service):
    result = module.create(service)

    [user] = [u for u in fake.users.values() if u["email"] == "bob@example.com"]
    assert user["username"] == f"bob-{service.customer.pk}"
    assert (user["first_name"], user["last_name"]) == ("Bob", "Owner")
    [server] = fake.servers.values()
    assert server["external_id"] == str(service.uuid)
    assert server["user"] == user["id"]
    assert server["limits"]["memory"] == 1024
    assert server["feature_limits"] == {"databases": 1, "allocations": 1, "backups": 2}
    assert server["environment"] == {
        "MINECRAFT_VERSION": "1.21",
        "SERVER_JARFILE": "server.jar",
        "BUILD_NUMBER": "latest",
    }
    allocation = fake.allocations[server["allocation"]]
    assert result.external_id == str(server["id"])
    assert result.waiting is True
    assert result.data["identifier"] == server["identifier"]
    assert result.data["address"] == f"203.0.113.10:{allocation['port']}"
    assert "installing" in result.message


def test_create_uses_the_panel_user_who_has_the_customers_email(fake, service):
    existing = fake.add_user("bob@example.com", "bobby")
    fake.add_user("bob@example.com.au", "bobau")

    module.create(service)

    assert posts(fake, "/api/application/users") == []
    [server] = fake.servers.values()
    assert server["user"] == existing["id"]


def test_create_deploys_on_the_products_ports(fake, service):
    service.product.module_config = config(fake, port_range="25570")

    module.create(service)

    [server] = fake.servers.values()
    assert fake.allocations[server["allocation"]]["port"] == 25570
    [request] = posts(fake, "/api/application/servers")
    assert request.body["deploy"] == {
        "locations": [fake.ids["location"]],
        "dedicated_ip": False,
        "port_range": ["25570"],
    }


def test_create_on_a_node_takes_one_of_its_free_allocations(fake, service):
    service.product.module_config = config(fake, location=None, node=fake.ids["node"])
    service.product.save()

    result = module.create(service)

    [server] = fake.servers.values()
    assert fake.allocations[server["allocation"]]["node_id"] == fake.ids["node"]
    assert [r.body.get("allocation") for r in posts(fake, "/api/application/servers")] == [
        {"default": server["allocation"]}
    ]
    assert result.external_id == str(server["id"])


def test_a_retry_after_a_lost_answer_finds_the_server_instead_of_making_another(fake, service):
    fake.inject("/api/application/servers", method="POST", status=502, after=True, times=1)

    with pytest.raises(PanelError) as lost:
        module.create(service)
    result = module.create(service)

    assert lost.value.retryable is True
    assert len(fake.servers) == 1
    assert len(posts(fake, "/api/application/servers")) == 1
    [server] = fake.servers.values()
    assert result.external_id == str(server["id"])
    assert "earlier try" in result.message


def test_follow_waits_while_installing_and_is_done_once_installed(fake, service):
    fake.install_reads = None
    created = module.create(service)
    service.external_id = created.external_id

    waiting = module.follow(service, "deliver")
    fake.finish_install(int(created.external_id))
    done = module.follow(service, "deliver")

    assert waiting.waiting is True
    assert done.waiting is False
    assert done.external_id == created.external_id
    assert done.data["identifier"] == created.data["identifier"]


def test_a_failed_install_is_an_error_that_retrying_does_not_fix(fake, service):
    fake.install_reads = None
    created = module.create(service)
    service.external_id = created.external_id
    fake.finish_install(int(created.external_id), ok=False)

    with pytest.raises(ModuleError, match="could not install") as failed:
        module.follow(service, "deliver")

    assert failed.value.retryable is False


def test_follow_finds_the_server_by_the_services_uuid_when_no_id_was_kept(fake, service):
    module.create(service)

    assert module.follow(service, "deliver").waiting is False


# Suspend, unsuspend, terminate ---------------------------------------------------------------


def test_suspend_and_unsuspend_are_idempotent(fake, active_service):
    server = fake.servers[int(active_service.external_id)]

    module.suspend(active_service)
    module.suspend(active_service)
    assert server["status"] == "suspended"
    module.unsuspend(active_service)
    result = module.unsuspend(active_service)
    assert server["status"] is None
    assert result.message == f"Server {server['id']} unsuspended on the panel."


def test_suspending_a_server_gone_from_the_panel_is_an_error(fake, active_service):
    del fake.servers[int(active_service.external_id)]

    with pytest.raises(ModuleError, match="no longer on the panel"):
        module.suspend(active_service)


def test_terminate_deletes_and_a_server_already_gone_counts_as_deleted(fake, active_service):
    first = module.terminate(active_service)
    second = module.terminate(active_service)

    assert fake.servers == {}
    assert first.message.endswith("deleted from the panel.")
    assert "already gone" in second.message


def test_terminate_of_a_service_never_created_calls_for_nothing(fake, service):
    assert module.terminate(service).message == "No server on the panel: nothing to delete."
    assert fake.received("DELETE", "*") == []


def test_on_renew_calls_nothing(fake, active_service):
    before = len(fake.requests)

    module.on_renew(active_service)

    assert len(fake.requests) == before


# Connection test and import ------------------------------------------------------------------


def test_test_connection_checks_both_keys(fake, panel_server):
    fake.add_server("Existing", owner_id=1)

    result = module.test_connection(panel_server)

    assert result.message == (
        "Application API key: 1 servers on the panel. Client API key: accepted, reaching 1 of them."
    )
    assert [r.token for r in fake.received("GET", "/api/client")] == [CLIENT_KEY]


@pytest.mark.parametrize(
    ("credential", "key", "message"),
    [
        ("application_key", "ptla_" + "x" * 43, "refused the application API key (bad API key)"),
        ("client_key", "ptlc_" + "x" * 43, "refused the client API key (bad API key)"),
        ("client_key", APPLICATION_KEY, "Wrong key kind"),
    ],
)
def test_test_connection_names_the_key_at_fault(fake, panel_server, credential, key, message):
    panel_server.credentials = {**panel_server.credentials, credential: key}

    with pytest.raises(ModuleError, match=re.escape(message)) as failed:
        module.test_connection(panel_server)

    assert failed.value.retryable is False


def test_test_connection_refuses_a_client_key_that_reaches_no_ones_servers(fake, panel_server):
    fake.add_server("Existing", owner_id=1)
    player = fake.add_user("player@example.com", "player")
    panel_server.credentials = {
        **panel_server.credentials,
        "client_key": fake.add_key("client", user_id=player["id"]),
    }

    with pytest.raises(ModuleError, match="not a panel administrator"):
        module.test_connection(panel_server)


def test_list_importable_lists_every_server_with_its_owner(fake, panel_server):
    steve = fake.add_user("steve@example.com", "steve")
    one = fake.add_server("Survival", owner_id=steve["id"])
    two = fake.add_server("Creative", owner_id=1)

    resources = module.list_importable(panel_server)

    assert [(r.id, r.label) for r in resources] == [
        (str(one["id"]), f"Survival ({one['identifier']}) — steve@example.com"),
        (str(two["id"]), f"Creative ({two['identifier']}) — admin@panel.test"),
    ]


def test_list_importable_reads_every_page(fake, panel_server):
    fake.add_node(fake.ids["location"], "fra-2", ip="203.0.113.11", ports=range(30000, 30200))
    for n in range(120):
        fake.add_server(f"S{n}", owner_id=1)

    assert len(module.list_importable(panel_server)) == 120
    assert len(fake.received("GET", "/api/application/servers")) == 2


def test_import_links_an_existing_server(fake, service):
    existing = fake.add_server("Legacy", owner_id=1)

    result = module.import_existing(service, str(existing["id"]))

    assert result.external_id == str(existing["id"])
    assert result.waiting is False
    assert result.data["identifier"] == existing["identifier"]
    assert result.data["address"].startswith("203.0.113.10:")
    assert fake.received("POST", "*") == []


def test_import_of_an_unknown_or_malformed_id_is_an_error(fake, service):
    with pytest.raises(ModuleError, match="has no server 999"):
        module.import_existing(service, "999")
    with pytest.raises(ModuleError, match="not the id"):
        module.import_existing(service, "../users")


# Failures ------------------------------------------------------------------------------------


def test_a_5xx_is_retryable_with_the_panels_words(fake, service):
    fake.inject("/api/application/users", status=503)

    with pytest.raises(ModuleError) as failed:
        module.create(service)

    assert failed.value.retryable is True
    assert failed.value.message.startswith("The panel failed (503)")
    assert fake.servers == {}


def test_a_timeout_is_retryable(fake, service, settings):
    settings.DELIVERY_READ_TIMEOUT = 0.3
    fake.inject("/api/application/servers", method="POST", hang=3)

    with pytest.raises(ModuleError) as failed:
        module.create(service)

    assert failed.value.retryable is True
    assert failed.value.message == "The panel did not answer within 0.3 seconds."


def test_a_429_is_retryable_after_the_panels_delay(fake, active_service):
    fake.inject("/api/application/servers/*/suspend", status=429, retry_after=30)

    with pytest.raises(PanelError) as failed:
        module.suspend(active_service)

    assert failed.value.retryable is True
    assert failed.value.retry_after == 30
    assert "rate" in failed.value.message
    assert fake.servers[int(active_service.external_id)]["status"] is None


def test_a_bad_key_is_not_retryable(fake, service):
    service.server.credentials = {**service.server.credentials, "application_key": "ptla_bad"}

    with pytest.raises(ModuleError, match="bad API key") as failed:
        module.create(service)

    assert failed.value.retryable is False


def test_a_422_is_not_retryable_and_says_what_the_panel_refused(fake, service):
    service.product.module_config = config(fake, environment={"SERVER_JARFILE": "server.zip"})

    with pytest.raises(ModuleError) as failed:
        module.create(service)

    assert failed.value.retryable is False
    assert failed.value.message == (
        "The panel refused the request: The Server Jar File variable format is invalid."
    )
    assert fake.servers == {}


def test_no_room_on_the_panel_is_not_retryable(fake, service):
    for allocation in fake.allocations.values():
        allocation["server_id"] = 999

    with pytest.raises(ModuleError, match="No allocations satisfying") as failed:
        module.create(service)

    assert failed.value.retryable is False


def test_a_custom_service_without_a_product_cannot_be_created(fake, service):
    service.product = None

    with pytest.raises(ModuleError, match="Import an existing server"):
        module.create(service)


def test_the_call_log_holds_every_call_and_no_key(fake, service):
    fake.inject("/api/application/servers", method="POST", status=500, times=1)
    with calling(service_id=service.pk, operation="deliver"), pytest.raises(ModuleError):
        module.create(service)
    with calling(service_id=service.pk, operation="deliver"):
        module.create(service)

    calls = list(ModuleCall.objects.filter(service_ref=service.pk).order_by("id"))
    assert len(calls) == len(fake.requests)
    assert [c.status for c in calls if c.method == "POST" and c.url.endswith("/servers")] == [
        500,
        201,
    ]
    for call in calls:
        stored = " ".join([call.url, call.request_body, call.response_body, call.error])
        assert APPLICATION_KEY not in stored
        assert CLIENT_KEY not in stored
    assert {c.module for c in calls} == {"pterodactyl"}


# Tabs ----------------------------------------------------------------------------------------


def test_the_tabs_of_each_audience(active_service):
    staff = [tab.key for tab in module.tabs(active_service, Audience.STAFF)]
    customer = [tab.key for tab in module.tabs(active_service, Audience.CUSTOMER)]

    assert staff == ["overview", "power", "reinstall", "details"]
    assert customer == ["overview", "power", "reinstall"]


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def bob(client, customer):
    client.force_login(customer.user)
    return client


def tab_page(http, area, service, key):
    response = http.get(reverse(f"{area}:service_tab", args=[service.pk, key]))
    assert response.status_code == 200
    return response.text


def test_the_overview_shows_state_address_figures_and_the_panel_link(
    fake, active_service, staff_client
):
    server = fake.servers[int(active_service.external_id)]
    allocation = fake.allocations[server["allocation"]]

    page = tab_page(staff_client, "admin", active_service, "overview")

    assert 'data-server-state="running"' in page
    assert f"203.0.113.10:{allocation['port']}" in page
    assert "819 MiB of 2048 MiB" in page  # 40 % of the limit, as the fake reports
    assert "w-pct-40" in page
    assert "12.5 % of 100 %" in page
    assert f'href="{fake.base_url}/server/{server["identifier"]}"' in page


def test_a_suspended_server_shows_why_it_has_no_figures(fake, active_service, bob):
    fake.servers[int(active_service.external_id)]["status"] = "suspended"

    page = tab_page(bob, "client", active_service, "overview")

    assert 'data-server-state="suspended"' in page
    assert "This server is currently suspended" in page
    assert 'data-figure="cpu"' not in page


def test_the_power_tab_offers_the_actions_and_asks_before_kill(fake, active_service, bob):
    page = tab_page(bob, "client", active_service, "power")

    for signal in ["start", "restart", "stop"]:
        url = reverse("client:service_tab_action", args=[active_service.pk, "power", signal])
        assert f'action="{url}"' in page
    assert 'data-bs-target="#tab-action-power-kill"' in page
    kill = reverse("client:service_tab_action", args=[active_service.pk, "power", "kill"])
    assert f'action="{kill}"' in page  # in the confirmation dialog
    assert "Kill stops the server at once" in page
    assert "csrfmiddlewaretoken" in page


def test_staff_see_the_raw_details_without_secrets(fake, active_service, staff_client):
    page = tab_page(staff_client, "admin", active_service, "details")

    assert "&quot;identifier&quot;" in page
    assert APPLICATION_KEY not in page
    assert CLIENT_KEY not in page


def test_customers_have_no_details_tab(active_service, bob):
    url = reverse("client:service_tab", args=[active_service.pk, "details"])

    assert bob.get(url).status_code == 404


def test_a_panel_that_fails_shows_its_error_inside_the_tab(fake, active_service, staff_client):
    fake.inject("/api/client/*", status=500)

    page = tab_page(staff_client, "admin", active_service, "overview")

    assert "data-tab-error" in page
    assert "The panel failed (500)" in page


# Tab actions ---------------------------------------------------------------------------------


def action_url(area, service, tab, action):
    return reverse(f"{area}:service_tab_action", args=[service.pk, tab, action])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def power_signals(fake):
    return [(r.body["signal"], r.token) for r in fake.received("POST", "/api/client/*/power")]


def test_staff_restart_the_server(fake, active_service, staff_client):
    events = ServiceEvent.objects.filter(service=active_service, action=ServiceAction.PANEL)

    response = staff_client.post(action_url("admin", active_service, "power", "restart"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:service_tab", args=[active_service.pk, "power"])
    assert power_signals(fake) == [("restart", CLIENT_KEY)]
    assert messages_of(response) == ["The server is restarting."]
    assert events.count() == 1


def test_a_customer_restarts_their_own_server(fake, active_service, bob):
    response = bob.post(action_url("client", active_service, "power", "restart"))

    assert response.status_code == 302
    assert response["Location"] == reverse("client:service_tab", args=[active_service.pk, "power"])
    assert power_signals(fake) == [("restart", CLIENT_KEY)]
    assert messages_of(response) == ["The server is restarting."]


def test_another_customer_gets_404_and_nothing_is_sent(
    fake, active_service, client, other_customer
):
    client.force_login(other_customer.user)

    response = client.post(action_url("client", active_service, "power", "restart"))

    assert response.status_code == 404
    assert power_signals(fake) == []


def test_a_get_is_405(fake, active_service, bob):
    assert bob.get(action_url("client", active_service, "power", "restart")).status_code == 405
    assert power_signals(fake) == []


def test_staff_get_405_on_a_get_too(fake, active_service, staff_client):
    assert (
        staff_client.get(action_url("admin", active_service, "power", "restart")).status_code == 405
    )


def test_an_unknown_tab_or_action_is_404(fake, active_service, bob):
    assert bob.post(action_url("client", active_service, "power", "explode")).status_code == 404
    assert bob.post(action_url("client", active_service, "details", "x")).status_code == 404
    assert power_signals(fake) == []


def test_staff_without_the_change_permission_may_not_act(fake, active_service, client):
    viewer = StaffFactory()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_service"))
    client.force_login(viewer)

    page = client.get(reverse("admin:service_tab", args=[active_service.pk, "power"]))
    response = client.post(action_url("admin", active_service, "power", "restart"))

    assert page.status_code == 200
    assert 'data-tab-actions="power"' in page.text
    assert 'data-action="restart"' not in page.text  # no button offered only to answer 403
    assert response.status_code == 403
    assert power_signals(fake) == []


def test_reinstall_through_its_tab(fake, active_service, staff_client):
    response = staff_client.post(action_url("admin", active_service, "reinstall", "reinstall"))

    assert messages_of(response) == ["The panel is reinstalling the server."]
    assert fake.servers[int(active_service.external_id)]["status"] == "installing"


def test_a_panel_failure_is_shown_to_staff_and_summed_up_for_customers(
    fake, active_service, staff_client, customer
):
    fake.wings_down = True
    owner = Client()
    owner.force_login(customer.user)

    staff = staff_client.post(action_url("admin", active_service, "power", "start"))
    own = owner.post(action_url("client", active_service, "power", "start"))

    assert messages_of(staff) == [
        "The panel failed (504): Could not establish a connection to the machine running "
        "this server. Please try again."
    ]
    assert messages_of(own) == [
        f"Start could not be done on service #{active_service.pk} right now. Please try again "
        "later or contact support."
    ]
    errors = ServiceEvent.objects.filter(service=active_service, action=ServiceAction.PANEL)
    assert [e.error for e in errors] == [messages_of(staff)[0]] * 2


def test_a_service_that_is_not_active_refuses_panel_actions(fake, active_service, staff_client):
    ServiceFactory._meta.model.objects.filter(pk=active_service.pk).update(
        status=ServiceStatus.SUSPENDED
    )

    response = staff_client.post(action_url("admin", active_service, "power", "start"))

    assert response.status_code == 302
    assert power_signals(fake) == []
    [message] = messages_of(response)
    assert message.startswith(f"Cannot use the panel on service #{active_service.pk}")
