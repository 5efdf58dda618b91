"""The management tabs of a Proxmox VE service: what they show and what their buttons do.

Overview and Power read ``status/current`` and the configuration (for the addresses
cloud-init gives the VM); Power's buttons start a task and wait a little for it.
Reinstall destroys the VM and clones the template again under the same VMID, as
creating it did (``jobs.CHAINS["reinstall"]``); what is still running when its wait ends
the lifecycle keeps in flight and follows, like an install. Staff also see the configuration as
the node reports it. Whatever a tab's context raises is shown as an error panel in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from clientxcms.redaction import redact
from delivery.modules.base import Audience, ModuleError, ModuleResult, Tab, TabAction

from . import jobs
from .api import ProxmoxApi

if TYPE_CHECKING:
    from . import ProxmoxModule

#: What staff need to press the Power and Reinstall buttons; customers need to own the service.
CHANGE = "services.change_service"
MIB = 1024 * 1024
GIB = 1024 * MIB
#: Marks the texts kept at module level: translated when a page shows them.
_ = cast(Callable[[str], str], gettext_lazy)
STATE_BADGES = {"running": "success", "stopped": "secondary", "paused": "warning"}
#: What the state line says of each state (another state shows as the node names it).
STATE_LABELS = {
    "running": pgettext_lazy("power state", "Running"),
    "stopped": _("Stopped"),
    "paused": _("Paused"),
    "suspended": _("Suspended"),
    "prelaunch": _("Prelaunch"),
    "unknown": _("Unknown"),
}
POWER = {
    # action: (label, style, confirmation, done, started)
    "start": (_("Start"), "success", "", _("The VM is started."), _("The VM is starting.")),
    "shutdown": (
        _("Shut down"),
        "secondary",
        "",
        _("The VM is shut down."),
        _("The VM is shutting down (its system is asked to power off)."),
    ),
    "reboot": (
        _("Reboot"),
        "primary",
        _(
            "Rebooting restarts the VM's system: programs running are stopped and what they "
            "did not save is lost."
        ),
        _("The VM rebooted."),
        _("The VM is rebooting."),
    ),
    "stop": (
        _("Hard stop"),
        "danger",
        _(
            "A hard stop cuts the VM's power at once, like pulling the plug: what its system "
            "did not write to disk is lost. Use Shut down unless the VM no longer answers."
        ),
        _("The VM is stopped."),
        _("The VM is stopping."),
    ),
}
REINSTALL_CONFIRM = _(
    "Reinstalling deletes the VM with its disks and makes it again from the template: "
    "everything on it is lost. Keep a backup of what matters first."
)
_ADDRESS = re.compile(r"(?:^|,)ip6?=([^,]+)")


def duration(seconds: int) -> str:
    """3725 → "1 h 2 min": an uptime as people read it."""
    days, seconds = divmod(int(seconds), 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return gettext("%(minutes)s min") % {"minutes": minutes}
    return gettext("%(seconds)s s") % {"seconds": seconds}


def percent(used: float, limit: float) -> int | None:
    if not limit:
        return None
    return max(0, min(100, round(used * 100 / limit)))


def addresses(config: dict[str, Any]) -> list[str]:
    """The static addresses cloud-init gives the VM (``ipconfigN``: ``ip=…/24,gw=…``)."""
    found = []
    for key in sorted(k for k in config if k.startswith("ipconfig")):
        for value in _ADDRESS.findall(str(config[key])):
            if value not in ("dhcp", "auto"):
                found.append(value.split("/")[0])
    return found


def declare(module: ProxmoxModule, audience: Audience) -> list[Tab]:
    """The tabs of a Proxmox VE service for ``audience``."""
    power = tuple(
        TabAction(
            key=action,
            label=str(label),
            run=partial(power_action, module, action=action),
            confirm=str(confirm),
            permission=CHANGE,
            style=style,
        )
        for action, (label, style, confirm, _, _) in POWER.items()
    )
    overview = partial(vm_overview, module)
    declared = [
        Tab(
            key="overview",
            label=gettext("Overview"),
            template="delivery/proxmox/overview.html",
            order=10,
            context=overview,
        ),
        Tab(
            key="power",
            label=gettext("Power"),
            template="delivery/proxmox/power.html",
            order=20,
            context=overview,
            actions=power,
        ),
        Tab(
            key="reinstall",
            label=gettext("Reinstall"),
            template="delivery/proxmox/reinstall.html",
            order=30,
            actions=(
                TabAction(
                    key="reinstall",
                    label=gettext("Reinstall"),
                    run=partial(reinstall, module),
                    confirm=str(REINSTALL_CONFIRM),
                    permission=CHANGE,
                    style="danger",
                ),
            ),
        ),
    ]
    if audience == Audience.STAFF:
        declared.append(
            Tab(
                key="config",
                label=gettext("Configuration"),
                template="delivery/proxmox/config.html",
                order=90,
                audiences=frozenset({Audience.STAFF}),
                context=partial(vm_config, module),
            )
        )
    return declared


def _where(module: ProxmoxModule, api: ProxmoxApi, service: Any) -> tuple[str, int]:
    run = module.located(api, service, "tab")
    if run is None:
        raise ModuleError(gettext("This service has no VM on the node."))
    return run.where


def vm_overview(module: ProxmoxModule, service: Any) -> dict[str, Any]:
    """The VM's state and use of its resources (``status/current``), and its addresses."""
    with module.api(service) as api:
        node, vmid = _where(module, api, service)
        status = api.status(node, vmid) or {}
        config = api.config(node, vmid) or {}
    state = str(status.get("qmpstatus") or status.get("status") or "unknown")
    running = status.get("status") == "running"
    cpus = int(status.get("cpus") or config.get("cores") or 0)
    cpu = round(float(status.get("cpu") or 0) * 100, 1)
    memory, max_memory = int(status.get("mem") or 0), int(status.get("maxmem") or 0)
    max_disk = int(status.get("maxdisk") or 0)
    return {
        "name": status.get("name") or config.get("name") or "",
        "vmid": vmid,
        "node": node,
        "state": state,
        "state_label": str(STATE_LABELS.get(state) or state.capitalize()),
        "state_badge": STATE_BADGES.get(state, "secondary"),
        "running": running,
        "suspended": jobs.SUSPENDED_TAG in jobs.split_tags(config.get("tags")),
        "lock": str(config.get("lock") or ""),
        "uptime": duration(int(status.get("uptime") or 0)) if running else "",
        "cpu": cpu,
        "cpus": cpus,
        "cpu_percent": percent(cpu, 100) if running else None,
        "memory_mib": round(memory / MIB),
        "memory_limit_mib": round(max_memory / MIB),
        "memory_percent": percent(memory, max_memory) if running else None,
        "disk_gib": round(max_disk / GIB, 1),
        "addresses": addresses(config),
    }


