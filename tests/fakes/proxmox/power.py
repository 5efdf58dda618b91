"""The VM's status, power actions and deletion (``Qemu.pm`` ``vm_status``, ``vm_start``,
``vm_stop``, ``vm_shutdown``, ``vm_reboot``, ``vm_reset``, ``vm_suspend``, ``vm_resume``,
``destroy_vm``): what is checked before the fork is a 500, what the worker finds ends
the task in error."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.fakes.proxmox.calls import Call, check_lock, worker_load
from tests.fakes.proxmox.errors import PveError, TaskFailed, die
from tests.fakes.proxmox.schema import refuse_root_only
from tests.fakes.proxmox.state import FakeProxmox
from tests.fakes.proxmox.vm import Vm, bridge_of

# Status and power ---------------------------------------------------------------------------


def current_status(fake: FakeProxmox, call: Call) -> Any:
    fake.node(call.node)
    return fake.load(call.node, call.vmid).status()


def start(fake: FakeProxmox, call: Call) -> Any:
    """``vm_start``: nothing checked before the fork; the worker refuses a template, a
    locked VM (``suspended`` resumes) and a running one."""
    node, vmid = call.node, call.vmid
    refuse_root_only(call.params, "skiplock")
    host = fake.node(node)

    def work() -> None:
        vm = worker_load(fake, node, vmid)
        if vm.is_template:
            raise TaskFailed("you can't start a vm if it's a template")
        check_lock(vm, allow="suspended")
        if vm.running:
            raise TaskFailed(f"VM {vmid} already running")
        for key, value in vm.config.items():
            bridge = bridge_of(str(value)) if re.fullmatch(r"net\d+", key) else None
            if bridge is not None and bridge not in host.bridges:
                raise TaskFailed(f"bridge '{bridge}' does not exist")
        if vm.lock == "suspended":
            vm.config.pop("lock")
        vm.power_on(fake.new_pid())

    return fake.start_task(node, "qmstart", str(vmid), call.token, work).upid


def stop(fake: FakeProxmox, call: Call) -> Any:
    """``vm_stop``: a stopped VM is OK before any lock check."""
    node, vmid = call.node, call.vmid
    refuse_root_only(call.params, "skiplock", "keepActive")
    fake.node(node)

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        if vm.running:
            check_lock(vm)
            vm.power_off()

    return fake.start_task(node, "qmstop", str(vmid), call.token, work).upid


def shutdown(fake: FakeProxmox, call: Call) -> Any:
    """``vm_shutdown``: a paused VM is refused unless ``forceStop``; a guest that ignores
    ACPI times out (or, with ``forceStop``, is killed)."""
    node, vmid, force = call.node, call.vmid, bool(call.params.get("forceStop"))
    refuse_root_only(call.params, "skiplock", "keepActive")
    fake.node(node)
    vm = fake.vms.get(vmid)
    if vm is not None and vm.node == node and vm.paused and not force:
        raise die("VM is paused - cannot shutdown")

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        if not vm.running:
            return
        check_lock(vm)
        if not (vm.answers_acpi or vm.paused or force):
            raise TaskFailed("VM quit/powerdown failed - got timeout")
        vm.power_off()

    return fake.start_task(node, "qmshutdown", str(vmid), call.token, work).upid


def _running(fake: FakeProxmox, node: str, vmid: int) -> Vm:
    """``check_running`` before the fork: 500 ``VM <id> not running``."""
    vm = fake.load_on_node(node, vmid)
    if not vm.running:
        raise die(f"VM {vmid} not running")
    return vm


def reboot(fake: FakeProxmox, call: Call) -> Any:
    node, vmid = call.node, call.vmid
    fake.node(node)
    vm = fake.vms.get(vmid)
    if vm is not None and vm.node == node and vm.paused:
        raise die("VM is paused - cannot shutdown")
    _running(fake, node, vmid)

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        check_lock(vm)
        if not vm.running:
            raise TaskFailed(f"VM {vmid} not running")
        vm.power_on(fake.new_pid())

    return fake.start_task(node, "qmreboot", str(vmid), call.token, work).upid


def reset(fake: FakeProxmox, call: Call) -> Any:
    node, vmid = call.node, call.vmid
    refuse_root_only(call.params, "skiplock")
    fake.node(node)
    _running(fake, node, vmid)

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        check_lock(vm)
        vm.started = time.monotonic()

    return fake.start_task(node, "qmreset", str(vmid), call.token, work).upid


def suspend(fake: FakeProxmox, call: Call) -> Any:
    """``vm_suspend``: a pause (``qmpause``), or with ``todisk`` a hibernation
    (``qmsuspend``) that leaves the VM stopped with the config lock ``suspended``."""
    node, vmid, to_disk = call.node, call.vmid, bool(call.params.get("todisk"))
    refuse_root_only(call.params, "skiplock")
    fake.node(node)
    _running(fake, node, vmid)

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        check_lock(vm)
        if to_disk:
            vm.power_off()
            vm.config["lock"] = "suspended"
        else:
            vm.paused = True

    kind = "qmsuspend" if to_disk else "qmpause"
    return fake.start_task(node, kind, str(vmid), call.token, work).upid


def resume(fake: FakeProxmox, call: Call) -> Any:
    node, vmid = call.node, call.vmid
    refuse_root_only(call.params, "skiplock", "nocheck")
    fake.node(node)
    vm = fake.vms.get(vmid)
    if vm is None or vm.node != node or vm.lock != "suspended":
        _running(fake, node, vmid)

    def work() -> None:
        vm = worker_load(fake, node, vmid, on_node=True)
        if vm.lock == "suspended":
            vm.config.pop("lock")
            vm.power_on(fake.new_pid())
            return
        check_lock(vm)
        vm.paused = False

    return fake.start_task(node, "qmresume", str(vmid), call.token, work).upid


# Delete -------------------------------------------------------------------------------------


def destroy(fake: FakeProxmox, call: Call) -> Any:
    """``destroy_vm``: protection and a running VM refused before the fork; the worker
    checks again, then the lock, and removes the VM."""
    node, vmid = call.node, call.vmid
    refuse_root_only(call.params, "skiplock")
    fake.node(node)

    def early_checks() -> Vm:
        vm = fake.load(node, vmid)
        if vm.config.get("protection"):
            raise die(f"can't remove VM {vmid} - protection mode enabled")
        if vm.running:
            raise die(f"VM {vmid} is running - destroy failed")
        return vm

    early_checks()

    def work() -> None:
        try:
            vm = early_checks()
        except PveError as exc:
            raise TaskFailed(exc.message) from exc
        check_lock(vm)
        del fake.vms[vmid]

    log = f"purging VM {vmid} from related configurations.." if call.params.get("purge") else None
    return fake.start_task(node, "qmdestroy", str(vmid), call.token, work, log=log).upid
