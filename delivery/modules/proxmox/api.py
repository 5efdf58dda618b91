"""The calls the Proxmox VE module makes, through ``PanelClient`` (delivery-apis.md, Part B).

Every answer is ``{"data": ...}`` (B.3); an error carries its words in ``message`` and in
the HTTP reason phrase, and a VM that does not exist is a **500** "Configuration file
'nodes/<node>/qemu-server/<vmid>.conf' does not exist", not a 404: ``is_missing`` tells
that 500 from the node's real failures, so that a missing VM is "not found" for the
operations instead of an error to retry. ``PanelClient`` decides what is retryable (5xx,
timeouts, connection errors) and logs each call with the token's secret redacted.

Bodies are sent as JSON (B.1: the API parses a JSON body when it says so), with
booleans as 1/0 as the schema wants them in every encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext

from delivery.http import PanelClient, PanelError, error_detail, parse_body
from delivery.models import Server
from delivery.modules.base import ModuleError

DEFAULT_PORT = 8006
#: B.5: ``UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:``, trailing colon included.
UPID_PATTERN = re.compile(
    r"^UPID:(?P<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?P<pid>[0-9A-Fa-f]{8}):"
    r"(?P<pstart>[0-9A-Fa-f]{8,9}):(?P<starttime>[0-9A-Fa-f]{8}):(?P<type>[^:\s/]+):"
    r"(?P<id>[^:\s/]*):(?P<user>[^:\s/]+):$"
)
#: B.4 "Tasks": a task succeeded when it stopped with OK or with warnings only.
TASK_SUCCESS = re.compile(r"^(OK|WARNINGS: \d+)$")
#: A missing VM: ``load_config``'s die, and ``check_running``'s (reboot, reset...).
_MISSING = re.compile(
    r"Configuration file '[^']*' does not exist|unable to find configuration file for VM",
    re.IGNORECASE,
)
#: What the provisioning token needs (B.7), shown on the server form and in a 403's message.
PRIVILEGES = (
    "VM.Audit, VM.Clone, VM.Allocate, VM.PowerMgmt, VM.Config.CPU, VM.Config.Memory, "
    "VM.Config.Disk, VM.Config.Network, VM.Config.Cloudinit, VM.Config.Options, "
    "Datastore.AllocateSpace (the target storages), SDN.Use (the bridges); optionally "
    "Sys.Audit on /nodes for the nodes' load"
)


def api_url(server: Server) -> str:
    """``https://host:port/api2/json`` of the server; a hostname given as a URL is taken whole."""
    host = server.hostname.strip().rstrip("/")
    if "://" in host:
        base = host.removesuffix("/api2/json")
    else:
        if ":" in host and not host.startswith("["):  # an IPv6 address
            host = f"[{host}]"
        base = f"https://{host}:{server.port or DEFAULT_PORT}"
    return f"{base}/api2/json"


@dataclass(frozen=True)
class Upid:
    """A task id, decoded: the node it runs on, its type (qmclone, qmstart...) and id."""

    text: str
    node: str
    type: str
    id: str
    user: str


def parse_upid(value: Any) -> Upid:
    """The task id a node answered to an asynchronous call; a ModuleError when it is not one."""
    text = str(value or "")
    match = UPID_PATTERN.match(text)
    if match is None:
        raise ModuleError(
            gettext("Proxmox VE answered %(answer)s where a task id (UPID) was expected.")
            % {"answer": repr(text[:80])}
        )
    return Upid(text, match["node"], match["type"], match["id"], match["user"])


@dataclass(frozen=True)
class TaskStatus:
    """Where a task stands: ``running``, or stopped with its ``exitstatus``."""

    upid: Upid
    running: bool
    exitstatus: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.running and bool(TASK_SUCCESS.match(self.exitstatus))

    def failure(self) -> ModuleError:
        """The error of a task that stopped with anything but OK: trying again repeats it."""
        return ModuleError(
            gettext("The %(type)s task on node %(node)s failed: %(status)s")
            % {
                "type": self.upid.type,
                "node": self.upid.node,
                "status": self.exitstatus or gettext("no exit status"),
            }
        )


def describe_error(response: httpx.Response) -> str:
    """The message of a failed answer, in words staff can act on."""
    status = response.status_code
    if status == 401:
        return (
            "Proxmox VE refused the API token (401 "
            f"{response.reason_phrase or 'Authentication failed!'}): the API token was refused. "
            "Check its id (user@realm!tokenid) and secret on the server's credentials, and "
            "that it has not expired."
        )
    detail = error_detail(parse_body(response)) or " ".join(response.reason_phrase.split())
    if status == 403:
        return f"The API token lacks a privilege: {detail}. It needs {PRIVILEGES}."
    if status == 501:
        return (
            f"Proxmox VE does not know this call ({detail}): is the address that of a "
            f"Proxmox VE API (https://host:{DEFAULT_PORT})?"
        )
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        return f"The node redirected the call to {where}: check its address."
    return f"Proxmox VE answered {status}: {detail or 'no detail'}"


def is_missing(exc: PanelError) -> bool:
    """Whether the error says the VM does not exist (B.3: a 500, not a 404)."""
    return exc.http_status == 500 and bool(_MISSING.search(exc.message))


