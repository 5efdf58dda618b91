"""The calls of delivery-apis.md B.4 (``Nodes.pm``, ``Cluster.pm``, ``Qemu.pm``, ``Tasks.pm``).

A request goes as in ``pve-http-server`` and ``HTTPServer.pm::rest_handler``: the token,
then the route (501 when none), then the permission check, then the parameter schema
(400), then the handler, whose plain errors are 500s. What a handler checks before it
forks is answered synchronously; what its worker checks ends the task in error.
"""

from __future__ import annotations

import itertools
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from tests.fakes.proxmox.calls import Call, Waiting
from tests.fakes.proxmox.errors import PveError, die, param_error
from tests.fakes.proxmox.power import (
    current_status,
    destroy,
    reboot,
    reset,
    resume,
    shutdown,
    start,
    stop,
    suspend,
)
from tests.fakes.proxmox.qemu import (
    clone,
    get_config,
    resize,
    set_config_async,
    set_config_sync,
)
from tests.fakes.proxmox.schema import SCHEMAS, validate
from tests.fakes.proxmox.state import UPID_FORMAT, FakeProxmox, Task, Token

CONFIG_PRIVILEGES = (
    "VM.Config.Disk",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.HWType",
    "VM.Config.Options",
    "VM.Config.Cloudinit",
)


@dataclass
class Reply:
    """The answer: ``data`` on success, else ``message`` (and ``errors``); ``delay`` before."""

    status: int
    data: Any = None
    message: str | None = None
    errors: dict[str, str] | None = None
    delay: float = 0.0


Handler = Callable[[FakeProxmox, Call], Any]
Permit = Callable[[FakeProxmox, Token, dict[str, Any]], None]


class Route(NamedTuple):
    """A method and path regex, its schema (a key of ``SCHEMAS``), permission, handler."""

    method: str
    pattern: str
    schema: str
    permit: Permit
    handler: Handler


def dispatch(
    fake: FakeProxmox, method: str, path: str, params: dict[str, Any], authorization: str | None
) -> Reply:
    """PVE's answer to ``method`` on ``path`` (under ``/api2/json``) with ``params``."""
    fake.tick()
    with fake.lock:
        received = fake.record(method, path, params)
    try:
        token = fake.authenticate(authorization)
    except PveError as exc:
        return Reply(exc.status, message=exc.message, delay=fake.unauthorized_delay)
    received.token = token.id
    try:
        route, match = _route(method, path)
        raw = {**params, **match.groupdict()}
        route.permit(fake, token, raw)
        call = Call(token, validate(raw, SCHEMAS[route.schema]))
        with fake.lock:
            result = route.handler(fake, call)
        if isinstance(result, Waiting):
            return _wait(fake, result)
        return Reply(200, data=result)
    except PveError as exc:
        return Reply(exc.status, message=exc.message, errors=exc.errors)
    except Exception:  # a bug of the fake: PVE's 500 for a die, the traceback on stderr
        traceback.print_exc()
        return Reply(500, message="internal error in the fake Proxmox VE")


def _route(method: str, path: str) -> tuple[Route, re.Match[str]]:
    """The route of ``method`` on ``path``, or PVE's 501."""
    for route in ROUTES:
        match = re.fullmatch(route.pattern, path)
        if match is not None and route.method == method:
            return route, match
    raise PveError(501, f"Method '{method} {path}' not implemented")


def _wait(fake: FakeProxmox, waiting: Waiting) -> Reply:
    """``background_delay``: null when the task ended well within it, its UPID otherwise."""
    task = waiting.task
    remaining = waiting.seconds
    if task.ends_at is not None:
        remaining = min(remaining, max(task.ends_at - time.monotonic(), 0.0))
    fake.stopping.wait(remaining)
    fake.tick()
    with fake.lock:
        if task.status != "stopped":
            return Reply(200, data=task.upid)
        if task.exitstatus != "OK":
            raise die(f"failed to update VM {waiting.vmid}: {task.exitstatus}")
        return Reply(200, data=None)


# Cluster and nodes -------------------------------------------------------------------------


def list_nodes(fake: FakeProxmox, call: Call) -> Any:
    return [fake.node_item(node, call.token) for _, node in sorted(fake.nodes.items())]


def cluster_resources(fake: FakeProxmox, call: Call) -> Any:
    """``GET /cluster/resources``: VMs, nodes and storages the token may see."""
    kind = call.params.get("type")
    items: list[dict[str, Any]] = []
    if kind in (None, "vm") and call.token.holds("VM.Audit"):
        for vm in sorted(fake.vms.values(), key=lambda v: v.vmid):
            item = vm.list_item(full=True)
            item.pop("qmpstatus")
            item.pop("memhost")
            item.pop("pid", None)
            item.update(
                id=f"qemu/{vm.vmid}",
                node=vm.node,
                type="qemu",
                template=int(vm.is_template),
                maxcpu=item.pop("cpus"),
            )
            if vm.pool:
                item["pool"] = vm.pool
            items.append(item)
    if kind in (None, "node"):
        for _, node in sorted(fake.nodes.items()):
            items.append(fake.node_item(node, call.token))
    if kind in (None, "storage") and call.token.holds("Datastore.Audit"):
        for (node_name, _), (storage_name, storage) in itertools.product(
            sorted(fake.nodes.items()), sorted(fake.storages.items())
        ):
            if storage.on(node_name):
                items.append(
                    {
                        "id": f"storage/{node_name}/{storage_name}",
                        "storage": storage_name,
                        "node": node_name,
                        "type": "storage",
                        "status": "available",
                        "plugintype": storage.type,
                        "content": ",".join(sorted(storage.content)),
                        "shared": int(storage.shared),
                        "disk": 0,
                        "maxdisk": storage.total,
                    }
                )
    return items


