"""The fake VIES over HTTP: its state, its one endpoint, and the outages a test switches on."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serving import FaultRule, serving

#: Numbers the fake says are registered, with the name and address it gives (made up). Each
#: passes python-stdnum's check, so the forms accept them too.
REGISTERED: dict[str, tuple[str, str]] = {
    "DE136695976": ("---", "---"),  # Germany shares neither
    "FR40303265045": ("SAS HEBERGEUR EXEMPLE", "1 RUE DE LA PAIX\n75002 PARIS"),
    "BE0403170701": ("NV VOORBEELD HOSTING", "Wetstraat 1\n1000 Brussel"),
    "IT00743110157": ("ESEMPIO SERVER S.R.L.", "VIA ROMA 1\n20121 MILANO MI"),
    "NL004495445B01": ("VOORBEELD SERVERS B.V.", "DAMRAK 1\n1012LG AMSTERDAM"),
    "ESA28015865": ("---", "---"),
    "EL094259216": ("ΠΑΡΑΔΕΙΓΜΑ Α.Ε.", "ΟΔΟΣ ΠΑΡΑΔΕΙΓΜΑΤΟΣ 1\n10431 ΑΘΗΝΑ"),
}
#: The codes VIES knows: the member states, Greece as EL, Northern Ireland as XI.
MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split()  # noqa: SIM905
)
NUMBER = re.compile(r"[0-9A-Za-z+*.]{2,12}")
OUTAGE_PAGE = "<html><body><h1>Service temporarily unavailable</h1></body></html>"


@dataclass
class FakeVies:
    """What the fake knows and was asked. ``outage``: None (it answers), an error code of
    ``errorWrappers`` such as ``"MS_UNAVAILABLE"``, or an HTTP status such as 503."""

    registered: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(REGISTERED))
    outage: str | int | None = None
    faults: list[FaultRule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        """(HTTP status, JSON body or an HTML page) for one request."""
        if path != "/check-vat-number":
            return 404, OUTAGE_PAGE.replace("Service temporarily unavailable", "Not Found")
        if isinstance(self.outage, int):
            return self.outage, OUTAGE_PAGE
        if self.outage is not None:
            return 200, error(self.outage)
        if not isinstance(body, dict):
            return 400, error("INVALID_INPUT")
        country, number = body.get("countryCode"), body.get("vatNumber")
        if country not in MEMBER_STATES or not isinstance(number, str):
            return 400, error("INVALID_INPUT")
        if not NUMBER.fullmatch(number):
            return 200, error("INVALID_INPUT")
        found = self.registered.get(f"{country}{number.upper()}")
        name, address = found or ("---", "---")
        return 200, {
            "countryCode": country,
            "vatNumber": number,
            "requestDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "valid": found is not None,
            "requestIdentifier": "",
            "name": name,
            "address": address,
            "traderName": "---",
            "traderStreet": "---",
            "traderPostalCode": "---",
            "traderCity": "---",
            "traderCompanyType": "---",
            "traderNameMatch": "NOT_PROCESSED",
            "traderStreetMatch": "NOT_PROCESSED",
            "traderPostalCodeMatch": "NOT_PROCESSED",
            "traderCityMatch": "NOT_PROCESSED",
            "traderCompanyTypeMatch": "NOT_PROCESSED",
        }


def error(code: str) -> dict[str, Any]:
    """The body VIES answers when it could not decide."""
    return {"actionSucceed": False, "errorWrappers": [{"error": code, "message": None}]}


def _handler(fake: FakeVies) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            """Quiet: the test output is not the place for an access log."""

        def _send(self, status: int, body: Any) -> None:
            if isinstance(body, str):
                data, kind = body.encode(), "text/html; charset=UTF-8"
            else:
                data, kind = json.dumps(body).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = None
            path = self.path.split("?")[0].rstrip("/") or "/"
            with fake.lock:
                fake.requests.append({"method": self.command, "path": path, "body": body})
                fault = next((f for f in fake.faults if f.matches(self.command, path)), None)
                if fault is not None:
                    fault.hits += 1
            if fault is not None and fault.latency:
                time.sleep(fault.latency)
            if fault is not None and fault.hang is not None:
                fake.stopping.wait(fault.hang)
                self.close_connection = True
            if fault is not None and fault.status is not None:
                self._send(fault.status, OUTAGE_PAGE)
                return
            if self.command != "POST":
                self._send(405, OUTAGE_PAGE.replace("Service temporarily unavailable", "405"))
                return
            self._send(*fake.answer(path, body))

        do_GET = do_POST = _serve  # noqa: N815 - http.server's names

    return Handler


@contextmanager
def serve(*, port: int = 0, **options: Any) -> Iterator[FakeVies]:
    """The fake on ``port`` (0: any free one) of 127.0.0.1 for the time of the ``with``
    block; ``options`` set its fields (``outage="MS_UNAVAILABLE"``, ``registered={...}``)."""
    fake = FakeVies(**options)
    with serving(fake, _handler(fake), port):
        yield fake
