"""Pterodactyl services through the lifecycle, against the fake panel: the service stays
consistent with what the panel was told, whatever fails (DESIGN.md, "The lifecycle layer").

Each failure kind (5xx, a timeout, 429, a bad key, 422, an answer lost after the panel
acted) is injected into the fake; the test then reads the service, its history and the
call log rows: the error is on the service and in its history, retryable failures are
retried once due until the panel agrees, and no stored call holds a key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from delivery.models import ModuleCall
from delivery.modules.base import ModuleError
from services import lifecycle, retries, tasks
from services.choices import EventSource, OperationState, ServiceStatus
from services.models import Service, ServiceEvent
from tests.fakes.pterodactyl import APPLICATION_KEY, CLIENT_KEY

S = ServiceStatus
OS = OperationState
ADMIN = EventSource.ADMIN
TEXT_COLUMNS = ("url", "operation", "request_body", "response_body", "error")


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def assert_no_key_stored(service_id: int) -> None:
    rows = ModuleCall.objects.filter(service_ref=service_id)
    assert rows.exists()
    for row in rows:
        for column in TEXT_COLUMNS:
            text = getattr(row, column)
            assert APPLICATION_KEY not in text, (column, text)
            assert CLIENT_KEY not in text, (column, text)


def events(service, action):
    return list(ServiceEvent.objects.filter(service=service, action=action).order_by("pk"))


def panel_server_of(fake, service):
    return fake.servers[int(Service.objects.get(pk=service.pk).external_id)]


def test_delivery_creates_the_server_follows_its_install_and_activates_the_service(
    fake, service, admin_user
):
    fake.install_reads = 2

    outcome = lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert outcome.waiting
    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation_state) == (S.PENDING, OS.WAITING)
    [server] = fake.servers.values()
    assert server["external_id"] == str(service.uuid)
    assert stored.external_id == str(server["id"])
    tasks.follow_operation(service.pk)  # the panel is still installing
    assert Service.objects.get(pk=service.pk).status == S.PENDING
    tasks.follow_operation(service.pk)

    stored.refresh_from_db()
    assert (stored.status, stored.operation) == (S.ACTIVE, "")
    [event] = events(service, "deliver")
    assert (event.from_status, event.to_status, event.error) == (S.PENDING, S.ACTIVE, "")
    assert len(fake.received("POST", "/api/application/servers")) == 1
    assert_no_key_stored(service.pk)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"status": 502}, "502"),
        ({"hang": 2.0}, "did not answer"),
        ({"status": 429, "retry_after": 120}, "429"),
    ],
    ids=["5xx", "timeout", "429"],
)
def test_a_retryable_failure_keeps_the_service_as_it_was_then_a_retry_suspends_it(
    fake, active_service, admin_user, settings, fault, message
):
    settings.DELIVERY_READ_TIMEOUT = 0.5
    injected = fake.inject("/api/application/servers/*/suspend", **fault)

    with pytest.raises(ModuleError) as raised:
        lifecycle.suspend(active_service.pk, actor=admin_user, source=ADMIN, reason="unpaid")

    assert raised.value.retryable
    assert message in raised.value.message
    stored = Service.objects.get(pk=active_service.pk)
    assert (stored.status, stored.operation_state) == (S.ACTIVE, OS.RETRYING)
    assert stored.last_delivery_error == raised.value.message
    assert panel_server_of(fake, active_service)["status"] != "suspended"
    [failed] = events(active_service, "suspend")
    assert failed.error == raised.value.message
    if fault.get("retry_after"):
        # Never sooner than the panel asked.
        assert stored.operation_due_at - timezone.now() >= timedelta(seconds=119)

    fake.faults.remove(injected)
    with later(3):
        assert retries.resume_due(timezone.now()).done == 1

    stored.refresh_from_db()
    assert (stored.status, stored.operation, stored.last_delivery_error) == (S.SUSPENDED, "", "")
    assert panel_server_of(fake, active_service)["status"] == "suspended"
    assert [e.error for e in events(active_service, "suspend")] == [raised.value.message, ""]
    assert_no_key_stored(active_service.pk)


def test_an_answer_lost_after_the_panel_suspended_is_retried_without_harm(
    fake, active_service, admin_user
):
    fake.inject("/api/application/servers/*/suspend", status=500, after=True, times=1)

    with pytest.raises(ModuleError):
        lifecycle.suspend(active_service.pk, actor=admin_user, source=ADMIN)
    assert panel_server_of(fake, active_service)["status"] == "suspended"  # the panel did it
    assert Service.objects.get(pk=active_service.pk).status == S.ACTIVE
    with later(3):
        retries.resume_due(timezone.now())

    assert Service.objects.get(pk=active_service.pk).status == S.SUSPENDED
    assert len(events(active_service, "suspend")) == 2  # the failure, then the success


def test_a_bad_key_is_not_retried_and_the_service_keeps_its_status(
    fake, active_service, panel_server, admin_user
):
    panel_server.credentials = {**panel_server.credentials, "application_key": "ptla_wrong" * 4}
    panel_server.save()

    with pytest.raises(ModuleError) as raised:
        lifecycle.terminate(active_service.pk, actor=admin_user, source=ADMIN)

    assert not raised.value.retryable
    stored = Service.objects.get(pk=active_service.pk)
    assert (stored.status, stored.operation) == (S.ACTIVE, "")
    assert stored.last_delivery_error == raised.value.message
    assert events(active_service, "terminate")[0].error == raised.value.message
    assert panel_server_of(fake, active_service)["id"] in fake.servers
    for row in ModuleCall.objects.filter(service_ref=active_service.pk):
        assert "ptla_wrong" not in row.request_body + row.url + row.error


def test_a_422_on_delivery_leaves_the_service_pending_with_the_panels_reason(
    fake, service, admin_user
):
    fake.inject("/api/application/servers", method="POST", status=422)

    with pytest.raises(ModuleError) as raised:
        lifecycle.deliver(service.pk, actor=admin_user, source=ADMIN)

    assert not raised.value.retryable
    stored = Service.objects.get(pk=service.pk)
    assert (stored.status, stored.operation, stored.delivery_attempts) == (S.PENDING, "", 1)
    assert stored.last_delivery_error == raised.value.message
    assert retries.needing_attention().filter(pk=service.pk).exists()
    assert fake.servers == {}
    assert_no_key_stored(service.pk)


def test_importing_links_the_panels_calls_to_the_new_service(fake, panel_server, customer):
    existing = fake.add_server("Old world", owner_id=1)

    created = lifecycle.create_imported(
        resource_id=str(existing["id"]),
        actor=None,
        source=ADMIN,
        customer=customer,
        module="pterodactyl",
        server=panel_server,
        name="Old world",
        price=5,
        initial_price=5,
        billing_cycle="monthly",
    )

    assert (created.status, created.external_id) == (S.ACTIVE, str(existing["id"]))
    assert_no_key_stored(created.pk)
