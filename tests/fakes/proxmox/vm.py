"""A VM of the fake: its config as ``qemu-server`` stores it, and PVE's views of it.

Config values have the types ``parse_vm_config`` gives them (B.4 "Read config"): integer
options are numbers, booleans ``1``/``0``, everything else, ``memory`` included, a string.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import dataclass
from typing import Any

MiB = 1024**2
GiB = 1024**3
UNITS = {"K": 1024, "M": MiB, "G": GiB, "T": 1024**4}
MAC_PREFIX = "BC:24:11"  # PVE's default ``mac_prefix`` (datacenter.cfg)
DISK_BUSES = ("scsi", "virtio", "sata", "ide", "efidisk", "tpmstate")
DRIVE_KEY = re.compile(r"^(?:ide|scsi|virtio|sata|efidisk|tpmstate)\d+$")
MASKED = "**********"


def new_mac() -> str:
    return MAC_PREFIX + "".join(f":{random.randrange(256):02X}" for _ in range(3))


def parse_size(text: str) -> int:
    """Bytes of ``20G``, ``512M``, ``1.5T`` or a plain byte count."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT])?", text)
    if match is None:
        return 0
    return int(float(match[1]) * UNITS.get(match[2] or "", 1))


def format_size(size: int) -> str:
    """``PVE::JSONSchema::format_size``: the largest unit that divides the size exactly."""
    for unit in ("T", "G", "M", "K"):
        if size and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return str(size)


def parse_drive(value: str) -> tuple[str, dict[str, str]]:
    """``local-lvm:vm-123-disk-0,size=20G`` as its volume id and its options."""
    volid, *rest = value.split(",")
    options = {}
    for part in rest:
        key, _, option = part.partition("=")
        options[key] = option
    return volid, options


def print_drive(volid: str, options: dict[str, str]) -> str:
    return ",".join([volid, *(f"{key}={value}" for key, value in options.items())])


def is_cdrom(options: dict[str, str]) -> bool:
    return options.get("media") == "cdrom"


def is_cloudinit(volid: str) -> bool:
    return re.search(r"vm-\d+-cloudinit", volid) is not None


def storage_of(volid: str) -> str | None:
    return volid.split(":", 1)[0] if ":" in volid else None


def normalize_net(value: str, *, fresh_mac: bool = False) -> str:
    """``virtio,bridge=vmbr0`` as ``print_net`` writes it: ``model=MAC`` first, a MAC
    chosen when none is given (or ``fresh_mac``, as a clone does)."""
    first, *rest = value.split(",")
    model, _, mac = first.removeprefix("model=").partition("=")
    extra = []
    for part in rest:
        if part.startswith("macaddr="):
            mac = part.removeprefix("macaddr=")
        else:
            extra.append(part)
    mac = new_mac() if fresh_mac or not mac else mac.upper()
    return ",".join([f"{model}={mac}", *extra])


def bridge_of(net: str) -> str | None:
    return next((p[7:] for p in net.split(",") if p.startswith("bridge=")), None)


def normalize_tags(value: str) -> str:
    """Tags unique and sorted, joined with ``;`` (the default ``tag-style`` ordering)."""
    return ";".join(sorted({tag for tag in re.split(r"[;, ]+", value) if tag}))


def memory_mib(config: dict[str, Any]) -> int:
    """The ``memory`` property string (``2048`` or ``current=2048``), 512 when unset."""
    text = str(config.get("memory", "512")).removeprefix("current=")
    return int(text) if text.isdigit() else 512


