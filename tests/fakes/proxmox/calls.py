"""What the handlers share: the checked call, a wait for a task, a worker's lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.proxmox.errors import PveError, TaskFailed
from tests.fakes.proxmox.state import FakeProxmox, Task, Token
from tests.fakes.proxmox.vm import Vm


@dataclass
class Call:
    """A request past authentication and its schema: the token and the checked params."""

    token: Token
    params: dict[str, Any]

    @property
    def node(self) -> str:
        return str(self.params["node"])

    @property
    def vmid(self) -> int:
        return int(self.params["vmid"])


@dataclass
class Waiting:
    """An async config update asked to wait (``background_delay``) for its task."""

    task: Task
    seconds: float
    vmid: int


def worker_load(fake: FakeProxmox, node: str, vmid: int, *, on_node: bool = False) -> Vm:
    """A lookup inside a worker: its failure ends the task."""
    try:
        return fake.load_on_node(node, vmid) if on_node else fake.load(node, vmid)
    except PveError as exc:
        raise TaskFailed(exc.message) from exc


def check_lock(vm: Vm, *, allow: str | None = None) -> None:
    """``check_lock`` in a worker."""
    if vm.lock and vm.lock != allow:
        raise TaskFailed(f"VM is locked ({vm.lock})")
