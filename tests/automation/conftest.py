"""A timeline of two fake tasks over service rows, in place of the apps' own, so the
scheduler, the runner and the pages are tested apart from what the tasks do."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import QuerySet

from automation import options, registry
from clientxcms.claims import ClaimResult, for_each_due
from services.models import Service


def due_services(now: dt.datetime) -> QuerySet[Service]:
    """Services named "due ..." whose expiration has passed at ``now``."""
    return Service.objects.filter(name__startswith="due", expires_at__lte=now)


class Boom(Exception):
    """What the fake task raises for a service named "due boom"."""


def rename(service: Service) -> None:
    if service.name == "due boom":
        raise Boom("the module said: password=hunter2 refused")
    Service.objects.filter(pk=service.pk).update(name=f"done {service.name}")


def run_renames(now: dt.datetime) -> ClaimResult:
    return for_each_due(due_services(now), rename, expected=(Boom,))


def crash(now: dt.datetime) -> ClaimResult:
    raise RuntimeError("database gone, token=abc123")


RENAMES = registry.PeriodicTask(
    key="tests.renames",
    label="Renames",
    description="Renames the due services.",
    run=run_renames,
    due=due_services,
    describe=lambda service: f"Service {service.name}",
    every=dt.timedelta(minutes=5),
    link=lambda pk: f"/admin/services/{pk}/",
)
DAILY = registry.PeriodicTask(
    key="tests.daily",
    label="Daily",
    description="Crashes once a day.",
    run=crash,
    due=lambda now: Service.objects.none(),
)


@pytest.fixture
def fake_timeline(monkeypatch):
    """Only the two fake tasks (and their switches) are registered during a test."""
    monkeypatch.setattr(registry, "_TASKS", {})
    monkeypatch.setattr(options, "_OPTIONS", dict(options._OPTIONS))
    registry.register(RENAMES)
    registry.register(DAILY)
    return [RENAMES, DAILY]
