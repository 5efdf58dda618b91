"""A fake of the European Commission's VIES REST API, served on 127.0.0.1 from a thread.

It answers ``POST /check-vat-number`` as the real service does (``customers.vies`` says
which answers exist): ``{"countryCode", "vatNumber", "requestDate", "valid", "name",
"address", ...}`` with HTTP 200 whether the number is registered (``valid: true``, with its
name and address) or not (``valid: false``, ``"---"`` for both); a request without a known
member state or with a number VIES cannot read is ``INVALID_INPUT`` in ``errorWrappers``.
``outage`` makes it unavailable: an error code (``"MS_UNAVAILABLE"``...) answered as HTTP 200
with ``{"actionSucceed": false, "errorWrappers": [...]}``, or an HTTP status (500, 503) with
an HTML page. Faults (latency, a hang) per path with ``tests.fakes.serving.FaultRule``.

Tests use ``serve()``; ``python -m tests.fakes.vies --port 8092`` serves it until interrupted.
"""

from tests.fakes.vies.server import REGISTERED, FakeVies, serve

__all__ = ["REGISTERED", "FakeVies", "serve"]
