"""The VM calls that change a config: clone, config read and update, disk resize
(``Qemu.pm`` ``clone_vm``, ``vm_config``, ``update_vm(_async)``, ``resize_vm``)."""

from __future__ import annotations

import base64
import itertools
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.fakes.proxmox.calls import Call, Waiting, check_lock, worker_load
from tests.fakes.proxmox.errors import TaskFailed, die, param_error
from tests.fakes.proxmox.schema import is_option, option_privileges, refuse_root_only
from tests.fakes.proxmox.state import FakeProxmox
from tests.fakes.proxmox.vm import (
    DRIVE_KEY,
    Vm,
    format_size,
    is_cdrom,
    is_cloudinit,
    normalize_net,
    normalize_tags,
    parse_drive,
    parse_size,
    print_drive,
    storage_of,
)

SSH_KEY = re.compile(r"^(ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+)\s+([A-Za-z0-9+/]+=*)")


# Clone --------------------------------------------------------------------------------------


def clone(fake: FakeProxmox, call: Call) -> Any:
    """``clone_vm``: the early checks, then the new VM with ``lock: clone`` until the task
    ends (on failure it is removed); the task id is the *source* vmid."""
    p, node, vmid = call.params, call.node, call.vmid
    newid, pool, storage_name = p["newid"], p.get("pool"), p.get("storage")
    fake.node(node)
    target = None if p.get("target") in (None, node, "localhost") else p["target"]
    if pool is not None and pool not in fake.pools:
        raise die(f"pool '{pool}' does not exist")
    if target is not None and target not in fake.nodes:
        raise die(f"no such cluster node '{target}'")
    if storage_name is not None:
        storage = fake.storages.get(storage_name)
        if storage is None or not storage.on(node):
            raise die(f"storage '{storage_name}' does not exist")
        if "images" not in storage.content:
            raise param_error({"storage": f"storage '{storage_name}' does not support vm images"})
        if target is not None and not storage.shared:
            raise die(f"can't clone to non-shared storage '{storage_name}'")
    source = fake.load(node, vmid)
    if source.lock:
        raise die(f"VM is locked ({source.lock})")
    if p.get("snapname"):
        raise die(f"snapshot '{p['snapname']}' does not exist")
    full = bool(p["full"]) if "full" in p else not source.is_template
    if storage_name is not None and not full:
        raise die("parameter 'storage' not allowed for linked clones")
    if p.get("format") and not full:
        raise die("parameter 'format' not allowed for linked clones")
    disks = [(k, v, o) for k, v, o in source.drives() if not is_cdrom(o) or is_cloudinit(v)]
    if not full and not source.is_template:
        key, volid, _ = next(d for d in disks if not is_cloudinit(d[1]))
        raise die(f"Linked clone feature is not supported for '{volid}' ({key})")
    stores = [fake.storages.get(storage_of(volid) or "") for _, volid, _ in disks]
    if target is not None and not all(s is not None and s.shared for s in stores):
        raise die(f"can't clone VM to node '{target}' (VM uses local storage)")
    if newid in fake.vms:
        raise die(f"unable to create VM {newid}: config file already exists")
    config = _clone_config(source, newid, full=full, storage=storage_name)
    config["name"] = p.get("name") or f"Copy-of-VM-{source.config.get('name', vmid)}"
    if p.get("description"):
        config["description"] = p["description"]
    fake.vms[newid] = Vm(newid, node, config)

    def work() -> None:
        vm = fake.vms[newid]
        vm.config.pop("lock", None)
        vm.node, vm.pool = target or node, pool

    def undo() -> None:
        fake.vms.pop(newid, None)

    log = f"creating a clone of VM {vmid} with ID {newid}"
    return fake.start_task(node, "qmclone", str(vmid), call.token, work, undo=undo, log=log).upid


