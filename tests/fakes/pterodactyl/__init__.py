"""A fake Pterodactyl panel (application and client APIs), served on 127.0.0.1 from a thread.

It reproduces what ``/work/shared/delivery-apis.md`` A.9 lists, taken from the panel's source:

* bearer keys of two kinds, each belonging to a panel user: ``ptla_`` application keys with
  per-resource read/write bits, ``ptlc_`` client keys. A bad or missing key is a 401 (a
  redirect to the login page when the request does not ask for JSON); the application API
  takes only a root admin's key (403 otherwise); the client API refuses ``ptla_`` keys (403);
* the Fractal envelopes: ``{"object", "attributes"}``, lists with ``meta.pagination``,
  includes under ``attributes.relationships``; 204 with no body for suspend, unsuspend,
  reinstall and delete;
* errors as ``{"errors": [{"code", "status" (a string), "detail", "meta"?}]}``: 404 for an
  unknown id or external id (exact), 409 on the client API for a suspended or installing
  server, 422 with ``meta.source_field``/``meta.rule`` per failed rule (egg variables too),
  400 ``NoViableNodeException``/``NoViableAllocationException`` from automatic deployment;
* the install state machine: a new or reinstalled server is ``installing`` until it has been
  read ``install_reads`` times, or ``install_seconds`` have passed, or ``finish_install`` is
  called (Wings' callback); it then becomes ``null`` or ``install_failed``
  (``reinstall_failed``), and a server suspended meanwhile stays ``suspended``;
* faults injected per path pattern: latency, a status (5xx, 429 with ``Retry-After``), a hang
  longer than the client's timeout; before the panel acts, or ``after=True`` (it acted and
  its answer is lost).

Tests use ``serve()``; ``python -m tests.fakes.pterodactyl --port 8091 --demo`` serves the
demo state until interrupted. Not reproduced: PATCH ``/build`` and ``/startup``, subusers,
databases, backups, websockets, per-IP key allow-lists, the rate limits themselves.
"""

from tests.fakes.pterodactyl.server import serve
from tests.fakes.pterodactyl.state import (
    APPLICATION_KEY,
    CLIENT_KEY,
    READ,
    WRITE,
    FakePterodactyl,
    Fault,
    Received,
)

__all__ = [
    "APPLICATION_KEY",
    "CLIENT_KEY",
    "READ",
    "WRITE",
    "FakePterodactyl",
    "Fault",
    "Received",
    "serve",
]
