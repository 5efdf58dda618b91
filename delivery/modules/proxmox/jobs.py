"""The operations on a VM as chains of steps, each maybe a node task, resumable where they were.

Proxmox VE answers most changes with a task id (UPID) and does the work afterwards (B.4).
An operation is a list of steps (create: clone, configure, resize, start); a step
either does nothing (already done: each one checks first, so a chain run again from any
point does no harm), changes something at once, or starts a task. The runner waits a
little for each task; one still running when that wait ends stops the chain there, and
the ``Job`` (which step, which task) is what the service keeps (``module_data["job"]``)
for ``follow`` to carry on once the task has ended. A task that ends with anything but
OK is a ModuleError with its exit status.

A VM is found by its VMID (the service's ``external_id``) on its node, or, when neither
was kept, by the service's mark: the name ``vps-<uuid>`` it is cloned with (a clone
takes no tags) and the tag ``cxcms-<uuid>`` it is given once configured. So a create
tried again after its process died finds the clone it started instead of making another;
a VM found with ``lock: clone`` is a clone still running, and is waited for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.utils.translation import gettext

from delivery.http import PanelError
from delivery.modules.base import ModuleError

from .api import ProxmoxApi, Upid, is_missing, parse_upid

#: How long a call waits for a task before handing it to ``follow``, and how often it asks.
TASK_WAIT_SECONDS = 3.0
TASK_POLL_SECONDS = 0.5
SUSPENDED_TAG = "suspended"
DISK_KEYS = ("scsi0", "virtio0", "sata0", "ide0")
_SIZE = re.compile(r"(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
GIB = 1024**3


def vm_name(uuid: str) -> str:
    """The name a VM is cloned with: it carries the service's uuid (a valid DNS name)."""
    return f"vps-{uuid}"


#: The tags that tie a VM to a service of this panel.
TAG_PREFIX = "cxcms-"


def vm_tag(uuid: str) -> str:
    return f"{TAG_PREFIX}{uuid}"


def split_tags(value: Any) -> list[str]:
    """A VM's tags: the API joins them with ``;`` (older hosts: spaces or commas)."""
    return [tag for tag in re.split(r"[;, ]+", str(value or "")) if tag]


def with_tag(tags: Any, tag: str, present: bool) -> str:
    kept = [t for t in split_tags(tags) if t != tag]
    return ";".join([*kept, tag] if present else kept)


def disk_bytes(spec: str) -> int:
    """``local-lvm:vm-123-disk-0,size=20G`` → 20 GiB in bytes; 0 without a size."""
    match = _SIZE.search(str(spec))
    return int(float(match[1]) * _UNITS[match[2]]) if match else 0


def boot_disk(config: dict[str, Any]) -> str | None:
    """The key of the VM's boot disk: first of the boot order that is a disk, else the first
    disk of the usual buses (a CD-ROM or cloud-init drive is no disk to grow)."""
    boot = str(config.get("boot") or "")
    order = boot.split("order=", 1)[1].split(",")[0].split(";") if "order=" in boot else []
    for key in [*order, str(config.get("bootdisk") or ""), *DISK_KEYS]:
        value = str(config.get(key) or "")
        if value and "media=cdrom" not in value and "cloudinit" not in value:
            return key
    return None


def with_bridge(net: Any, bridge: str) -> str:
    """``virtio=BC:24:...,bridge=vmbr0,firewall=1`` on another bridge, its model and MAC kept."""
    parts = [p for p in str(net or "").split(",") if p and not p.startswith("bridge=")]
    return ",".join([*(parts or ["virtio"]), f"bridge={bridge}"])


class VmGone(Exception):
    """The VM is not on the node (any more)."""


class StillWorking(Exception):
    """The node is busy with the VM in a way no task id of ours tells (a clone found locked)."""


