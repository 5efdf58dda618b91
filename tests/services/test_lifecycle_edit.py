"""Creating, editing, moving the expiration and deleting: each recorded as a diff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from products.choices import BillingCycle
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import Service, ServiceEvent, ServiceRenewal

S = ServiceStatus


def test_create_makes_a_pending_service_and_records_its_fields(customer, admin_user):
    service = lifecycle.create(
        actor=admin_user,
        source=EventSource.ADMIN,
        customer=customer,
        module="manual",
        name="Custom box",
        price=Decimal("12.00"),
        initial_price=Decimal("20.00"),
        billing_cycle=BillingCycle.QUARTERLY,
        status=S.ACTIVE,
    )

    assert service.status == S.PENDING
    assert service.is_custom
    event = ServiceEvent.objects.get(service=service)
    assert (event.action, event.from_status, event.to_status) == ("create", "", S.PENDING)
    assert event.changes["name"] == [None, "Custom box"]
    assert event.changes["initial_price"] == [None, "20.00"]


def test_create_refuses_invalid_fields_with_a_readable_message(customer, admin_user):
    with pytest.raises(LifecycleError, match="billing_cycle"):
        lifecycle.create(
            actor=admin_user,
            source=EventSource.ADMIN,
            customer=customer,
            module="manual",
            name="Bad",
            price=Decimal(1),
            initial_price=Decimal(1),
            billing_cycle="fortnightly",
        )
    assert not Service.objects.exists()


def test_an_edit_records_each_changed_field_with_old_and_new_values(make_service, admin_user):
    service = make_service(S.ACTIVE, name="Old name", price=Decimal("5.00"))

    lifecycle.update(
        service,
        changes={"name": "New name", "price": Decimal("7.50"), "notes": "VIP"},
        actor=admin_user,
        source=EventSource.ADMIN,
        reason="upgrade",
    )

    event = ServiceEvent.objects.get(service=service)
    assert event.action == "update"
    assert event.changes == {
        "name": ["Old name", "New name"],
        "price": ["5.00", "7.50"],
        "notes": ["", "VIP"],
    }
    assert event.reason == "upgrade"


def test_an_edit_that_changes_nothing_records_nothing(make_service, admin_user):
    service = make_service(S.ACTIVE, name="Same")

    lifecycle.update(service, changes={"name": "Same"}, actor=admin_user, source=EventSource.ADMIN)

    assert not ServiceEvent.objects.filter(service=service).exists()


def test_editing_the_status_is_recorded_as_a_status_change(make_service, admin_user):
    service = make_service(S.SUSPENDED)

    lifecycle.update(
        service, changes={"status": S.ACTIVE}, actor=admin_user, source=EventSource.ADMIN
    )

    event = ServiceEvent.objects.get(service=service)
    assert (event.from_status, event.to_status) == (S.SUSPENDED, S.ACTIVE)
    assert event.changes["status"] == [S.SUSPENDED, S.ACTIVE]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"renewal_count": 0}, "cannot be edited: renewal_count"),
        ({"billing_cycle": BillingCycle.ONE_TIME}, "one-time service has no expiration"),
        ({"max_renewals": 1}, "already been renewed 3 times"),
        ({"status": "paused"}, "status"),
        ({"price": Decimal("-1")}, "price"),
    ],
)
def test_an_invalid_edit_is_refused_and_changes_nothing(changes, message, make_service, admin_user):
    service = make_service(S.ACTIVE, renewal_count=3)

    with pytest.raises(LifecycleError, match=message):
        lifecycle.update(service, changes=changes, actor=admin_user, source=EventSource.ADMIN)

    service.refresh_from_db()
    assert service.billing_cycle == BillingCycle.MONTHLY
    assert not ServiceEvent.objects.filter(service=service).exists()


@pytest.mark.parametrize("days", [5, -3])
def test_adding_or_subtracting_days_moves_the_expiration_without_a_renewal(
    days, make_service, admin_user
):
    expires = datetime(2031, 5, 10, 9, tzinfo=UTC)
    service = make_service(S.ACTIVE, expires_at=expires)

    moved = lifecycle.shift_expiration(
        service, days=days, actor=admin_user, source=EventSource.ADMIN, reason="gesture"
    ).service

    assert moved.expires_at == expires + timedelta(days=days)
    assert moved.renewal_count == 0
    assert not ServiceRenewal.objects.exists()
    event = ServiceEvent.objects.get(service=service, action="shift_expiration")
    assert event.changes["expires_at"] == [
        expires.isoformat().replace("+00:00", "Z"),
        moved.expires_at.isoformat().replace("+00:00", "Z"),
    ]


def test_moving_the_expiration_of_a_terminated_service_is_refused(make_service, admin_user):
    with pytest.raises(LifecycleError, match="terminated"):
        lifecycle.shift_expiration(
            make_service(S.TERMINATED), days=3, actor=admin_user, source=EventSource.ADMIN
        )


@pytest.mark.parametrize("status", [S.ACTIVE, S.SUSPENDED, S.EXPIRED])
def test_a_service_with_a_resource_on_the_server_cannot_be_deleted(
    status, make_service, admin_user
):
    service = make_service(status, expires_at=timezone.now() - timedelta(days=1))

    with pytest.raises(LifecycleError, match="terminate or cancel it first"):
        lifecycle.delete(service, actor=admin_user, source=EventSource.ADMIN)

    assert Service.objects.filter(pk=service.pk).exists()


def test_a_deleted_service_keeps_its_history_and_renewals(make_service, admin_user):
    service = make_service(S.ACTIVE)
    lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN)
    lifecycle.terminate(service, actor=admin_user, source=EventSource.ADMIN)

    lifecycle.delete(service, actor=admin_user, source=EventSource.ADMIN, reason="cleanup")

    assert not Service.objects.filter(pk=service.pk).exists()
    assert ServiceRenewal.objects.filter(service=None).count() == 1
    deletion = ServiceEvent.objects.get(action="delete")
    assert deletion.service is None
    assert deletion.changes["id"] == [service.pk, None]
    assert deletion.changes["name"] == [service.name, None]
    assert ServiceEvent.objects.filter(service=None).count() == 3


def test_an_edit_cannot_put_a_service_on_a_server_of_another_type(make_service, admin_user):
    from tests.factories import ServerFactory

    service = make_service(S.ACTIVE)

    with pytest.raises(LifecycleError, match="is a manual server, not test"):
        lifecycle.update(
            service,
            changes={"server": ServerFactory(module="manual")},
            actor=admin_user,
            source=EventSource.ADMIN,
        )


def test_create_validates_the_modules_options(customer, admin_user):
    fields = {
        "actor": admin_user,
        "source": EventSource.ADMIN,
        "customer": customer,
        "module": "test",
        "name": "Box",
        "price": Decimal(1),
        "initial_price": Decimal(1),
        "billing_cycle": BillingCycle.MONTHLY,
    }

    with pytest.raises(LifecycleError, match="hostname"):
        lifecycle.create(**fields, module_data={"hostname": "not valid!"})
    service = lifecycle.create(**fields, module_data={"hostname": "ok.example"})

    assert service.module_data == {"hostname": "ok.example"}