def vm_config(module: ProxmoxModule, service: Any) -> dict[str, Any]:
    """The VM's configuration as its node reports it, secrets hidden."""
    with module.api(service) as api:
        node, vmid = _where(module, api, service)
        config = api.config(node, vmid, operation="read config") or {}
    rows = []
    for key in sorted(config):
        value = str(config[key])
        if key == "sshkeys":
            value = unquote(value)
        rows.append((key, redact(f"{key}={value}").partition("=")[2]))
    return {"node": node, "vmid": vmid, "rows": rows}


def power_action(module: ProxmoxModule, service: Any, *, action: str) -> ModuleResult:
    """Start a power task and wait a little for it: done, or still under way."""
    _, _, _, done, started = POWER[action]
    with module.api(service) as api:
        node, vmid = _where(module, api, service)
        upid = api.power(node, vmid, action)
        finished = upid is None or jobs.wait_for(api, upid, jobs.TASK_WAIT_SECONDS)
    return ModuleResult(message=str(done if finished else started))


def reinstall(module: ProxmoxModule, service: Any) -> ModuleResult:
    """Destroy the VM and clone the template again under the same VMID. What is still
    running when the wait ends answers ``waiting`` with its job: the lifecycle keeps the
    reinstall in flight and follows it (``follow(service, "panel")``) until the VM runs."""
    with module.api(service) as api:
        run = module.located(api, service, "reinstall")
        if run is None:
            raise ModuleError(gettext("This service has no VM on the node to reinstall."))
        return module.carry_out(run)