class ProxmoxApi:
    """One Proxmox VE host (or cluster). Use it as a context manager."""

    def __init__(self, server: Server) -> None:
        credentials = server.credentials or {}
        token_id = str(credentials.get("token_id") or "")
        secret = str(credentials.get("token_secret") or "")
        if not token_id or not secret:
            raise ModuleError(
                gettext("Server %(server)s has no API token: edit its credentials.")
                % {"server": server}
            )
        self.url = api_url(server)
        self.client = PanelClient(
            server,
            base_url=self.url,
            headers={"Authorization": f"PVEAPIToken={token_id}={secret}"},
            secrets=[secret],
            describe_error=describe_error,
            verify=credentials.get("verify_tls", "yes") != "no",
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ProxmoxApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        operation: str,
    ) -> Any:
        """The ``data`` of the answer to one call (B.3)."""
        payload = self.client.json(method, path, params=params, json=body, operation=operation)
        if not isinstance(payload, dict) or "data" not in payload:
            raise ModuleError(
                gettext(
                    "The answer is not a Proxmox VE API answer: is the address that of a "
                    "Proxmox VE API (https://host:%(port)s)?"
                )
                % {"port": DEFAULT_PORT}
            )
        return payload["data"]

    def task(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, **kw: Any
    ) -> Upid | None:
        """Start an asynchronous call: its task id, or None when the node did it at once."""
        data = self.call(method, path, body=body, **kw)
        return None if data is None else parse_upid(data)

    # Reading ------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        found = self.call("GET", "/nodes", operation="list nodes")
        return [node for node in found or [] if isinstance(node, dict) and node.get("node")]

    def vms(self, node: str) -> list[dict[str, Any]]:
        found = self.call("GET", f"/nodes/{node}/qemu", operation=f"list VMs of {node}")
        return [vm for vm in found or [] if isinstance(vm, dict) and "vmid" in vm]

    def all_vms(self, *, online_only: bool = True) -> list[tuple[str, dict[str, Any]]]:
        """(node, VM) of every VM of every node (online ones: the others cannot answer)."""
        return [
            (node["node"], vm)
            for node in self.nodes()
            if not online_only or node.get("status") == "online"
            for vm in self.vms(node["node"])
        ]

    def config(self, node: str, vmid: int, *, operation: str = "read config") -> dict | None:
        """The VM's configuration (pending changes applied); None when it does not exist."""
        try:
            return self.call("GET", f"/nodes/{node}/qemu/{vmid}/config", operation=operation)
        except PanelError as exc:
            if is_missing(exc):
                return None
            raise

    def status(self, node: str, vmid: int) -> dict[str, Any] | None:
        """``status/current``; None when the VM does not exist."""
        try:
            return self.call(
                "GET", f"/nodes/{node}/qemu/{vmid}/status/current", operation="read status"
            )
        except PanelError as exc:
            if is_missing(exc):
                return None
            raise

    def task_status(self, upid: Upid) -> TaskStatus:
        path = f"/nodes/{upid.node}/tasks/{quote(upid.text, safe='')}/status"
        data = self.call("GET", path, operation=f"task {upid.type}")
        data = data if isinstance(data, dict) else {}
        return TaskStatus(
            upid=upid,
            running=data.get("status") == "running",
            exitstatus=str(data.get("exitstatus") or ""),
        )

    def next_vmid(self) -> int:
        value = self.call("GET", "/cluster/nextid", operation="next VMID")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ModuleError(
                gettext("Proxmox VE answered %(answer)s for the next free VMID.")
                % {"answer": repr(value)}
            ) from None

    # Changing -----------------------------------------------------------------------------

    def clone(self, node: str, template: int, body: dict[str, Any]) -> Upid | None:
        return self.task(
            "POST", f"/nodes/{node}/qemu/{template}/clone", body=body, operation="clone"
        )

    def configure(self, node: str, vmid: int, body: dict[str, Any]) -> Upid | None:
        """``POST config``: asynchronous, a task (B.4 "Set config")."""
        return self.task("POST", f"/nodes/{node}/qemu/{vmid}/config", body=body, operation="config")

    def set_options(self, node: str, vmid: int, body: dict[str, Any], *, operation: str) -> None:
        """``PUT config``: synchronous, for the few options (tags, onboot, protection) it sets."""
        self.call("PUT", f"/nodes/{node}/qemu/{vmid}/config", body=body, operation=operation)

    def resize(self, node: str, vmid: int, disk: str, size: str) -> Upid | None:
        return self.task(
            "PUT",
            f"/nodes/{node}/qemu/{vmid}/resize",
            body={"disk": disk, "size": size},
            operation="resize",
        )

    def power(
        self, node: str, vmid: int, action: str, body: dict[str, Any] | None = None
    ) -> Upid | None:
        return self.task(
            "POST", f"/nodes/{node}/qemu/{vmid}/status/{action}", body=body, operation=action
        )

    def destroy(self, node: str, vmid: int) -> Upid | None:
        return self.task(
            "DELETE",
            f"/nodes/{node}/qemu/{vmid}",
            params={"purge": 1, "destroy-unreferenced-disks": 1},
            operation="delete",
        )