@dataclass
class Job:
    """Where an operation stands: its action, the VM, the step reached and its task."""

    action: str
    node: str = ""
    vmid: int | None = None
    step: str = ""
    upid: str = ""

    def as_data(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "node": self.node,
            "vmid": self.vmid,
            "step": self.step,
            "upid": self.upid,
        }

    @classmethod
    def from_data(cls, data: Any) -> Job | None:
        if not isinstance(data, dict) or not data.get("action"):
            return None
        vmid = str(data.get("vmid") or "")
        return cls(
            action=str(data["action"]),
            node=str(data.get("node") or ""),
            vmid=int(vmid) if vmid.isdigit() else None,
            step=str(data.get("step") or ""),
            upid=str(data.get("upid") or ""),
        )


@dataclass
class Run:
    """One operation under way: the API, the service's identity and configuration, the job."""

    api: ProxmoxApi
    uuid: str
    service_id: int | None
    job: Job
    config: dict[str, Any] = field(default_factory=dict)
    #: Set by a step that found no VM where one was expected to be stopped or deleted.
    gone: bool = False

    @property
    def where(self) -> tuple[str, int]:
        if not self.job.node or self.job.vmid is None:
            raise VmGone
        return self.job.node, self.job.vmid


def wait_for(api: ProxmoxApi, upid: Upid, seconds: float) -> bool:
    """Wait up to ``seconds`` for the task: True when it ended well, False while it runs;
    the task's failure is raised."""
    deadline = time.monotonic() + seconds
    while True:
        status = api.task_status(upid)
        if not status.running:
            if not status.succeeded:
                raise status.failure()
            return True
        if time.monotonic() + TASK_POLL_SECONDS > deadline:
            return False
        time.sleep(TASK_POLL_SECONDS)


