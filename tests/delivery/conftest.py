"""A tiny real HTTP server on 127.0.0.1 that answers what a test scripts, for the tests of
the modules' HTTP client and call log (``delivery/http.py``, ``delivery/calllog.py``); and
the fake Pterodactyl panel with a server row and services on it, for the module's tests.

``panel.answer("GET", "/api/servers", status=503, body={...}, headers={"Retry-After":
"30"}, delay=1.0)`` sets the answer to a method and path (the query string aside);
anything unscripted gets a 404 in Pterodactyl's error shape. Every request received is
kept in ``panel.requests`` (method, path with its query, headers, body, client port).
It speaks HTTP/1.1 with keep-alive, so a test can see a client reuse its connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from delivery.models import Server
from services.choices import ServiceStatus
from tests.delivery.proxmox_setup import proxmox_fake  # noqa: F401 - a fixture
from tests.delivery.pterodactyl_setup import config, port_of
from tests.factories import ProductFactory, ServiceFactory
from tests.fakes import pterodactyl


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict or list: JSON; str: text; None: empty
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self) -> Any:
        return json.loads(self.body)


NOT_FOUND = Answer(
    404,
    {
        "errors": [
            {
                "code": "NotFoundHttpException",
                "status": "404",
                "detail": "The requested resource could not be found on the server.",
            }
        ]
    },
)


class ScriptedPanel:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self.base_url = ""

    def answer(
        self, method: str, path: str, status: int = 200, body: Any = None, **kw: Any
    ) -> None:
        self.answers[(method.upper(), path)] = Answer(status, body, **kw)

    def lookup(self, method: str, path: str) -> Answer:
        return self.answers.get((method, urlsplit(path).path), NOT_FOUND)

    def received(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)


def _handler(panel: ScriptedPanel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            panel.received(
                Received(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    self.client_address[1],
                )
            )
            answer = panel.lookup(self.command, self.path)
            if answer.delay:
                time.sleep(answer.delay)
            if isinstance(answer.body, dict | list):
                payload, kind = json.dumps(answer.body).encode(), "application/json"
            else:
                payload, kind = (answer.body or "").encode(), "text/plain; charset=utf-8"
            try:
                self.send_response(answer.status)
                if payload:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is what the timeout tests do


@pytest.fixture
def panel() -> Iterator[ScriptedPanel]:
    """A scripted HTTP panel on 127.0.0.1, on a free port, for one test."""
    scripted = ScriptedPanel()
    server = _QuietServer(("127.0.0.1", 0), _handler(scripted))
    scripted.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# The fake Pterodactyl panel and services on it ---------------------------------------------


@pytest.fixture
def fake():
    with pterodactyl.serve() as panel:
        yield panel


@pytest.fixture
def panel_server(db, fake):
    return Server.objects.create(
        name="game panel",
        module="pterodactyl",
        hostname="127.0.0.1",
        port=port_of(fake),
        credentials={
            "scheme": "http",
            "application_key": fake.application_key,
            "client_key": fake.client_key,
        },
    )


@pytest.fixture
def service(customer, panel_server, fake):
    """Bob's pending game server, of a product made for the fake's egg."""
    product = ProductFactory(module="pterodactyl", module_config=config(fake))
    return ServiceFactory(
        name="Bob's world",
        customer=customer,
        product=product,
        server=panel_server,
        status=ServiceStatus.PENDING,
    )


@pytest.fixture
def active_service(customer, panel_server, fake):
    """Bob's active service, linked to a running server of the panel."""
    server = fake.add_server("Bob's world", owner_id=1)
    server["_power"] = "running"
    return ServiceFactory(
        name="Bob's world",
        customer=customer,
        product=ProductFactory(module="pterodactyl", module_config=config(fake)),
        module="pterodactyl",
        server=panel_server,
        status=ServiceStatus.ACTIVE,
        external_id=str(server["id"]),
        module_data={"server_id": server["id"], "identifier": server["identifier"]},
    )
