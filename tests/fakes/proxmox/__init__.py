"""A fake Proxmox VE API (``/api2/json``) on 127.0.0.1, reproducing delivery-apis.md B.8.

Start it from a test::

    from tests.fakes import proxmox

    with proxmox.serve(task_seconds=0.05) as fake:   # any free port; seed() state
        fake.base_url          # "http://127.0.0.1:<port>"  (fake.api_url adds /api2/json)
        fake.token_id          # "clientxcms@pve!billing"
        fake.token_secret      # proxmox.TOKEN_SECRET unless token_secret=... is given
        fake.authorization     # "PVEAPIToken=clientxcms@pve!billing=<secret>"

or use the ``proxmox_fake`` fixture (``tests/delivery/proxmox_setup.py``). Leaving the
block stops the server. ``serve(demo=True)`` gives the demo state, ``seed=False`` an empty
cluster. Options are ``FakeProxmox`` fields: ``task_seconds`` (0.3), ``task_seconds_by_type``
(``{"qmclone": 1.0}``), ``unauthorized_delay`` (PVE: 3 s; default 0), ``token_id``,
``token_secret``.

State (``seed()``): nodes ``pve1`` (cpu 0.12, 24 GiB used of 64) and ``pve2`` (0.03, 6 GiB),
storages ``local`` (no VM images) and ``local-lvm`` (not shared), bridge ``vmbr0``, and
template 9000 ``debian-12-cloud`` on ``pve1`` (``scsi0`` ``local-lvm:base-9000-disk-0,size=10G``,
a cloud-init drive ``ide2``, ``net0`` on ``vmbr0``, ``ciuser`` debian). Build more with
``fake.add_node("pve3", mem=..., maxmem=..., cpu=..., status="offline")``,
``fake.add_storage("ceph", shared=True)``, ``fake.pools.add("customers")``,
``fake.add_vm(123, "vps-123", node="pve2", running=True, tags="a;b", protection=1)``,
``fake.add_token("other@pve!ro", "secret", privileges={"VM.Audit"})`` (privileges: None
means all; a missing one is PVE's 403), ``vm.answers_acpi = False`` (shutdown times out).

Inspect: ``fake.vm(123)`` (a ``Vm``: ``.config``, ``.node``, ``.running``, ``.paused``,
``.lock``, ``.tags``), ``fake.vm_summary()`` (every VM's vmid/node/name/tags/status/lock),
``fake.tasks_of("qmclone")`` (``Task``: ``.upid``, ``.status``, ``.exitstatus``, ``.log``),
``fake.received("POST", "/nodes/*/qemu/*/clone")`` (method, path under /api2/json, merged
params, token id). Tasks end ``task_seconds`` after they start, lazily, when the fake is
next asked anything; ``fake.finish_tasks()`` ends them all now, ``fake.end_task(upid,
error=None)`` one (even a hung one).

Faults: ``fake.inject("/nodes/*/qemu/*/clone", status=503, times=2)`` (glob on the path
under /api2/json; ``method=``, ``latency=`` seconds, ``status=`` with ``message=`` as reason
(401: PVE's empty body), ``hang=`` seconds, ``after=True``: the fake acted and the answer is
lost); ``fake.fail_task("qmclone", "clone failed: storage full")`` (the next clone's task
ends with that exit status and its VM is removed, as PVE does), ``fake.hang_task("qmclone")``
(the next clone never ends and its VM keeps ``lock: clone``); ``fake.clear_faults()``.

Served (B.4): ``GET /nodes``, ``GET /cluster/resources[?type=]``, ``GET /cluster/nextid
[?vmid=]``, ``GET /nodes/{node}/qemu[?full=1]``, ``POST .../qemu/{vmid}/clone``, ``GET|POST|PUT
.../config``, ``PUT .../resize``, ``GET .../status/current``, ``POST .../status/{start,stop,
shutdown,reboot,reset,suspend,resume}``, ``DELETE .../qemu/{vmid}``, ``GET
/nodes/{node}/tasks/{upid}/status|log``. Not reproduced: tickets and CSRF, pending changes
(a config change applies at once, or when its task ends), snapshots, HA, replication,
migration, VM creation, the guest agent, ``/version``; requests to an offline node are
served (only the node list shows it offline); the clone's new VM carries its full config
(with ``lock: clone``) from the start, where PVE writes a bare ``lock: clone`` first.

``python -m tests.fakes.proxmox --port 8092 --demo`` serves the demo state until interrupted.
"""

from tests.fakes.proxmox.errors import PveError
from tests.fakes.proxmox.server import serve
from tests.fakes.proxmox.state import (
    AUTH_FAILED,
    NO_TICKET,
    TOKEN_ID,
    TOKEN_SECRET,
    FakeProxmox,
    Fault,
    Received,
    Task,
    TaskFault,
    Token,
)
from tests.fakes.proxmox.vm import Vm

__all__ = [
    "AUTH_FAILED",
    "NO_TICKET",
    "TOKEN_ID",
    "TOKEN_SECRET",
    "FakeProxmox",
    "Fault",
    "PveError",
    "Received",
    "Task",
    "TaskFault",
    "Token",
    "Vm",
    "serve",
]
