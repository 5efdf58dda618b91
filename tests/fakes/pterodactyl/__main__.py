"""``python -m tests.fakes.pterodactyl --port 8091 --demo``: the fake panel until Ctrl-C.

The demo state (``--demo``) is a location, a node with free ports, nest "Minecraft" with egg
"Paper", and two running servers linked to no billing panel, ready to be imported. Installs
take ``--install-seconds``, so a new service is seen "being delivered" for that long.
"""

from __future__ import annotations

import argparse
import threading
from contextlib import suppress

from tests.fakes.pterodactyl.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Pterodactyl panel on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--demo", action="store_true", help="servers to import, an egg, a node")
    parser.add_argument("--install-seconds", type=float, default=5.0, help="length of installs")
    args = parser.parse_args()
    options = {"install_reads": None, "install_seconds": args.install_seconds}
    with serve(port=args.port, demo=args.demo, **options) as fake:
        print(f"Fake Pterodactyl panel at {fake.base_url}", flush=True)
        print(f"  application API key: {fake.application_key}", flush=True)
        print(f"  client API key:      {fake.client_key}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
