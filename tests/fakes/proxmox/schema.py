"""Parameter checks as PVE makes them (``pve-common src/PVE/JSONSchema.pm``) and the schemas
of the calls the fake serves (``qemu-server src/PVE/API2/Qemu.pm``).

Every method has ``additionalProperties => 0``, so a parameter that is not in its schema is
a 400 like any other failed check; all failures of one request are reported together in
the ``errors`` map. In form or query encoding a boolean is only ``1`` or ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.proxmox.errors import param_error

UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"
MISSING = "property is missing and it is not optional"


@dataclass(frozen=True)
class Param:
    """One property: its ``type`` (string, integer, number, boolean) and constraints."""

    type: str = "string"
    optional: bool = True
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    format: str | None = None
    max_length: int | None = None


#: Property names, or regexes matched in full for the numbered ones (``net\d+``).
Schema = Mapping[str, Param]

DNS_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
FORMATS: dict[str, tuple[str, str]] = {
    # format: (regex the value must match, the die text of the format's verifier)
    "dns-name": (rf"(?:{DNS_LABEL}\.)*{DNS_LABEL}", "value does not look like a valid DNS name"),
    "pve-node": (DNS_LABEL, "value does not look like a valid node name"),
    "pve-storage-id": (
        r"[a-z][a-z0-9\-_.]*[a-z0-9]",
        "storage ID '{}' contains illegal characters",
    ),
    "pve-poolid": (r"[A-Za-z0-9\-_]+", "pool name '{}' contains illegal characters"),
    "pve-snapshot-name": (r"[a-zA-Z][a-zA-Z0-9_\-]+", "invalid configuration ID '{}'"),
    "urlencoded": (r"[-%a-zA-Z0-9_.!~*'()]*", "invalid urlencoded string: {}"),
    "pve-tag-list": (
        r"[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*(?:[;, ]+[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*)*[;, ]*",
        "invalid tag list '{}'",
    ),
}


class _Bad(Exception):
    pass


def _convert(value: Any, param: Param) -> Any:
    """The value as the handler sees it, or ``_Bad`` with the schema's error text."""
    if param.type == "boolean":
        if value is True or value is False:
            return int(value)
        if isinstance(value, int) and value in (0, 1) or value in ("0", "1"):
            return int(value)
        raise _Bad(f"type check ('boolean') failed - got '{value}'")
    if param.type in ("integer", "number"):
        text = str(value)
        integer = re.fullmatch(r"[+-]?\d+", text) and not isinstance(value, bool | float)
        number = re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text) and not isinstance(value, bool)
        if not (integer if param.type == "integer" else number):
            raise _Bad(f"type check ('{param.type}') failed - got '{value}'")
        converted: float = int(text) if param.type == "integer" else float(text)
        if param.minimum is not None and converted < param.minimum:
            raise _Bad(f"value must have a minimum value of {param.minimum:g}")
        if param.maximum is not None and converted > param.maximum:
            raise _Bad(f"value must have a maximum value of {param.maximum:g}")
        return converted
    if isinstance(value, dict | list) or value is None or isinstance(value, bool):
        raise _Bad(f"type check ('string') failed - got '{value}'")
    text = str(value)
    if param.max_length is not None and len(text) > param.max_length:
        raise _Bad(f"value may only be {param.max_length} characters long")
    if param.enum is not None and text not in param.enum:
        raise _Bad(
            f"value '{text}' does not have a value in the enumeration '{', '.join(param.enum)}'"
        )
    if param.pattern is not None and not re.fullmatch(param.pattern, text):
        raise _Bad("value does not match the regex pattern")
    if param.format is not None:
        regex, message = FORMATS[param.format]
        if not re.fullmatch(regex, text):
            raise _Bad(f"invalid format - {message.format(text)}")
    return text


def lookup(schema: Schema, name: str) -> Param | None:
    if name in schema:
        return schema[name]
    return next((p for key, p in schema.items() if re.fullmatch(key, name)), None)


