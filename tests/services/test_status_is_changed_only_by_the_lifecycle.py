"""DESIGN.md: nothing but services/lifecycle.py assigns a service's status."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["clientxcms", "customers", "products", "delivery", "services", "billing"]
# An attribute or update() assignment of a status, other than a bulk operation's own.
ASSIGNMENT = re.compile(r"(\.status\s*=|\bupdate\([^)]*\bstatus\s*=)(?!=)(?!\s*BulkStatus\.)")
ALLOWED = {ROOT / "services" / "lifecycle.py"}


def test_no_code_outside_the_lifecycle_assigns_a_service_status():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if path not in ALLOWED and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ASSIGNMENT.search(line)
    ]
    assert offenders == []