def _clone_config(source: Vm, newid: int, *, full: bool, storage: str | None) -> dict[str, Any]:
    """The new config: new volumes, new MACs, a new SMBIOS uuid, no ``template``."""
    config: dict[str, Any] = {"lock": "clone"}
    disk_number = itertools.count()
    for key, value in source.config.items():
        if key in ("snapshots", "parent", "snaptime", "vmstate", "template", "lock"):
            continue
        if key.startswith("unused"):
            continue
        if re.fullmatch(r"net\d+", key):
            config[key] = normalize_net(str(value), fresh_mac=True)
        elif DRIVE_KEY.match(key):
            volid, options = parse_drive(str(value))
            source_store = storage_of(volid) or ""
            if is_cloudinit(volid):
                volid = f"{storage or source_store}:vm-{newid}-cloudinit"
            elif not is_cdrom(options):
                volume = f"vm-{newid}-disk-{next(disk_number)}"
                # a linked clone's volume names its base: local-lvm:base-9000-disk-0/vm-...
                volid = f"{storage or source_store}:{volume}" if full else f"{volid}/{volume}"
            config[key] = print_drive(volid, options)
        else:
            config[key] = value
    smbios = [part for part in str(config.get("smbios1", "")).split(",") if part]
    smbios = [part for part in smbios if not part.startswith("uuid=")]
    config["smbios1"] = ",".join([f"uuid={uuid.uuid4()}", *smbios])
    return config


# Config -------------------------------------------------------------------------------------


def get_config(fake: FakeProxmox, call: Call) -> Any:
    fake.node(call.node)
    vm = fake.load(call.node, call.vmid)
    if call.params.get("snapshot"):
        raise die(f"snapshot '{call.params['snapshot']}' does not exist")
    return vm.config_view()


@dataclass
class Update:
    """A checked config change: options to set and options to delete."""

    node: str
    vmid: int
    digest: str | None
    values: dict[str, Any]
    delete: list[str]

    def describe(self) -> str:
        """The worker's ``update VM <id>: -opt value ...`` line (``cipassword`` hidden)."""
        parts = [f"-{k} {'<hidden>' if k == 'cipassword' else v}" for k, v in self.values.items()]
        parts += [f"-delete {','.join(self.delete)}"] if self.delete else []
        return f"update VM {self.vmid}: {' '.join(parts)}"


