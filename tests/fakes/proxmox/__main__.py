"""``python -m tests.fakes.proxmox --port 8092 --demo``: the fake Proxmox VE until Ctrl-C.

The demo state (``--demo``) is nodes ``pve1`` (busier) and ``pve2``, template 9000
``debian-12-cloud`` on ``pve1`` and the same as 9001 on ``pve2`` (their disks are on the
local ``local-lvm``, which a clone cannot cross), VM 101 ``web-legacy`` (running, on
``pve1``) and VM 102 ``mail-old`` (stopped, on ``pve2``) to import. The token is
``clientxcms@pve!billing``; its secret is fixed (``--token-secret`` to change it).
Tasks take ``--task-seconds``, so a delivery is seen "in progress" for that long.
"""

from __future__ import annotations

import argparse
import threading
from contextlib import suppress

from tests.fakes.proxmox.server import serve
from tests.fakes.proxmox.state import TOKEN_SECRET


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Proxmox VE API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--demo", action="store_true", help="templates and VMs to import")
    parser.add_argument("--token-secret", default=TOKEN_SECRET, help="the token's secret")
    parser.add_argument("--task-seconds", type=float, default=3.0, help="length of tasks")
    parser.add_argument(
        "--unauthorized-delay", type=float, default=3.0, help="delay of a 401, as PVE's"
    )
    args = parser.parse_args()
    options = {
        "token_secret": args.token_secret,
        "task_seconds": args.task_seconds,
        "unauthorized_delay": args.unauthorized_delay,
    }
    with serve(port=args.port, demo=args.demo, **options) as fake:
        print(f"Fake Proxmox VE at {fake.api_url}", flush=True)
        print(f"  API token id: {fake.token_id}", flush=True)
        print(f"  secret:       {fake.token_secret}", flush=True)
        print(f"  header:       Authorization: {fake.authorization}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