def validate(raw: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """The checked values of ``raw``, or a 400 naming every failed property."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        param = lookup(schema, name)
        if param is None:
            errors[name] = UNKNOWN
            continue
        try:
            values[name] = _convert(value, param)
        except _Bad as exc:
            errors[name] = str(exc)
    for name, param in schema.items():
        if not param.optional and name not in raw:
            errors[name] = MISSING
    if errors:
        raise param_error(errors)
    return values


# The schemas -----------------------------------------------------------------------------

NODE = Param(format="pve-node", optional=False)
VMID = Param("integer", optional=False, minimum=100, maximum=999999999)
BOOL = Param("boolean")
ROOT_ONLY = "Only root may use this option."
OSTYPES = (
    "other",
    "wxp",
    "w2k",
    "w2k3",
    "w2k8",
    "wvista",
    "win7",
    "win8",
    "win10",
    "win11",
    "l24",
    "l26",
    "solaris",
)
LOCKS = (
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspending",
    "suspended",
)
DRIVE_NAMES = (
    *(f"ide{n}" for n in range(4)),
    *(f"scsi{n}" for n in range(31)),
    *(f"virtio{n}" for n in range(16)),
    *(f"sata{n}" for n in range(6)),
    "efidisk0",
    "tpmstate0",
)
DRIVE = (
    r"(?:ide[0-3]|scsi(?:[0-9]|[12][0-9]|30)|virtio(?:[0-9]|1[0-5])|sata[0-5]|efidisk0|tpmstate0)"
)
NET = r"net(?:[0-9]|[12][0-9]|3[01])"
IPCONFIG = r"ipconfig(?:[0-9]|[12][0-9]|3[01])"
SIZE = r"\+?\d+(\.\d+)?[KMGT]?"

#: The VM options a config update takes (``$confdesc``, the ones the fake knows).
VM_OPTIONS: dict[str, Param] = {
    "name": Param(format="dns-name"),
    "description": Param(max_length=8192),
    "cores": Param("integer", minimum=1),
    "sockets": Param("integer", minimum=1),
    "vcpus": Param("integer", minimum=1),
    "cpu": Param(),
    "cpulimit": Param("number", minimum=0, maximum=128),
    "cpuunits": Param("integer", minimum=1, maximum=262144),
    "memory": Param(pattern=r"(?:current=)?\d+"),
    "balloon": Param("integer", minimum=0),
    "shares": Param("integer", minimum=0, maximum=50000),
    "onboot": BOOL,
    "protection": BOOL,
    "template": BOOL,
    "ostype": Param(enum=OSTYPES),
    "startup": Param(),
    "tags": Param(format="pve-tag-list"),
    "agent": Param(),
    "boot": Param(),
    "bootdisk": Param(pattern=DRIVE),
    "scsihw": Param(
        enum=("lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi")
    ),
    "smbios1": Param(max_length=512),
    "vga": Param(),
    "ciuser": Param(),
    "cipassword": Param(),
    "citype": Param(enum=("configdrive2", "nocloud", "opennebula")),
    "nameserver": Param(),
    "searchdomain": Param(),
    "sshkeys": Param(format="urlencoded"),
    NET: Param(),
    IPCONFIG: Param(),
    DRIVE: Param(),
    "lock": Param(enum=LOCKS),
    "args": Param(),
}

#: The privilege each option needs (``$check_vm_modify_config_perm``); none: root@pam only.
OPTION_PRIVILEGES: list[tuple[str, tuple[str, ...]]] = [
    (r"cores|sockets|vcpus|cpu|cpulimit|cpuunits", ("VM.Config.CPU",)),
    (r"memory|balloon|shares", ("VM.Config.Memory",)),
    (
        r"name|description|onboot|protection|template|ostype|startup|tags|agent|smbios1",
        ("VM.Config.Options",),
    ),
    (r"boot|bootdisk|" + DRIVE, ("VM.Config.Disk",)),
    (r"scsihw|vga", ("VM.Config.HWType",)),
    (NET, ("VM.Config.Network",)),
    (
        r"ciuser|cipassword|citype|nameserver|searchdomain|sshkeys|" + IPCONFIG,
        ("VM.Config.Cloudinit", "VM.Config.Network"),
    ),
]


def option_privileges(option: str) -> tuple[str, ...] | None:
    """The privileges (any of them) to change ``option``; ``None``: only root@pam may."""
    return next((p for regex, p in OPTION_PRIVILEGES if re.fullmatch(regex, option)), None)


def is_option(name: str) -> bool:
    return lookup(VM_OPTIONS, name) is not None


VM_PATH: dict[str, Param] = {"node": NODE, "vmid": VMID}
CONFIG_UPDATE: dict[str, Param] = {
    **VM_PATH,
    **VM_OPTIONS,
    "delete": Param(),
    "revert": Param(),
    "digest": Param(max_length=40),
    "skiplock": BOOL,
    "force": BOOL,
}
SCHEMAS: dict[str, dict[str, Param]] = {
    "nodes": {},
    "resources": {"type": Param(enum=("vm", "storage", "node", "sdn"))},
    "nextid": {"vmid": Param("integer", minimum=100, maximum=999999999)},
    "vmlist": {"node": NODE, "full": BOOL},
    "clone": {
        **VM_PATH,
        "newid": VMID,
        "name": Param(format="dns-name"),
        "description": Param(),
        "pool": Param(format="pve-poolid"),
        "snapname": Param(format="pve-snapshot-name"),
        "storage": Param(format="pve-storage-id"),
        "format": Param(enum=("raw", "qcow2", "vmdk")),
        "full": BOOL,
        "target": Param(format="pve-node"),
        "bwlimit": Param("integer", minimum=0),
    },
    "config_get": {
        **VM_PATH,
        "current": BOOL,
        "snapshot": Param(format="pve-snapshot-name"),
    },
    "config_put": CONFIG_UPDATE,
    "config_post": {**CONFIG_UPDATE, "background_delay": Param("integer", minimum=1, maximum=30)},
    "resize": {
        **VM_PATH,
        "skiplock": BOOL,
        "disk": Param(enum=DRIVE_NAMES, optional=False),
        "size": Param(pattern=SIZE, optional=False),
        "digest": Param(max_length=40),
    },
    "status": VM_PATH,
    "start": {**VM_PATH, "skiplock": BOOL, "timeout": Param("integer", minimum=0)},
    "stop": {
        **VM_PATH,
        "skiplock": BOOL,
        "keepActive": BOOL,
        "timeout": Param("integer", minimum=0),
        "overrule-shutdown": BOOL,
    },
    "shutdown": {
        **VM_PATH,
        "skiplock": BOOL,
        "keepActive": BOOL,
        "timeout": Param("integer", minimum=0),
        "forceStop": BOOL,
    },
    "reboot": {**VM_PATH, "timeout": Param("integer", minimum=0)},
    "reset": {**VM_PATH, "skiplock": BOOL},
    "suspend": {
        **VM_PATH,
        "skiplock": BOOL,
        "todisk": BOOL,
        "statestorage": Param(format="pve-storage-id"),
    },
    "resume": {**VM_PATH, "skiplock": BOOL, "nocheck": BOOL},
    "destroy": {
        **VM_PATH,
        "skiplock": BOOL,
        "purge": BOOL,
        "destroy-unreferenced-disks": BOOL,
    },
    "task_status": {"node": NODE, "upid": Param(optional=False)},
    "task_log": {
        "node": NODE,
        "upid": Param(optional=False),
        "start": Param("integer", minimum=0),
        "limit": Param("integer", minimum=0),
    },
}


def refuse_root_only(values: Mapping[str, Any], *names: str) -> None:
    """``raise_param_exc({ <name> => "Only root may use this option." })`` for a token."""
    errors = {name: ROOT_ONLY for name in names if values.get(name)}
    if errors:
        raise param_error(errors)
