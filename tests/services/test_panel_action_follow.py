"""A tab's action the panel goes on working on (a reinstall) becomes the operation in
flight and is followed to its end, like an install; recorded once it is done."""

from __future__ import annotations

import pytest

from delivery.modules.base import ModuleResult, Tab, TabAction
from services import lifecycle
from services.choices import EventSource, OperationState, ServiceStatus
from services.models import Service, ServiceEvent
from tests.fakes.modules import FakeModule


def tab_with(run) -> tuple[Tab, TabAction]:
    action = TabAction(key="rebuild", label="Rebuild", run=run)
    return Tab(key="disk", label="Disk", template="x.html", actions=(action,)), action


def still_working(service) -> ModuleResult:
    return ModuleResult(waiting=True, data={"job": "rebuild"}, message="Rebuilding.")


@pytest.mark.django_db
def test_an_action_still_running_is_claimed_and_followed_until_the_panel_is_done(
    make_service, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    service = make_service(ServiceStatus.ACTIVE)
    tab, action = tab_with(still_working)
    asked = []

    def follow(module, followed, operation):
        asked.append(operation)
        return ModuleResult(message="Rebuilt.", data={"job": None})

    monkeypatch.setattr(FakeModule, "follow", follow)

    with django_capture_on_commit_callbacks() as queued:
        outcome = lifecycle.run_panel_action(
            service, tab=tab, action=action, actor=admin_user, source=EventSource.ADMIN
        )

    assert outcome.waiting
    service.refresh_from_db()
    assert (service.operation, service.operation_state) == ("panel", OperationState.WAITING)
    assert service.module_data["job"] == "rebuild"
    assert len(queued) == 1  # the follow-up task
    assert not ServiceEvent.objects.filter(service=service, action="panel").exists()
    with pytest.raises(lifecycle.LifecycleError, match="in progress"):
        lifecycle.suspend(service, reason="no", actor=admin_user, source=EventSource.ADMIN)

    lifecycle.resume(service.pk, force=True)

    assert asked == ["panel"]
    service.refresh_from_db()
    assert service.operation == ""
    [event] = ServiceEvent.objects.filter(service=service, action="panel")
    assert (event.actor, event.reason) == (admin_user, "Disk: Rebuild")
    assert event.module_result["message"] == "Rebuilt."


@pytest.mark.django_db
def test_an_operation_claimed_while_the_action_ran_keeps_the_service(make_service, admin_user):
    service = make_service(ServiceStatus.ACTIVE)

    def meanwhile(running) -> ModuleResult:
        Service.objects.filter(pk=running.pk).update(operation="suspend")
        return still_working(running)

    tab, action = tab_with(meanwhile)

    outcome = lifecycle.run_panel_action(
        service, tab=tab, action=action, actor=admin_user, source=EventSource.ADMIN
    )

    assert outcome.waiting
    assert "Not followed" in outcome.message
    service.refresh_from_db()
    assert service.operation == "suspend"
    assert ServiceEvent.objects.filter(service=service, action="panel").count() == 1
