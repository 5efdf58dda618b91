"""``python -m tests.fakes.vies --port 8092``: the fake VIES until Ctrl-C (``VIES_URL`` to it)."""

from __future__ import annotations

import argparse
import threading
from contextlib import suppress

from tests.fakes.vies.server import REGISTERED, serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake VIES REST API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--outage", help="answer every check with this error code or status")
    args = parser.parse_args()
    outage: str | int | None = args.outage
    if isinstance(outage, str) and outage.isdigit():
        outage = int(outage)
    with serve(port=args.port, outage=outage) as fake:
        print(f"Fake VIES at {fake.base_url} (VIES_URL); registered: {', '.join(REGISTERED)}")
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
