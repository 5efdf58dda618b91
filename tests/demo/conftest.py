"""The demo's game panel is looked for at ``DEMO_PTERODACTYL_URL`` and its VPS node at
``DEMO_PROXMOX_URL``: in the tests, nowhere unless a test serves the fake itself, so that
a ``make run`` going on beside the tests (its fakes on ports 8091 and 8092) never takes
part in them."""

from __future__ import annotations

import socket

import pytest


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_demo_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PTERODACTYL_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("DEMO_PROXMOX_URL", f"http://127.0.0.1:{closed_port()}")
