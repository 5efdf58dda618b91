"""Proxmox VE services through the lifecycle, against the fake node: the service stays
consistent with the node whatever fails (a refused token, a missing VM, a task that ends
in error, a timeout while a clone runs, a process that dies after starting a clone), the
error is in its history, and no stored call holds the token's secret."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from delivery.models import ModuleCall
from delivery.modules.base import ModuleError
from delivery.modules.proxmox import jobs
from services import lifecycle, tasks
from services.choices import EventSource, OperationState, ServiceStatus
from services.models import Service, ServiceEvent
from tests.delivery.proxmox_vps import *  # noqa: F403 - the fixtures
from tests.delivery.proxmox_vps import marked_vms

S = ServiceStatus
OS = OperationState
ADMIN = EventSource.ADMIN
TEXT_COLUMNS = ("url", "operation", "request_body", "response_body", "error")


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def assert_no_secret_stored(fake, service_id: int) -> None:
    rows = ModuleCall.objects.filter(service_ref=service_id)
    assert rows.exists()
    for row in rows:
        for column in TEXT_COLUMNS:
            assert fake.token_secret not in getattr(row, column), column


def events(service, action):
    return list(ServiceEvent.objects.filter(service=service, action=action).order_by("pk"))


def test_delivery_clones_configures_resizes_and_starts_the_vm(pve, service, admin_user):
    outcome = lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    stored = Service.objects.get(pk=service.pk)
    [vm] = marked_vms(pve, service)
    assert (stored.status, stored.operation) == (S.ACTIVE, ""), outcome.message
    assert stored.external_id == str(vm.vmid)
    assert stored.module_data["node"] == vm.node == "pve1"  # the one node with the template
    assert vm.running
    assert vm.lock is None
    assert vm.config["cores"] == 2
    assert vm.config["memory"] == "2048"
    assert jobs.vm_tag(str(service.uuid)) in vm.tags
    assert jobs.disk_bytes(vm.config["scsi0"]) == 20 * jobs.GIB
    assert "bridge=vmbr0" in vm.config["net0"]
    [event] = events(service, "deliver")
    assert (event.to_status, event.error) == (S.ACTIVE, "")
    assert_no_secret_stored(pve, service.pk)


def test_a_slow_clone_is_followed_until_the_vm_is_started(pve, service, admin_user):
    hung = pve.hang_task("qmclone")

    outcome = lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert outcome.waiting
    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation_state) == (S.PENDING, OS.WAITING)
    assert stored.module_data["job"]["step"] == "clone"
    [vm] = marked_vms(pve, service)
    assert vm.lock == "clone"
    tasks.follow_operation(service.pk)  # still cloning
    assert Service.objects.get(pk=service.pk).status == S.PENDING

    [clone] = pve.tasks_of("qmclone")
    pve.end_task(clone.upid)
    tasks.follow_operation(service.pk)

    stored.refresh_from_db()
    assert (stored.status, stored.operation) == (S.ACTIVE, "")
    assert stored.module_data["job"] is None
    assert marked_vms(pve, service)[0].running
    assert hung.hits == 1


def test_a_timeout_while_the_clone_runs_keeps_waiting_then_finishes(
    pve, service, admin_user, settings
):
    settings.DELIVERY_READ_TIMEOUT = 0.3
    pve.hang_task("qmclone")
    lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)
    fault = pve.inject("/nodes/*/tasks/*/status", hang=1.0)

    tasks.follow_operation(service.pk)

    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation_state) == (S.PENDING, OS.WAITING)
    assert "did not answer" in stored.last_delivery_error
    [failed] = events(service, "deliver")  # the first event: a waiting step records none
    assert "did not answer" in failed.error
    assert len(marked_vms(pve, service)) == 1

    pve.faults.remove(fault)
    pve.end_task(pve.tasks_of("qmclone")[0].upid)
    with later(1):
        tasks.follow_operation(service.pk)

    stored.refresh_from_db()
    assert stored.status == S.ACTIVE
    assert len(marked_vms(pve, service)) == 1
    assert_no_secret_stored(pve, service.pk)


def test_the_process_dies_after_the_clone_started_and_the_retry_finds_the_clone(
    pve, service, admin_user, monkeypatch
):
    """The clone is asked for, then the process dies before it saved anything: the claim is
    left in flight; taken over once stale, the retry finds the VM by its name."""
    pve.hang_task("qmclone")
    asked = jobs.ProxmoxApi.clone

    def clone_then_die(self, *args, **kwargs):
        asked(self, *args, **kwargs)
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(jobs.ProxmoxApi, "clone", clone_then_die)
    with pytest.raises(SystemExit):
        lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)
    monkeypatch.setattr(jobs.ProxmoxApi, "clone", asked)
    stored = Service.objects.get(pk=service.pk)
    assert (stored.operation_state, stored.external_id) == (OS.CALLING, "")

    with later(10):
        outcome = lifecycle.resume(service.pk)
    assert outcome.waiting  # found, still locked by its clone
    assert len(marked_vms(pve, service)) == 1
    pve.end_task(pve.tasks_of("qmclone")[0].upid)
    with later(11):
        tasks.follow_operation(service.pk)

    stored.refresh_from_db()
    [vm] = marked_vms(pve, service)
    assert (stored.status, stored.external_id) == (S.ACTIVE, str(vm.vmid))
    assert len(pve.tasks_of("qmclone")) == 1
    assert vm.running


def test_a_clone_that_ends_in_error_is_recorded_and_a_new_delivery_succeeds(
    pve, service, admin_user
):
    pve.fail_task("qmclone", "clone failed: storage 'local-lvm' is full")

    with pytest.raises(ModuleError) as raised:
        lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    message = "The qmclone task on node pve1 failed: clone failed: storage 'local-lvm' is full"
    assert raised.value.message == message
    assert not raised.value.retryable
    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation, stored.last_delivery_error) == (S.PENDING, "", message)
    assert marked_vms(pve, service) == []  # a failed clone leaves no VM
    assert events(service, "deliver")[0].error == message

    lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE
    assert len(marked_vms(pve, service)) == 1


def test_a_refused_token_is_not_retried_and_leaves_the_service_pending(pve, service, admin_user):
    server = service.server
    server.credentials = {**server.credentials, "token_secret": "0" * 36}
    server.save()

    with pytest.raises(ModuleError) as raised:
        lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert not raised.value.retryable
    assert "the API token was refused" in raised.value.message
    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation) == (S.PENDING, "")
    assert events(service, "deliver")[0].error == raised.value.message
    assert marked_vms(pve, service) == []


def test_suspend_stops_tags_and_keeps_the_vm_off_then_unsuspend_reverses_it(
    pve, active_service, admin_user
):
    lifecycle.suspend(active_service.pk, actor=admin_user, source=ADMIN, reason="unpaid")

    vm = pve.vm(int(active_service.external_id))
    assert Service.objects.get(pk=active_service.pk).status == S.SUSPENDED
    assert not vm.running
    assert "suspended" in vm.tags
    assert vm.config["onboot"] == 0

    lifecycle.unsuspend(active_service.pk, actor=admin_user, source=ADMIN)

    vm = pve.vm(int(active_service.external_id))
    assert Service.objects.get(pk=active_service.pk).status == S.ACTIVE
    assert vm.running
    assert "suspended" not in vm.tags
    assert vm.config["onboot"] == 1
    assert_no_secret_stored(pve, active_service.pk)


def test_terminate_clears_protection_stops_and_deletes_the_vm(pve, active_service, admin_user):
    vmid = int(active_service.external_id)
    pve.vm(vmid).config["protection"] = 1

    lifecycle.terminate(active_service.pk, actor=admin_user, source=ADMIN)

    assert Service.objects.get(pk=active_service.pk).status == S.TERMINATED
    assert pve.vm(vmid) is None


def test_terminating_a_vm_deleted_on_the_node_succeeds(pve, active_service, admin_user):
    del pve.vms[int(active_service.external_id)]

    lifecycle.terminate(active_service.pk, actor=admin_user, source=ADMIN)

    stored = Service.objects.get(pk=active_service.pk)
    assert (stored.status, stored.last_delivery_error) == (S.TERMINATED, "")


def test_suspending_a_vm_deleted_on_the_node_is_an_error_not_retried(
    pve, active_service, admin_user
):
    del pve.vms[int(active_service.external_id)]

    with pytest.raises(ModuleError) as raised:
        lifecycle.suspend(active_service.pk, actor=admin_user, source=ADMIN)

    assert not raised.value.retryable
    stored = Service.objects.get(pk=active_service.pk)
    assert (stored.status, stored.operation) == (S.ACTIVE, "")
    assert events(active_service, "suspend")[0].error == raised.value.message


def test_a_5xx_while_suspending_is_retried_once_due(pve, active_service, admin_user):
    fault = pve.inject(
        "/nodes/*/qemu/*/config", method="PUT", status=500, message="VM is locked (backup)"
    )

    with pytest.raises(ModuleError) as raised:
        lifecycle.suspend(active_service.pk, actor=admin_user, source=ADMIN)

    assert raised.value.retryable
    assert Service.objects.get(pk=active_service.pk).operation_state == OS.RETRYING
    pve.faults.remove(fault)
    with later(3):
        lifecycle.resume(active_service.pk)
    assert Service.objects.get(pk=active_service.pk).status == S.SUSPENDED
