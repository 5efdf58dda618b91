"""What the fake panels share: serving a fake on 127.0.0.1 for the time of a ``with``
block, and the faults a test injects into its answers (latency, an error status, a hang,
before or after the fake acted)."""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class Served(Protocol):
    """A fake's state as ``serving`` needs it."""

    base_url: str
    stopping: threading.Event


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up waiting (a timeout test) is no error of the fake."""


@contextmanager
def serving(fake: Served, handler: type[BaseHTTPRequestHandler], port: int) -> Iterator[None]:
    """Serve ``handler`` on ``port`` (0: any free one) of 127.0.0.1, setting the fake's
    ``base_url``; on leaving, hung answers end and the server stops in milliseconds."""
    server = _Server(("127.0.0.1", port), handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll so that leaving the block (``shutdown()``) takes milliseconds, not 0.5 s.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        fake.stopping.set()  # hung answers end now
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class FaultRule:
    """What to do to the requests matching ``pattern`` (a glob on the path) and ``method``:
    ``latency`` seconds first; then ``status`` or a ``hang`` of that many seconds in place
    of the answer, before the fake acts or ``after`` it acted (the answer is lost).
    ``times``: how many requests it hits (None: all)."""

    pattern: str
    method: str | None = None
    latency: float = 0.0
    status: int | None = None
    hang: float | None = None
    after: bool = False
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.method is None or self.method == method)
            and fnmatch.fnmatchcase(path, self.pattern)
        )

    @property
    def replaces_answer(self) -> bool:
        return self.status is not None or self.hang is not None