def find_marked(
    api: ProxmoxApi, uuid: str, vms: list[tuple[str, dict[str, Any]]] | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The VM (node, list item) whose name or tags carry the service's uuid, on any node
    (``vms``: the list already read)."""
    found = [
        (node, vm) for node, vm in (api.all_vms() if vms is None else vms) if is_marked(vm, uuid)
    ]
    if len(found) > 1:
        ids = ", ".join(
            gettext("%(vmid)s on %(node)s") % {"vmid": vm["vmid"], "node": node}
            for node, vm in found
        )
        raise ModuleError(
            gettext("Several VMs carry this service's id (%(ids)s): keep one, delete the rest.")
            % {"ids": ids}
        )
    return found[0] if found else None


def is_marked(vm: dict[str, Any], uuid: str) -> bool:
    """Whether a VM (its list item or configuration) carries the service's uuid."""
    return vm.get("name") == vm_name(uuid) or vm_tag(uuid) in split_tags(vm.get("tags"))


def locate(run: Run, external_id: str, node: str) -> bool:
    """Point the job at the service's VM: its VMID on its node, on another node when it
    moved, or the VM marked with its uuid. False when there is none.

    A VM found by its VMID must carry the service's mark: a VMID is reused once its VM
    is deleted (by hand, or on a node rebuilt), and stopping, reinstalling or deleting
    another customer's VM by mistake is the one thing this module must never do.
    """
    api = run.api
    vmid = int(external_id) if external_id.isdigit() else None
    if vmid is not None and node:
        config = api.config(node, vmid, operation="find VM")
        if config is not None and is_marked(config, run.uuid):
            run.job.node, run.job.vmid = node, vmid
            return True
    marked = find_marked(api, run.uuid)
    if marked is None:
        return False
    run.job.node, run.job.vmid = marked[0], int(marked[1]["vmid"])
    return True


def _tolerating_missing(call: Callable[[], Upid | None], run: Run) -> Upid | None:
    """Run a stop or delete call; a VM that is gone counts as done."""
    try:
        return call()
    except PanelError as exc:
        if is_missing(exc):
            run.gone = True
            return None
        raise


# The steps -------------------------------------------------------------------------------


def clone(run: Run) -> Upid | None:
    """Clone the template, unless a VM marked with the service's uuid exists already."""
    api, config, job = run.api, run.config, run.job
    nodes = {node["node"]: node for node in api.nodes() if node.get("status") == "online"}
    vms = [(node, vm) for node in nodes for vm in api.vms(node)]
    marked = find_marked(api, run.uuid, vms)
    if marked is not None:
        job.node, job.vmid = marked[0], int(marked[1]["vmid"])
        if marked[1].get("lock") == "clone":
            raise StillWorking(f"Node {job.node} is still cloning VM {job.vmid}.")
        return None
    source, template, target = placement(config, nodes, vms)
    newid = job.vmid if job.action == "reinstall" and job.vmid else api.next_vmid()
    body: dict[str, Any] = {
        "newid": newid,
        "name": vm_name(run.uuid),
        "description": f"ClientXCMS service #{run.service_id} ({run.uuid})",
        "full": 1 if config.get("full_clone") else 0,
    }
    if config.get("full_clone") and config.get("storage"):
        body["storage"] = config["storage"]
    if target != source:
        body["target"] = target
    job.node, job.vmid = target, newid
    return api.clone(source, template, body)


def placement(
    config: dict[str, Any], nodes: dict[str, dict[str, Any]], vms: list[tuple[str, dict]]
) -> tuple[str, int, str]:
    """(node of the template cloned, its VMID, node the VM goes to).

    The product names one template; a node holding a template of the same name has its
    own copy (a disk on local storage cannot be cloned to another node), which is cloned
    there. "Least loaded" picks among the nodes holding one; a node named by the product
    without a copy gets a clone of the product's template sent to it (``target``), which
    Proxmox VE allows only from shared storage.
    """
    wanted = int(config["template"])
    source = next((node for node, vm in vms if int(vm["vmid"]) == wanted), None)
    if source is None:
        raise ModuleError(
            gettext("No online node has template %(vmid)s: correct the product's configuration.")
            % {"vmid": wanted}
        )
    name = next(vm.get("name") for node, vm in vms if int(vm["vmid"]) == wanted)
    copies = {
        node: int(vm["vmid"])
        for node, vm in vms
        if vm.get("template") in (1, "1", True) and vm.get("name") == name
    }
    copies[source] = wanted
    target = config.get("node") or least_loaded([nodes[node] for node in copies])
    if target not in nodes:
        raise ModuleError(
            gettext(
                "Node %(node)s is not online, or there is none: correct the product's "
                "configuration, or wait for the node."
            )
            % {"node": target}
        )
    if target in copies:
        return target, copies[target], target
    return source, wanted, target


def least_loaded(nodes: list[dict[str, Any]]) -> str:
    """The node with the smallest share of its memory in use, then of its CPU (the same
    for all without Sys.Audit: then the first by name)."""

    def load(node: dict[str, Any]) -> tuple[float, float, str]:
        used = (node.get("mem") or 0) / node["maxmem"] if node.get("maxmem") else 0.0
        return (used, float(node.get("cpu") or 0), str(node["node"]))

    return str(min(nodes, key=load)["node"])


def configure(run: Run) -> Upid | None:
    """Cores, memory, bridge, cloud-init, the service's tag and start on boot."""
    node, vmid = run.where
    config = run.api.config(node, vmid)
    if config is None:
        raise VmGone
    wanted = run.config
    body: dict[str, Any] = {
        "cores": wanted["cores"],
        "memory": str(wanted["memory"]),
        "net0": with_bridge(config.get("net0"), wanted["bridge"]),
        "tags": with_tag(config.get("tags"), vm_tag(run.uuid), True),
        "onboot": 1,
    }
    if wanted.get("ci_user"):
        body["ciuser"] = wanted["ci_user"]
    if wanted.get("ssh_keys"):
        body["sshkeys"] = quote(wanted["ssh_keys"], safe="")  # B.4: a URL-encoded value
    if wanted.get("ci_password"):
        body["cipassword"] = wanted["ci_password"]
    return run.api.configure(node, vmid, body)


def resize(run: Run) -> Upid | None:
    """Grow the boot disk to the product's size; a disk as large already is left alone."""
    node, vmid = run.where
    config = run.api.config(node, vmid)
    if config is None:
        raise VmGone
    disk = boot_disk(config)
    if disk is None:
        raise ModuleError(
            gettext("VM %(vmid)s has no disk to grow: check template %(template)s.")
            % {"vmid": vmid, "template": run.config["template"]}
        )
    wanted = int(run.config["disk"])
    if disk_bytes(str(config[disk])) >= wanted * GIB:
        return None
    return run.api.resize(node, vmid, disk, f"{wanted}G")


def start(run: Run) -> Upid | None:
    node, vmid = run.where
    status = run.api.status(node, vmid)
    if status is None:
        raise VmGone
    if status.get("status") == "running":
        return None
    return run.api.power(node, vmid, "start")


def stop(run: Run) -> Upid | None:
    """A hard stop (B.6: what reliably powers a VM off); a stopped or missing VM is done."""
    if run.gone:
        return None
    node, vmid = run.where
    status = run.api.status(node, vmid)
    if status is None:
        run.gone = True
        return None
    if status.get("status") == "stopped":
        return None
    return _tolerating_missing(lambda: run.api.power(node, vmid, "stop"), run)


def unprotect(run: Run) -> Upid | None:
    """Clear ``protection``, which refuses the VM's deletion (B.6)."""
    if run.gone:
        return None
    node, vmid = run.where
    config = run.api.config(node, vmid)
    if config is None:
        run.gone = True
    elif config.get("protection") in (1, "1", True):
        run.api.set_options(node, vmid, {"protection": 0}, operation="unprotect")
    return None


def destroy(run: Run) -> Upid | None:
    """Delete the VM with its disks, and purge it from backup, replication and HA jobs."""
    if run.gone:
        return None
    node, vmid = run.where
    return _tolerating_missing(lambda: run.api.destroy(node, vmid), run)


def mark_suspended(run: Run) -> Upid | None:
    """B.6: what an API token can do to keep a VM off: no start on boot, a ``suspended`` tag."""
    node, vmid = run.where
    config = run.api.config(node, vmid)
    if config is None:
        raise VmGone
    tags = with_tag(config.get("tags"), SUSPENDED_TAG, True)
    run.api.set_options(node, vmid, {"onboot": 0, "tags": tags}, operation="mark suspended")
    return None


def unmark_suspended(run: Run) -> Upid | None:
    node, vmid = run.where
    config = run.api.config(node, vmid)
    if config is None:
        raise VmGone
    tags = with_tag(config.get("tags"), SUSPENDED_TAG, False)
    body: dict[str, Any] = {"onboot": 1}
    if tags:
        body["tags"] = tags
    else:
        body["delete"] = "tags"
    run.api.set_options(node, vmid, body, operation="unmark suspended")
    return None


STEPS: dict[str, Callable[[Run], Upid | None]] = {
    "clone": clone,
    "configure": configure,
    "resize": resize,
    "start": start,
    "stop": stop,
    "unprotect": unprotect,
    "destroy": destroy,
    "mark": mark_suspended,
    "unmark": unmark_suspended,
}
#: Each operation's steps, in order.
CHAINS: dict[str, tuple[str, ...]] = {
    "deliver": ("clone", "configure", "resize", "start"),
    "suspend": ("mark", "stop"),
    "unsuspend": ("unmark", "start"),
    "terminate": ("unprotect", "stop", "destroy"),
    "reinstall": ("stop", "unprotect", "destroy", "clone", "configure", "resize", "start"),
}


def advance(run: Run, first: int = 0) -> bool:
    """Run the job's chain from step ``first``: True when it is done, False when a task is
    still running (the job then says which); a failed task or step raises."""
    chain = CHAINS[run.job.action]
    for name in chain[first:]:
        run.job.step, run.job.upid = name, ""
        try:
            upid = STEPS[name](run)
        except StillWorking:
            return False
        if upid is not None:
            run.job.upid = upid.text
            if not wait_for(run.api, upid, TASK_WAIT_SECONDS):
                return False
    run.job.step, run.job.upid = "done", ""
    return True


def resume(run: Run) -> bool:
    """Carry the job on from where it stopped: its task still running, failed, or done."""
    chain = CHAINS[run.job.action]
    if run.job.step not in chain:
        return advance(run)
    index = chain.index(run.job.step)
    if not run.job.upid:  # a step to try again (a clone found locked)
        return advance(run, index)
    status = run.api.task_status(parse_upid(run.job.upid))
    if status.running:
        return False
    if not status.succeeded:
        raise status.failure()
    return advance(run, index + 1)
