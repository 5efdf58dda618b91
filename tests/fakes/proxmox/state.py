"""The fake cluster's state: nodes, storages, VMs, API tokens, tasks, and faults to inject.

Everything is guarded by ``lock`` (an ``RLock``): the HTTP handlers run in threads. Tasks
end lazily: whenever the fake is asked anything (a request, ``vm()``, ``tick()``), the
tasks whose time has come do their work, in the order they were due.
"""

from __future__ import annotations

import fnmatch
import hmac
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.fakes.proxmox.errors import PveError, TaskFailed, die, permission_denied
from tests.fakes.proxmox.vm import GiB, Vm, new_mac
from tests.fakes.serving import FaultRule

TOKEN_ID = "clientxcms@pve!billing"
TOKEN_SECRET = "6f1c2a9e-4b7d-4e3a-9f20-8c5d1b7e3a41"
NO_TICKET = "No ticket"
AUTH_FAILED = "Authentication failed!"
TOKEN_HEADER = re.compile(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)")
TOKEN_ID_FORMAT = re.compile(r"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$")
UPID_FORMAT = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


@dataclass
class Token:
    """An API token ``user@realm!name`` and its secret.

    ``privileges``: ``None`` for every privilege everywhere (a token without privilege
    separation of an admin), else the set held on every path (``VM.Audit``, ...).
    ``expire`` (epoch seconds, 0 never) and ``enabled`` (the user's flag) as ``verify_token``
    checks them.
    """

    id: str
    secret: str
    privileges: frozenset[str] | None = None
    expire: int = 0
    enabled: bool = True

    @property
    def user(self) -> str:
        return self.id.split("!", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("!", 1)[1]

    def holds(self, privilege: str) -> bool:
        return self.privileges is None or privilege in self.privileges


@dataclass
class Node:
    """A cluster node. ``mem`` is what the host uses; running VMs on it add theirs."""

    name: str
    status: str = "online"
    cpu: float = 0.05
    maxcpu: int = 16
    mem: int = 8 * GiB
    maxmem: int = 64 * GiB
    disk: int = 20 * GiB
    maxdisk: int = 100 * GiB
    uptime: int = 864000
    bridges: set[str] = field(default_factory=lambda: {"vmbr0"})
    ssl_fingerprint: str = ":".join(["AB"] * 32)


@dataclass
class Storage:
    """A storage of ``storage.cfg``: ``nodes`` None means every node."""

    name: str
    type: str = "lvmthin"
    shared: bool = False
    content: frozenset[str] = frozenset({"images", "rootdir"})
    nodes: frozenset[str] | None = None
    total: int = 500 * GiB

    def on(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes


@dataclass
class Task:
    """A worker: ``work`` runs when it ends (``ends_at``, monotonic; None: never) and may
    raise ``TaskFailed``; ``undo`` runs when it ends in error."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    ends_at: float | None
    work: Callable[[], None]
    undo: Callable[[], None] | None = None
    log: list[str] = field(default_factory=list)
    status: str = "running"
    exitstatus: str | None = None
    fail_with: str | None = None

    def status_item(self) -> dict[str, Any]:
        """``GET .../tasks/{upid}/status``; a token's task shows ``user`` and ``tokenid``."""
        user, _, token = self.user.partition("!")
        item: dict[str, Any] = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": user,
            "status": self.status,
        }
        if token:
            item["tokenid"] = token
        if self.exitstatus is not None:
            item["exitstatus"] = self.exitstatus
        return item


@dataclass
class Fault(FaultRule):
    """A fault of the node, on paths under ``/api2/json``: ``status`` comes with
    ``message`` as its reason (401 has PVE's empty body)."""

    message: str | None = None


@dataclass
class TaskFault:
    """The next ``times`` tasks of ``type`` end with ``exitstatus``, or never (None)."""

    type: str
    exitstatus: str | None
    times: int | None = 1
    hits: int = 0


@dataclass
class Received:
    """A request as received: path under ``/api2/json``, merged parameters, token id."""

    method: str
    path: str
    params: dict[str, Any]
    token: str | None


@dataclass
class FakeProxmox:
    """The cluster, its tokens, its tasks, the requests received and the faults to inject."""

    base_url: str = ""
    token_id: str = TOKEN_ID
    token_secret: str = TOKEN_SECRET
    #: How long a task runs before it does its work and stops ...
    task_seconds: float = 0.3
    #: ... or, per task type (``qmclone``: 1.0), this long.
    task_seconds_by_type: dict[str, float] = field(default_factory=dict)
    #: PVE delays every 401 by 3 s; tests keep 0.
    unauthorized_delay: float = 0.0
    nodes: dict[str, Node] = field(default_factory=dict)
    storages: dict[str, Storage] = field(default_factory=dict)
    pools: set[str] = field(default_factory=set)
    vms: dict[int, Vm] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    task_faults: list[TaskFault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _pids: Iterator[int] = field(default_factory=lambda: itertools.count(0x1A2B3), repr=False)

    def __post_init__(self) -> None:
        self.add_token(self.token_id, self.token_secret)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api2/json"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value of the configured token."""
        return f"PVEAPIToken={self.token_id}={self.token_secret}"

    # Building state ---------------------------------------------------------------------

    def add_token(
        self,
        token_id: str,
        secret: str | None = None,
        *,
        privileges: set[str] | None = None,
        expire: int = 0,
        enabled: bool = True,
    ) -> Token:
        """A token ``user@realm!name`` (secret: a new UUID unless given)."""
        if not TOKEN_ID_FORMAT.match(token_id):
            raise ValueError(f"not a token id (user@realm!name): {token_id}")
        token = Token(
            token_id,
            secret or str(uuid.uuid4()),
            None if privileges is None else frozenset(privileges),
            expire,
            enabled,
        )
        with self.lock:
            self.tokens[token_id] = token
        return token

    def add_node(self, name: str, **stats: Any) -> Node:
        """A node; ``stats`` set its fields (``mem=...``, ``cpu=...``, ``status="offline"``)."""
        node = Node(name, **stats)
        with self.lock:
            self.nodes[name] = node
        return node

    def add_storage(self, name: str, **options: Any) -> Storage:
        """A storage (``shared=True``, ``content=frozenset({"iso"})``, ``nodes=...``)."""
        storage = Storage(name, **options)
        with self.lock:
            self.storages[name] = storage
        return storage

    def add_vm(
        self,
        vmid: int,
        name: str,
        *,
        node: str = "pve1",
        template: bool = False,
        running: bool = False,
        cores: int = 2,
        memory: int = 2048,
        disk_size: str = "10G",
        storage: str = "local-lvm",
        bridge: str = "vmbr0",
        **config: Any,
    ) -> Vm:
        """A cloud-init VM (or template) as made on the host by hand; ``config`` adds or,
        with ``None``, removes options (``tags="a;b"``, ``protection=1``, ``agent=None``)."""
        disk_prefix = "base" if template else "vm"
        options: dict[str, Any] = {
            "name": name,
            "cores": cores,
            "sockets": 1,
            "memory": str(memory),
            "ostype": "l26",
            "scsihw": "virtio-scsi-pci",
            "scsi0": f"{storage}:{disk_prefix}-{vmid}-disk-0,size={disk_size}",
            "ide2": f"{storage}:vm-{vmid}-cloudinit,media=cdrom",
            "net0": f"virtio={new_mac()},bridge={bridge}",
            "boot": "order=scsi0",
            "agent": "1",
            "smbios1": f"uuid={uuid.uuid4()}",
            **({"template": 1} if template else {}),
        }
        options |= config
        vm = Vm(vmid, node, {k: v for k, v in options.items() if v is not None})
        with self.lock:
            if running:
                vm.power_on(next(self._pids))
            self.vms[vmid] = vm
        return vm

    def seed(self) -> None:
        """Nodes ``pve1`` (busier) and ``pve2``, storages ``local`` (no VM images) and
        ``local-lvm``, bridge ``vmbr0``, and template 9000 ``debian-12-cloud`` on ``pve1``."""
        self.add_node("pve1", cpu=0.12, mem=24 * GiB)
        self.add_node("pve2", cpu=0.03, mem=6 * GiB)
        self.add_storage("local", type="dir", content=frozenset({"iso", "vztmpl", "backup"}))
        self.add_storage("local-lvm")
        self.add_vm(9000, "debian-12-cloud", template=True, ciuser="debian")

    def seed_demo(self) -> None:
        """``seed()`` plus the same template as 9001 on ``pve2`` (local storage cannot be
        cloned across nodes) and two VMs made by hand, linked to no billing panel."""
        self.seed()
        self.add_vm(9001, "debian-12-cloud", node="pve2", template=True, ciuser="debian")
        self.add_vm(101, "web-legacy", running=True, memory=4096, disk_size="40G", tags="legacy")
        self.add_vm(102, "mail-old", node="pve2", cores=1, memory=1024, onboot=1)

    # Inspecting state -------------------------------------------------------------------

    def vm(self, vmid: int) -> Vm | None:
        """The VM ``vmid`` now (tasks due have done their work), or None."""
        self.tick()
        with self.lock:
            return self.vms.get(vmid)

    def vm_summary(self) -> list[dict[str, Any]]:
        """Every VM: vmid, node, name, tags, status, lock, template (a test's one-liner)."""
        self.tick()
        with self.lock:
            return [
                {
                    "vmid": vm.vmid,
                    "node": vm.node,
                    "name": vm.name,
                    "tags": vm.tags,
                    "status": "running" if vm.running else "stopped",
                    "lock": vm.lock,
                    "template": vm.is_template,
                }
                for vm in sorted(self.vms.values(), key=lambda v: v.vmid)
            ]

    def tasks_of(self, kind: str) -> list[Task]:
        """The tasks of type ``kind`` (``qmclone``, ...), oldest first."""
        self.tick()
        with self.lock:
            return [task for task in self.tasks.values() if task.type == kind]

    def record(self, method: str, path: str, params: dict[str, Any]) -> Received:
        received = Received(method, path, dict(params), None)
        with self.lock:
            self.requests.append(received)
        return received

    def received(self, method: str, pattern: str) -> list[Received]:
        """The requests received with ``method`` on paths (under /api2/json) matching
        the glob ``pattern``."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == method and fnmatch.fnmatchcase(r.path, pattern)
            ]

    # Faults -----------------------------------------------------------------------------

    def inject(self, pattern: str, **kwargs: Any) -> Fault:
        """Add a fault (see ``Fault``) for the paths matching the glob ``pattern``."""
        fault = Fault(pattern, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def fail_task(self, kind: str, exitstatus: str, *, times: int | None = 1) -> TaskFault:
        """The next ``times`` tasks of type ``kind`` end with ``exitstatus`` (their work
        undone: a failed clone leaves no VM)."""
        return self._task_fault(TaskFault(kind, exitstatus, times))

    def hang_task(self, kind: str, *, times: int | None = 1) -> TaskFault:
        """The next ``times`` tasks of type ``kind`` stay ``running`` (see ``end_task``)."""
        return self._task_fault(TaskFault(kind, None, times))

    def _task_fault(self, fault: TaskFault) -> TaskFault:
        with self.lock:
            self.task_faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.task_faults.clear()

    def fault_for(self, method: str, path: str) -> Fault | None:
        """The first fault matching a request, counted as hit."""
        with self.lock:
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault is not None:
                fault.hits += 1
            return fault

    # Tasks ------------------------------------------------------------------------------

    def start_task(
        self,
        node: str,
        kind: str,
        task_id: str,
        token: Token,
        work: Callable[[], None],
        *,
        undo: Callable[[], None] | None = None,
        log: str | None = None,
    ) -> Task:
        """A running worker (``fork_worker``) and its UPID (B.5)."""
        with self.lock:
            fault = next(
                (
                    f
                    for f in self.task_faults
                    if f.type == kind and (f.times is None or f.hits < f.times)
                ),
                None,
            )
            if fault is not None:
                fault.hits += 1
            hangs = fault is not None and fault.exitstatus is None
            duration = self.task_seconds_by_type.get(kind, self.task_seconds)
            pid = next(self._pids)
            pstart, starttime = 0xC0FFEE + pid, int(time.time())
            upid = (
                f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{task_id}:{token.id}:"
            )
            task = Task(
                upid,
                node,
                pid,
                pstart,
                starttime,
                kind,
                task_id,
                token.id,
                None if hangs else time.monotonic() + duration,
                work,
                undo,
                [log] if log else [],
                fail_with=None if fault is None else fault.exitstatus,
            )
            self.tasks[upid] = task
            return task

    def tick(self) -> None:
        """End the tasks whose time has come, in the order they were due."""
        now = time.monotonic()
        with self.lock:
            due = [
                t
                for t in self.tasks.values()
                if t.status == "running" and t.ends_at is not None and t.ends_at <= now
            ]
            for task in sorted(due, key=lambda t: t.ends_at or 0.0):
                self._end(task, None)

    def finish_tasks(self) -> None:
        """End every running task now, except those made to hang."""
        with self.lock:
            running = [t for t in self.tasks.values() if t.status == "running" and t.ends_at]
            for task in sorted(running, key=lambda t: t.ends_at or 0.0):
                self._end(task, None)

    def end_task(self, upid: str, error: str | None = None) -> None:
        """End the task ``upid`` now (a hung one too): its work, or ``error``."""
        with self.lock:
            self._end(self.tasks[upid], error)

    def _end(self, task: Task, error: str | None) -> None:
        error = error or task.fail_with
        if error is None:
            try:
                task.work()
            except TaskFailed as exc:
                error = str(exc)
        if error is not None and task.undo is not None:
            task.undo()
        task.status, task.exitstatus = "stopped", error or "OK"
        task.log.append("TASK OK" if error is None else f"TASK ERROR: {error}")

    def new_pid(self) -> int:
        with self.lock:
            return next(self._pids)

    # Authentication and permissions -----------------------------------------------------

    def authenticate(self, authorization: str | None) -> Token:
        """``extract_auth_value`` then ``verify_token``; else 401 (empty body)."""
        match = TOKEN_HEADER.search(authorization or "")
        if match is None:
            raise PveError(401, NO_TICKET)
        token_id, sep, secret = unquote(match[1]).rpartition("=")
        with self.lock:
            token = self.tokens.get(token_id)
        if (
            not sep
            or token is None
            or not token.enabled
            or (token.expire and token.expire < time.time())
            or not hmac.compare_digest(token.secret.encode(), secret.encode())
        ):
            raise PveError(401, AUTH_FAILED)
        return token

    @staticmethod
    def check(token: Token, path: str, *privileges: str, any_of: bool = False) -> None:
        """``RPCEnvironment::check``: 403 unless the token holds the privileges on ``path``."""
        held = [token.holds(p) for p in privileges]
        if any_of and not any(held):
            raise permission_denied(path, "|".join(privileges))
        if not any_of:
            for privilege, ok in zip(privileges, held, strict=True):
                if not ok:
                    raise permission_denied(path, privilege)

    # Lookups ----------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        """The node a ``/nodes/{node}/...`` call is proxied to."""
        node = self.nodes.get(name)
        if node is None:
            raise die(
                f"hostname lookup '{name}' failed - failed to get address info for: {name}: "
                "Name or service not known"
            )
        return node

    def load(self, node: str, vmid: int) -> Vm:
        """``load_config``: the VM whose config is on ``node``, or the 500 of B.3."""
        vm = self.vms.get(vmid)
        if vm is None or vm.node != node:
            raise die(f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
        return vm

    def load_on_node(self, node: str, vmid: int) -> Vm:
        """``check_running``'s ``assert_config_exists_on_node`` (reboot, reset, ...)."""
        vm = self.vms.get(vmid)
        if vm is None or vm.node != node:
            raise die(f"unable to find configuration file for VM {vmid} on node '{node}'")
        return vm

    def node_item(self, node: Node, token: Token) -> dict[str, Any]:
        """An item of ``GET /nodes``: stats only for an online node and with ``Sys.Audit``."""
        item: dict[str, Any] = {
            "id": f"node/{node.name}",
            "node": node.name,
            "type": "node",
            "status": node.status,
            "ssl_fingerprint": node.ssl_fingerprint,
        }
        if node.status == "online" and token.holds("Sys.Audit"):
            running = [vm for vm in self.vms.values() if vm.node == node.name and vm.running]
            used = sum(vm.list_item()["mem"] for vm in running)
            item |= {
                "uptime": node.uptime,
                "cpu": node.cpu,
                "mem": node.mem + used,
                "disk": node.disk,
                "level": "",
                "maxcpu": node.maxcpu,
                "maxmem": node.maxmem,
                "maxdisk": node.maxdisk,
            }
        return item