def _split_list(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def check_update(fake: FakeProxmox, call: Call) -> Update:
    """``$update_vm_api`` up to the fork: option checks, permissions, ``load_config``,
    ``digest`` and the config lock."""
    p = dict(call.params)
    node, vmid = str(p.pop("node")), int(p.pop("vmid"))
    refuse_root_only(p, "skiplock")
    digest = p.pop("digest", None)
    for name in ("skiplock", "force", "background_delay"):
        p.pop(name, None)
    delete, revert = _split_list(p.pop("delete", None)), _split_list(p.pop("revert", None))
    if "sshkeys" in p:
        _validate_ssh_keys(unquote(p["sshkeys"]))
    if not delete and not revert and not p:
        raise die("no options specified")
    for opt in revert:
        if not is_option(opt):
            raise param_error({"revert": f"unknown option '{opt}'"})
        if opt in p:
            raise param_error(
                {"delete": f"you can't use '-{opt}' and -revert {opt}' at the same time"}
            )
    for opt in delete:
        if opt in p:
            raise param_error(
                {"delete": f"you can't use '-{opt}' and -delete {opt}' at the same time"}
            )
        if opt in revert:
            raise param_error(
                {"revert": f"you can't use '-delete {opt}' and -revert {opt}' at the same time"}
            )
        if not is_option(opt):
            raise param_error({"delete": f"unknown option '{opt}'"})
    for opt in [*delete, *p]:
        privileges = option_privileges(opt)
        if privileges is None:
            raise die(f"only root can set '{opt}' config")
        fake.check(call.token, f"/vms/{vmid}", *privileges, any_of=True)
    fake.node(node)
    vm = fake.load(node, vmid)
    if digest and digest != vm.digest():
        raise die("checksum mismatch (file change by other user?)")
    if vm.lock:
        raise die(f"VM is locked ({vm.lock})")
    return Update(node, vmid, digest, _normalized(fake, vm, p), delete)


def _validate_ssh_keys(keys: str) -> None:
    """``validate_ssh_public_keys`` (``ssh-keygen -l`` on each line), after unescaping:
    each key's base64 blob must decode and name the key's type."""
    for line in keys.splitlines():
        match = SSH_KEY.match(line.strip())
        if not line.strip():
            continue
        try:
            blob = base64.b64decode(match[2] if match else "!", validate=True)
        except ValueError:
            blob = b""
        kind = match[1].encode() if match else b"?"
        if blob[4 : 4 + len(kind)] != kind or int.from_bytes(blob[:4], "big") != len(kind):
            raise die("SSH public key validation error")


def _normalized(fake: FakeProxmox, vm: Vm, values: dict[str, Any]) -> dict[str, Any]:
    """Values as written: nets with a MAC, tags sorted, ``<storage>:<GiB>`` disks made."""
    result: dict[str, Any] = {}
    taken = {volid for _, volid, _ in vm.drives()}
    for key, value in values.items():
        if re.fullmatch(r"net\d+", key):
            value = normalize_net(value)
        elif key == "tags":
            value = normalize_tags(value)
        elif DRIVE_KEY.match(key):
            volid, options = parse_drive(value)
            allocation = re.fullmatch(r"([^:]+):(\d+(?:\.\d+)?)", volid)
            if allocation and not is_cdrom(options):
                storage = fake.storages.get(allocation[1])
                if storage is None or not storage.on(vm.node):
                    raise die(f"storage '{allocation[1]}' does not exist")
                number = next(n for n in itertools.count() if not _has(taken, vm.vmid, n))
                volid = f"{allocation[1]}:vm-{vm.vmid}-disk-{number}"
                taken.add(volid)
                size = format_size(int(float(allocation[2]) * 1024**3))
                value = print_drive(volid, {**options, "size": size})
        result[key] = value
    return result


def _has(volids: set[str], vmid: int, number: int) -> bool:
    return any(volid.endswith(f"vm-{vmid}-disk-{number}") for volid in volids)


def _apply(vm: Vm, update: Update) -> None:
    for opt in update.delete:
        vm.config.pop(opt, None)
    vm.config.update(update.values)


def set_config_sync(fake: FakeProxmox, call: Call) -> Any:
    """``PUT .../config`` (``update_vm``): applied at once, ``null``."""
    update = check_update(fake, call)
    _apply(fake.vms[update.vmid], update)
    return None


def set_config_async(fake: FakeProxmox, call: Call) -> Any:
    """``POST .../config`` (``update_vm_async``): a ``qmconfig`` task applies it."""
    update = check_update(fake, call)

    def work() -> None:
        vm = worker_load(fake, update.node, update.vmid)
        if update.digest and update.digest != vm.digest():
            raise TaskFailed("checksum mismatch (file change by other user?)")
        check_lock(vm)
        _apply(vm, update)

    task = fake.start_task(
        update.node, "qmconfig", str(update.vmid), call.token, work, log=update.describe()
    )
    delay = call.params.get("background_delay")
    return Waiting(task, delay, update.vmid) if delay else task.upid


def resize(fake: FakeProxmox, call: Call) -> Any:
    """``PUT .../resize``: every check is the worker's (task type ``resize``)."""
    p, node, vmid = call.params, call.node, call.vmid
    refuse_root_only(p, "skiplock")
    fake.node(node)
    disk, size_text = p["disk"], p["size"]

    def work() -> None:
        vm = worker_load(fake, node, vmid)
        if p.get("digest") and p["digest"] != vm.digest():
            raise TaskFailed("checksum mismatch (file change by other user?)")
        check_lock(vm)
        if disk not in vm.config:
            raise TaskFailed(f"disk '{disk}' does not exist")
        volid, options = parse_drive(str(vm.config[disk]))
        if is_cdrom(options):
            raise TaskFailed("you can't resize a cdrom")
        storage = storage_of(volid)
        if not call.token.holds("Datastore.AllocateSpace"):
            raise TaskFailed(
                f"Permission check failed (/storage/{storage}, Datastore.AllocateSpace)"
            )
        current = parse_size(options.get("size", "0"))
        new = parse_size(size_text.lstrip("+")) + (current if size_text.startswith("+") else 0)
        if new < current:
            raise TaskFailed("shrinking disks is not supported")
        vm.config[disk] = print_drive(volid, {**options, "size": format_size(new)})

    return fake.start_task(node, "resize", str(vmid), call.token, work).upid
