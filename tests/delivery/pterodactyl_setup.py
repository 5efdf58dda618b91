"""What the Pterodactyl tests share: the fake panel's address and a product configuration
valid on it (the fixtures built from these are in ``tests/delivery/conftest.py``)."""

from __future__ import annotations

from typing import Any

from delivery.registry import get_module


def port_of(fake: Any) -> int:
    return int(fake.base_url.rsplit(":", 1)[1])


def config(fake: Any, **overrides: Any) -> dict[str, Any]:
    values = {
        "nest": fake.ids["nest"],
        "egg": fake.ids["egg"],
        "location": fake.ids["location"],
        "memory": 1024,
        "swap": 0,
        "disk": 5120,
        "cpu": 100,
        "io": 500,
        "databases": 1,
        "backups": 2,
        "allocations": 1,
        "environment": {"MINECRAFT_VERSION": "1.21"},
        **overrides,
    }
    return get_module("pterodactyl").clean_product_config(values)