def next_id(fake: FakeProxmox, call: Call) -> Any:
    """``GET /cluster/nextid``: a string; 400 when the asked id is taken."""
    vmid = call.params.get("vmid")
    if vmid is not None:
        if vmid in fake.vms:
            raise param_error({"vmid": f"VM {vmid} already exists"})
        return str(vmid)
    return str(next(i for i in itertools.count(100) if i not in fake.vms))


def list_vms(fake: FakeProxmox, call: Call) -> Any:
    fake.node(call.node)
    full = bool(call.params.get("full"))
    vms = sorted((vm for vm in fake.vms.values() if vm.node == call.node), key=lambda v: v.vmid)
    return [vm.list_item(full=full) for vm in vms if call.token.holds("VM.Audit")]


# Tasks --------------------------------------------------------------------------------------


def _task(fake: FakeProxmox, call: Call) -> Task:
    """The task of the path: 400 for a UPID that does not parse or is unknown on this
    node; another token's task needs ``Sys.Audit`` on the node."""
    fake.node(call.node)
    upid = str(call.params["upid"])
    if not UPID_FORMAT.match(upid):
        raise param_error({"upid": "unable to parse worker upid"})
    task = fake.tasks.get(upid)
    if task is None or task.node != call.node:
        raise param_error({"upid": "no such task"})
    if task.user != call.token.id:
        fake.check(call.token, f"/nodes/{call.node}", "Sys.Audit")
    return task


def task_status(fake: FakeProxmox, call: Call) -> Any:
    return _task(fake, call).status_item()


def task_log(fake: FakeProxmox, call: Call) -> Any:
    """Lines ``{"n", "t"}`` from ``start`` (0), at most ``limit`` (50)."""
    lines = _task(fake, call).log or ["no content"]
    first = int(call.params.get("start", 0))
    limit = int(call.params.get("limit", 50))
    numbered = [{"n": n, "t": text} for n, text in enumerate(lines, start=1)]
    return numbered[first : first + limit]


# Routes -------------------------------------------------------------------------------------


def anyone(fake: FakeProxmox, token: Token, raw: dict[str, Any]) -> None:
    """``user => 'all'``: lists filter what the token may see."""


def on_vm(*privileges: str, any_of: bool = False) -> Permit:
    def permit(fake: FakeProxmox, token: Token, raw: dict[str, Any]) -> None:
        fake.check(token, f"/vms/{raw.get('vmid')}", *privileges, any_of=any_of)

    return permit


def clone_permit(fake: FakeProxmox, token: Token, raw: dict[str, Any]) -> None:
    """``VM.Clone`` on the source and ``VM.Allocate`` on the new id (or on the pool)."""
    fake.check(token, f"/vms/{raw.get('vmid')}", "VM.Clone")
    allocate = f"/pool/{raw['pool']}" if raw.get("pool") else f"/vms/{raw.get('newid')}"
    fake.check(token, allocate, "VM.Allocate")


NODE = r"/nodes/(?P<node>[^/]+)"
VM = NODE + r"/qemu/(?P<vmid>[^/]+)"
POWER: dict[str, Handler] = {
    "start": start,
    "stop": stop,
    "shutdown": shutdown,
    "reboot": reboot,
    "reset": reset,
    "suspend": suspend,
    "resume": resume,
}
CONFIG = on_vm(*CONFIG_PRIVILEGES, any_of=True)
ROUTES: list[Route] = [
    Route("GET", r"/nodes", "nodes", anyone, list_nodes),
    Route("GET", r"/cluster/resources", "resources", anyone, cluster_resources),
    Route("GET", r"/cluster/nextid", "nextid", anyone, next_id),
    Route("GET", NODE + r"/qemu", "vmlist", anyone, list_vms),
    Route("POST", VM + r"/clone", "clone", clone_permit, clone),
    Route("GET", VM + r"/config", "config_get", on_vm("VM.Audit"), get_config),
    Route("PUT", VM + r"/config", "config_put", CONFIG, set_config_sync),
    Route("POST", VM + r"/config", "config_post", CONFIG, set_config_async),
    Route("PUT", VM + r"/resize", "resize", on_vm("VM.Config.Disk"), resize),
    Route("GET", VM + r"/status/current", "status", on_vm("VM.Audit"), current_status),
    *(
        Route("POST", VM + f"/status/{action}", action, on_vm("VM.PowerMgmt"), handler)
        for action, handler in POWER.items()
    ),
    Route("DELETE", VM, "destroy", on_vm("VM.Allocate"), destroy),
    Route("GET", NODE + r"/tasks/(?P<upid>[^/]+)/status", "task_status", anyone, task_status),
    Route("GET", NODE + r"/tasks/(?P<upid>[^/]+)/log", "task_log", anyone, task_log),
]
