"""The fake over HTTP: a threaded server on 127.0.0.1, PVE's transport (B.1) and the
injected faults around it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.proxmox.errors import PveError
from tests.fakes.proxmox.routes import Reply, dispatch
from tests.fakes.proxmox.state import AUTH_FAILED, FakeProxmox, Fault
from tests.fakes.serving import serving

JSON_TYPE = "application/json;charset=UTF-8"
SERVER = "pve-api-daemon/3.0"
PREFIX = re.compile(r"^/api2/(?P<format>[^/]+)(?P<path>/.*)?$")


def _params(query: str, body: bytes, content_type: str, method: str) -> dict[str, Any]:
    """Query parameters, then for POST and PUT the body: JSON when so declared, else
    form-encoded (``AnyEvent.pm::extract_params``). The first value of a name wins."""
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if method not in ("POST", "PUT") or not body.strip():
        return params
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise PveError(400, f"failed to decode JSON body: {exc}") from exc
        if not isinstance(decoded, dict):
            raise PveError(400, "failed to decode JSON body: not an object")
        return params | decoded
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return params | {k: v[0] for k, v in form.items()}


def _handler(fake: FakeProxmox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return SERVER

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            """Quiet: the test output is not the place for an access log."""

        def _send(self, reply: Reply) -> None:
            """``{"data": ...}``, or the error with its first line as the reason phrase;
            a 401 has an empty body."""
            if reply.delay:
                fake.stopping.wait(reply.delay)
            if reply.status == 200:
                body: dict[str, Any] | None = {"data": reply.data}
                reason = "OK"
            else:
                message = reply.message or HTTPStatus(reply.status).phrase
                reason = message.split("\n", 1)[0]
                body = None if reply.status == 401 else {"data": None, "message": f"{message}\n"}
                if body is not None and reply.errors is not None:
                    body["errors"] = reply.errors
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(reply.status, reason.encode("latin-1", "replace").decode("latin-1"))
            if body is not None:
                self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _fault(self, fault: Fault) -> None:
            """The fault's answer in place of PVE's, after its hang if it has one."""
            if fault.hang is not None:
                fake.stopping.wait(fault.hang)
                self.close_connection = True
            status = fault.status or (504 if fault.hang is not None else 500)
            default = AUTH_FAILED if status == 401 else _phrase(status)
            self._send(Reply(status, message=fault.message or default))

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            prefix = PREFIX.match(unquote(url.path))
            if prefix is None or prefix["format"] != "json":
                self._send(Reply(501, message="no such uri"))
                return
            path = (prefix["path"] or "/").rstrip("/") or "/"
            fault = fake.fault_for(self.command, path)
            if fault is not None and fault.latency:
                time.sleep(fault.latency)
            if fault is not None and fault.replaces_answer and not fault.after:
                self._fault(fault)
                return
            try:
                params = _params(url.query, raw, self.headers.get("Content-Type", ""), self.command)
            except PveError as exc:
                self._send(Reply(exc.status, message=exc.message))
                return
            reply = dispatch(fake, self.command, path, params, self.headers.get("Authorization"))
            if fault is not None and fault.replaces_answer:  # acted, and the answer is lost
                self._fault(fault)
                return
            self._send(reply)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

    return Handler


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "injected fault"


@contextmanager
def serve(
    *, port: int = 0, seed: bool = True, demo: bool = False, **options: Any
) -> Iterator[FakeProxmox]:
    """The fake on ``port`` (0: any free one) of 127.0.0.1 for the time of the ``with`` block.

    ``seed`` builds ``FakeProxmox.seed()``, ``demo`` the demo state (``seed_demo()``);
    ``options`` set the fake's fields (``task_seconds=0.05``, ``token_secret=...``).
    """
    fake = FakeProxmox(**options)
    if demo:
        fake.seed_demo()
    elif seed:
        fake.seed()
    with serving(fake, _handler(fake), port):
        yield fake