@dataclass
class Vm:
    """A VM: its ``config`` and what runs (``running``, ``paused``), on ``node``.

    ``answers_acpi`` False: a guest that ignores ``shutdown`` (which then times out).
    """

    vmid: int
    node: str
    config: dict[str, Any]
    running: bool = False
    paused: bool = False
    started: float = 0.0
    pid: int = 0
    answers_acpi: bool = True
    pool: str | None = None

    @property
    def name(self) -> str:
        return str(self.config.get("name") or f"VM {self.vmid}")

    @property
    def lock(self) -> str | None:
        return self.config.get("lock")

    @property
    def tags(self) -> list[str]:
        return [tag for tag in str(self.config.get("tags", "")).split(";") if tag]

    @property
    def is_template(self) -> bool:
        return bool(self.config.get("template"))

    def power_on(self, pid: int) -> None:
        self.running, self.paused, self.started, self.pid = True, False, time.monotonic(), pid

    def power_off(self) -> None:
        self.running, self.paused, self.started, self.pid = False, False, 0.0, 0

    def uptime(self) -> int:
        return int(time.monotonic() - self.started) if self.running else 0

    def drives(self) -> list[tuple[str, str, dict[str, str]]]:
        """(key, volume id, options) of each drive, disks in bus order, then by number."""
        keys = [key for key in self.config if DRIVE_KEY.match(key)]
        order = sorted(keys, key=lambda k: (DISK_BUSES.index(k.rstrip("0123456789")), len(k), k))
        return [(key, *parse_drive(str(self.config[key]))) for key in order]

    def boot_disk_size(self) -> int:
        disks = [opts for _, volid, opts in self.drives() if not is_cdrom(opts) and volid]
        return parse_size(disks[0].get("size", "0")) if disks else 0

    def cpus(self) -> int:
        sockets, cores = int(self.config.get("sockets", 1)), int(self.config.get("cores", 1))
        return int(self.config.get("vcpus") or sockets * cores)

    def digest(self) -> str:
        """The SHA1 of the config file's text."""
        text = "".join(f"{key}: {value}\n" for key, value in sorted(self.config.items()))
        return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - PVE's own choice

    # PVE's views ------------------------------------------------------------------------

    def list_item(self, *, full: bool = False) -> dict[str, Any]:
        """An item of ``GET /nodes/{node}/qemu`` (``vmstatus``)."""
        maxmem = memory_mib(self.config) * MiB
        uptime = self.uptime()
        mem = maxmem * 3 // 8 if self.running else 0
        item: dict[str, Any] = {
            "vmid": self.vmid,
            "name": self.name,
            "status": "running" if self.running else "stopped",
            "cpus": self.cpus(),
            "maxmem": maxmem,
            "maxdisk": self.boot_disk_size(),
            "disk": 0,
            "mem": mem,
            "memhost": mem,
            "cpu": 0.031 if self.running and not self.paused else 0,
            "uptime": uptime,
            "netin": uptime * 1200,
            "netout": uptime * 800,
        }
        if self.running:
            item["pid"] = self.pid
        if self.is_template:
            item["template"] = 1
        if self.lock:
            item["lock"] = self.lock
        if self.config.get("tags"):
            item["tags"] = self.config["tags"]
        if full:
            item |= {
                "qmpstatus": self.qmpstatus(),
                "diskread": uptime * 4096,
                "diskwrite": uptime * 2048,
            }
        return item

    def qmpstatus(self) -> str:
        if not self.running:
            return "stopped"
        return "paused" if self.paused else "running"

    def status(self) -> dict[str, Any]:
        """``GET .../status/current``: ``vmstatus(full=1)`` plus ``ha`` and ``agent``."""
        item = {**self.list_item(full=True), "ha": {"managed": 0}}
        if re.match(r"^(?:enabled=)?1", str(self.config.get("agent", "0"))):
            item["agent"] = 1
        if self.running:
            item |= {"running-machine": "pc-i440fx-9.2+pve1", "running-qemu": "9.2.0"}
        return item

    def config_view(self) -> dict[str, Any]:
        """``GET .../config``: the config, ``cipassword`` masked, and its ``digest``."""
        view = dict(self.config)
        if "cipassword" in view:
            view["cipassword"] = MASKED
        return view | {"digest": self.digest()}
