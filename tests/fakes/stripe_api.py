"""A fake of the part of Stripe's API that the Stripe gateway calls, served on 127.0.0.1.

It follows Stripe's documented shapes (https://docs.stripe.com/api/checkout/sessions/create):
requests are form-encoded with bracketed keys (``line_items[0][price_data][unit_amount]``)
and authenticated by ``Authorization: Bearer <secret key>``; answers are JSON objects
(``{"object": "checkout.session", "id": "cs_test_...", ...}``) or Stripe's error envelope
``{"error": {"type": ..., "message": ...}}`` with its HTTP status (401 for a bad key).

Tests start it with ``serve()`` and point ``settings.STRIPE_API_BASE`` at it. Webhook
payloads are not sent by this fake: tests build them and sign them with ``sign`` the way
Stripe does (``t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<payload>">``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_fake0123456789"
PUBLISHABLE_KEY = "pk_test_fake0123456789"
WEBHOOK_SECRET = "whsec_fake0123456789"


@dataclass
class FakeStripe:
    """What the fake was asked (``requests``: the decoded form of each call) and its address."""

    base_url: str = ""
    api_key: str = SECRET_KEY
    requests: list[dict[str, str]] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def create_session(self, form: dict[str, str]) -> dict[str, Any]:
        """A ``checkout.session`` as Stripe answers it, from the submitted form."""
        n = next(self._ids)
        session_id = f"cs_test_{n:04d}"
        quantity = int(form.get("line_items[0][quantity]", "1"))
        unit_amount = int(form["line_items[0][price_data][unit_amount]"])
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": unit_amount * quantity,
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "customer_email": form.get("customer_email"),
            "metadata": _nested(form, "metadata"),
            "payment_intent": f"pi_test_{n:04d}",
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "url": f"{self.base_url}/c/pay/{session_id}",
            "livemode": False,
        }
        self.sessions[session_id] = session
        return session


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    """``metadata[invoice_id]=7`` → ``{"invoice_id": "7"}``."""
    prefix = f"{name}["
    return {key[len(prefix) : -1]: value for key, value in form.items() if key.startswith(prefix)}


def _error(status: int, message: str, kind: str = "invalid_request_error") -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message}}


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            """Quiet: the test output is not the place for an access log."""

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            fake.requests.append({"path": self.path, **form})
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                self._answer(*_error(401, f"Invalid API Key provided: {key[:8]}****"))
                return
            if self.path == "/v1/checkout/sessions":
                if "line_items[0][price_data][unit_amount]" not in form:
                    self._answer(*_error(400, "Missing required param: line_items."))
                    return
                self._answer(200, fake.create_session(form))
                return
            self._answer(*_error(404, f"Unrecognized request URL (POST: {self.path})."))

    return Handler


@contextmanager
def serve() -> Iterator[FakeStripe]:
    """The fake on a free port of 127.0.0.1 for the time of the ``with`` block; point
    ``settings.STRIPE_API_BASE`` at its ``base_url``."""
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
