"""The tabs of a Proxmox VE service for staff and customers, against the fake node, and
their actions through the tab action views: power (confirmation where data can be lost),
reinstall into the same VMID, and an error panel when the node fails."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from delivery.modules.base import Audience
from delivery.registry import get_module
from services import lifecycle
from services.models import ServiceEvent
from tests.delivery.proxmox_vps import *  # noqa: F403 - the fixtures
from tests.delivery.proxmox_vps import marked_vms

module = get_module("proxmox")


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


def act(http, area, service, tab, action):
    url = reverse(f"{area}:service_tab_action", args=[service.pk, tab, action])
    return http.post(url)


def test_the_tabs_of_each_audience(active_service):
    staff = [tab.key for tab in module.tabs(active_service, Audience.STAFF)]
    customer = [tab.key for tab in module.tabs(active_service, Audience.CUSTOMER)]

    assert staff == ["overview", "power", "reinstall", "config"]
    assert customer == ["overview", "power", "reinstall"]


def test_the_overview_shows_state_figures_and_addresses(pve, active_service, bob):
    pve.vm(123).config["ipconfig0"] = "ip=203.0.113.10/24,gw=203.0.113.1"

    page = tab_page(bob, "client", active_service, "overview")

    assert 'data-vm-state="running"' in page
    assert "bob-vps (VM 123 on pve1)" in page
    assert "2048 MiB" in page
    assert "20.0 GiB" in page
    assert "<code>203.0.113.10</code>" in page


def test_a_suspended_vm_shows_so(pve, active_service, staff_client):
    module.suspend(active_service)

    page = tab_page(staff_client, "admin", active_service, "overview")

    assert 'data-vm-state="stopped"' in page
    assert "data-vm-suspended" in page


def test_the_power_tab_asks_before_reboot_and_hard_stop(pve, active_service, bob):
    page = tab_page(bob, "client", active_service, "power")

    for action in ("start", "shutdown"):
        url = reverse("client:service_tab_action", args=[active_service.pk, "power", action])
        assert f'action="{url}"' in page
    assert 'data-bs-target="#tab-action-power-reboot"' in page
    assert 'data-bs-target="#tab-action-power-stop"' in page


def test_a_customer_hard_stops_their_vm(pve, active_service, bob):
    response = act(bob, "client", active_service, "power", "stop")

    assert response.status_code == 302
    assert not pve.vm(123).running
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == "The VM is stopped."
    [event] = ServiceEvent.objects.filter(service=active_service, action="panel")
    assert (event.reason, event.error) == ("Power: Hard stop", "")


def test_staff_reboot_and_a_node_refusal_is_shown(pve, active_service, staff_client):
    pve.vm(123).power_off()

    response = act(staff_client, "admin", active_service, "power", "reboot")

    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "VM 123 not running" in message
    [event] = ServiceEvent.objects.filter(service=active_service, action="panel")
    assert "VM 123 not running" in event.error


def test_another_customer_gets_404_and_nothing_is_sent(pve, active_service, client, other_customer):
    client.force_login(other_customer.user)

    response = act(client, "client", active_service, "power", "stop")

    assert response.status_code == 404
    assert pve.received("POST", "/nodes/*/qemu/*/status/*") == []


def test_staff_see_the_configuration_without_the_password(pve, active_service, staff_client):
    pve.vm(123).config["cipassword"] = "$5$hash"

    page = tab_page(staff_client, "admin", active_service, "config")

    assert "bob-vps" in page
    assert "local-lvm:vm-123-disk-0,size=20G" in page
    assert "$5$hash" not in page


def test_customers_have_no_configuration_tab(active_service, bob):
    response = bob.get(reverse("client:service_tab", args=[active_service.pk, "config"]))
    assert response.status_code == 404


def test_a_node_that_fails_shows_its_error_inside_the_tab(pve, active_service, staff_client):
    pve.inject("/nodes/*/qemu/*/status/current", status=500, message="got timeout")

    page = tab_page(staff_client, "admin", active_service, "overview")

    assert "data-tab-error" in page
    assert "got timeout" in page


def test_a_missing_vm_shows_an_error_panel_to_the_customer(pve, active_service, bob):
    del pve.vms[123]

    page = tab_page(bob, "client", active_service, "overview")

    assert "data-tab-error" in page


def test_reinstall_makes_the_vm_again_under_the_same_vmid(pve, active_service, staff_client):
    pve.vm(123).config["protection"] = 1
    old_mac = pve.vm(123).config["net0"]

    response = act(staff_client, "admin", active_service, "reinstall", "reinstall")

    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == "VM 123 on node pve1 is made again from the template and started."
    vm = pve.vm(123)
    assert vm.running
    assert vm.lock is None
    assert vm.config["net0"] != old_mac
    assert marked_vms(pve, active_service) == [vm]
    assert len(pve.tasks_of("qmdestroy")) == 1


def test_a_slow_reinstall_stays_in_flight_and_is_followed_to_its_end(
    pve, active_service, staff_client, django_capture_on_commit_callbacks
):
    pve.hang_task("qmclone")

    with django_capture_on_commit_callbacks() as queued:
        act(staff_client, "admin", active_service, "reinstall", "reinstall")

    active_service.refresh_from_db()
    assert active_service.operation == "panel"  # in flight: no other operation meanwhile
    assert active_service.operation_state == "waiting"
    assert active_service.module_data["job"]["step"] == "clone"
    assert len(queued) == 1  # the follow-up task, after the commit
    assert pve.vm(123).lock == "clone"
    pve.end_task(pve.tasks_of("qmclone")[0].upid)

    outcome = lifecycle.resume(active_service.pk, force=True)

    assert outcome.changed
    active_service.refresh_from_db()
    assert active_service.operation == ""
    assert pve.vm(123).running
    assert marked_vms(pve, active_service) == [pve.vm(123)]
    event = ServiceEvent.objects.filter(service=active_service, action="panel").last()
    assert event.reason == "Reinstall: Reinstall"
    assert "made again from the template and started" in event.module_result["message"]
