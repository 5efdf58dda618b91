"""Delivering through the module and importing an existing resource."""

from __future__ import annotations

import pytest

from delivery.choices import ServerStatus
from delivery.modules.base import ModuleError
from products.choices import BillingCycle
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from tests.factories import FakeServerFactory

S = ServiceStatus
ADMIN = EventSource.ADMIN


def test_delivery_keeps_the_module_resource_id_and_sets_a_missing_expiration(
    make_service, admin_user
):
    service = make_service(S.PENDING, expires_at=None, billing_cycle=BillingCycle.QUARTERLY)

    delivered = lifecycle.deliver(service, actor=admin_user, source=ADMIN).service

    assert delivered.external_id == f"test-{service.uuid}"
    assert delivered.delivered_at is not None
    assert delivered.expires_at is not None
    assert delivered.billing_anchor_day == delivered.expires_at.day


def test_delivery_needs_a_server_of_the_services_type(make_service, admin_user):
    service = make_service(S.PENDING)
    service.server = None
    service.save()

    with pytest.raises(LifecycleError, match="needs a server"):
        lifecycle.deliver(service, actor=admin_user, source=ADMIN)


def test_delivery_is_refused_on_a_full_or_disabled_server(make_service, admin_user):
    full = FakeServerFactory(max_accounts=1)
    make_service(S.ACTIVE, server=full)
    waiting = make_service(S.PENDING, server=full)

    with pytest.raises(LifecycleError, match="is full"):
        lifecycle.deliver(waiting, actor=admin_user, source=ADMIN)

    disabled = make_service(S.PENDING, server=FakeServerFactory(status=ServerStatus.DISABLED))
    with pytest.raises(LifecycleError, match="is disabled"):
        lifecycle.deliver(disabled, actor=admin_user, source=ADMIN)


def test_import_links_the_existing_resource_without_creating_one(make_service, admin_user):
    service = make_service(S.PENDING, fail="create")

    imported = lifecycle.import_existing(
        service, resource_id="vm-3", actor=admin_user, source=ADMIN
    ).service

    assert imported.status == S.ACTIVE
    assert imported.external_id == "vm-3"
    assert imported.module_data == {"imported": True}


def test_a_resource_already_linked_to_another_service_cannot_be_imported_twice(
    make_service, admin_user
):
    server = FakeServerFactory()
    first = make_service(S.PENDING, server=server)
    lifecycle.import_existing(first, resource_id="vm-1", actor=admin_user, source=ADMIN)
    second = make_service(S.PENDING, server=server)

    with pytest.raises(LifecycleError, match=f"already linked to service #{first.pk}"):
        lifecycle.import_existing(second, resource_id="vm-1", actor=admin_user, source=ADMIN)

    second.refresh_from_db()
    assert (second.status, second.external_id) == (S.PENDING, "")


def test_a_resource_freed_by_termination_can_be_imported_again(make_service, admin_user):
    server = FakeServerFactory()
    first = make_service(S.PENDING, server=server)
    lifecycle.import_existing(first, resource_id="vm-1", actor=admin_user, source=ADMIN)
    lifecycle.terminate(first, actor=admin_user, source=ADMIN)
    second = make_service(S.PENDING, server=server)

    imported = lifecycle.import_existing(
        second, resource_id="vm-1", actor=admin_user, source=ADMIN
    ).service

    assert imported.external_id == "vm-1"


def test_importing_an_unknown_resource_fails_and_keeps_the_service_pending(
    make_service, admin_user
):
    service = make_service(S.PENDING)

    with pytest.raises(ModuleError, match="No resource vm-99"):
        lifecycle.import_existing(service, resource_id="vm-99", actor=admin_user, source=ADMIN)

    service.refresh_from_db()
    assert service.status == S.PENDING
    assert service.last_delivery_error == "No resource vm-99 on the test panel."
