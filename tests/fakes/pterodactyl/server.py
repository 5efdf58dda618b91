"""The fake panel over HTTP: a threaded server on 127.0.0.1, the faults applied around it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.pterodactyl.routes import dispatch
from tests.fakes.pterodactyl.state import UNEXPECTED, FakePterodactyl, Fault, Received, Request
from tests.fakes.serving import serving

MALFORMED = "The JSON data passed in the request appears to be malformed: Syntax error"


def _handler(fake: FakePterodactyl) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            """Quiet: the test output is not the place for an access log."""

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            if isinstance(body, str):
                data, kind = body.encode(), "text/html; charset=UTF-8"
            else:
                data, kind = (
                    (b"", "") if body is None else (json.dumps(body).encode(), "application/json")
                )
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _fault(self, fault: Fault) -> None:
            """The fault's answer in place of the panel's: after its hang, if it has one."""
            if fault.hang is not None:
                fake.stopping.wait(fault.hang)
                self.close_connection = True
            status = fault.status or (504 if fault.hang is not None else 500)
            headers: dict[str, str] = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if status == 429:
                headers |= {"X-RateLimit-Limit": "240", "X-RateLimit-Remaining": "0"}
                code, detail = "ThrottleRequestsException", "Too Many Attempts."
            else:
                code, detail = "HttpException", UNEXPECTED
            error = {"errors": [{"code": code, "status": str(status), "detail": detail}]}
            self._send(status, error if fault.body is None else fault.body, headers)

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = raw.decode(errors="replace")
            path = url.path.rstrip("/") or "/"
            req = Request(self.command, path, parse_qs(url.query), body, dict(self.headers.items()))
            with fake.lock:
                token = req.headers.get("Authorization", "").removeprefix("Bearer ")
                fake.requests.append(Received(req.method, path, req.query, body, token))
                fault = next((f for f in fake.faults if f.matches(req.method, path)), None)
                if fault is not None:
                    fault.hits += 1
            if fault is not None and fault.latency:
                time.sleep(fault.latency)
            if fault is not None and fault.replaces_answer and not fault.after:
                self._fault(fault)
                return
            if isinstance(body, str):
                error = {"code": "BadRequestHttpException", "status": "400", "detail": MALFORMED}
                self._send(400, {"errors": [error]}, {})
                return
            status, answer, headers = dispatch(fake, req)
            if fault is not None and fault.replaces_answer:  # acted, and the answer is lost
                self._fault(fault)
                return
            self._send(status, answer, headers)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's

    return Handler


@contextmanager
def serve(
    *, port: int = 0, seed: bool = True, demo: bool = False, **options: Any
) -> Iterator[FakePterodactyl]:
    """The fake on ``port`` (0: any free one) of 127.0.0.1 for the time of the ``with`` block.

    ``seed`` builds ``FakePterodactyl.seed()`` (ids in ``fake.ids``), ``demo`` the demo state
    (``seed_demo()``); ``options`` set the fake's fields (``install_reads=0``, ...).
    """
    fake = FakePterodactyl(**options)
    if demo:
        fake.seed_demo()
    elif seed:
        fake.seed()
    with serving(fake, _handler(fake), port):
        yield fake
