"""The fake Proxmox VE for a test: ``proxmox_fake`` starts it (seeded, short tasks) and
yields where it is, its token and its state. Imported by ``tests/delivery/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes import proxmox

#: Tasks of the fixture's fake end this soon (the module's polling sees them running first).
TASK_SECONDS = 0.05


@dataclass(frozen=True)
class ProxmoxFake:
    """``url``: ``http://127.0.0.1:<port>`` (``state.api_url`` adds ``/api2/json``)."""

    url: str
    host: str
    port: int
    token_id: str
    token_secret: str
    state: proxmox.FakeProxmox


@pytest.fixture
def proxmox_fake() -> Iterator[ProxmoxFake]:
    """A fake Proxmox VE with ``seed()`` state, for one test."""
    with proxmox.serve(task_seconds=TASK_SECONDS) as fake:
        host, port = fake.base_url.removeprefix("http://").rsplit(":", 1)
        yield ProxmoxFake(fake.base_url, host, int(port), fake.token_id, fake.token_secret, fake)
