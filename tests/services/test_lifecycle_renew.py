"""Renewals: from the old expiration, within the grace period, never past the maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from products.choices import BillingCycle
from services import lifecycle
from services.choices import EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import ServiceRenewal

S = ServiceStatus


def test_an_expired_service_renews_from_its_old_expiration_not_from_today(make_service, admin_user):
    old = timezone.now() - timedelta(days=3)
    service = make_service(S.EXPIRED, expires_at=old, billing_cycle=BillingCycle.WEEKLY)

    renewed = lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN, cycles=2).service

    assert renewed.status == S.ACTIVE
    assert renewed.expires_at == old + timedelta(days=14)
    renewal = ServiceRenewal.objects.get(service=service)
    assert (renewal.old_expires_at, renewal.new_expires_at) == (old, old + timedelta(days=14))
    assert (renewal.cycles, renewal.price, renewal.actor) == (2, Decimal("19.98"), admin_user)
    assert renewal.invoice_reference == ""


def test_month_renewals_keep_the_anchor_day_through_short_months(make_service, customer):
    with time_machine.travel(datetime(2028, 1, 20, tzinfo=UTC), tick=False):
        service = lifecycle.create(
            actor=None,
            source=EventSource.ADMIN,
            customer=customer,
            module="manual",
            name="Anchored",
            price=Decimal(5),
            initial_price=Decimal(5),
            billing_cycle=BillingCycle.MONTHLY,
            expires_at=datetime(2028, 1, 31, 12, tzinfo=UTC),
        )
        lifecycle.deliver(service, actor=None, source=EventSource.ADMIN)
        february = lifecycle.renew(service, actor=None, source=EventSource.CLIENT).service
        march = lifecycle.renew(service, actor=None, source=EventSource.CLIENT).service

    assert february.expires_at == datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert march.expires_at == datetime(2028, 3, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize("source", list(EventSource))
def test_it_refuses_to_renew_past_max_renewals_on_every_path(source, make_service, admin_user):
    service = make_service(S.ACTIVE, max_renewals=2)
    lifecycle.renew(service, actor=admin_user, source=source, cycles=2)

    with pytest.raises(LifecycleError, match="maximum number of renewals would be passed"):
        lifecycle.renew(service, actor=admin_user, source=source)

    service.refresh_from_db()
    assert service.renewal_count == 2
    assert ServiceRenewal.objects.filter(service=service).count() == 1


def test_several_cycles_at_once_count_against_the_maximum(make_service, admin_user):
    service = make_service(S.ACTIVE, max_renewals=2)

    with pytest.raises(LifecycleError, match="2 of 2 left"):
        lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN, cycles=3)


def test_it_refuses_to_renew_an_expired_service_past_the_grace_period(
    make_service, admin_user, settings
):
    settings.SERVICE_RENEWAL_GRACE_DAYS = 7
    service = make_service(S.EXPIRED, expires_at=timezone.now() - timedelta(days=8))

    with pytest.raises(LifecycleError, match="expired more than 7 days ago"):
        lifecycle.renew(service, actor=admin_user, source=EventSource.CLIENT)


def test_renewing_a_suspended_service_keeps_it_suspended(make_service, admin_user):
    service = make_service(S.SUSPENDED)

    renewed = lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN).service

    assert renewed.status == S.SUSPENDED
    assert renewed.renewal_count == 1


def test_a_one_time_service_cannot_be_renewed(make_service, admin_user):
    service = make_service(S.ACTIVE, billing_cycle=BillingCycle.ONE_TIME, expires_at=None)

    with pytest.raises(LifecycleError, match="never expires"):
        lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN)


def test_a_renewal_with_an_invoice_already_applied_does_nothing(make_service):
    service = make_service(S.ACTIVE)
    first = lifecycle.renew(
        service, actor=None, source=EventSource.AUTOMATION, invoice_reference="INV-7"
    ).service

    again = lifecycle.renew(
        service, actor=None, source=EventSource.AUTOMATION, invoice_reference="INV-7"
    ).service

    assert again.expires_at == first.expires_at
    assert ServiceRenewal.objects.filter(service=service).count() == 1


def test_zero_cycles_is_refused(make_service, admin_user):
    with pytest.raises(LifecycleError, match="one cycle or more"):
        lifecycle.renew(
            make_service(S.ACTIVE), actor=admin_user, source=EventSource.ADMIN, cycles=0
        )


def test_a_renewal_withdraws_a_scheduled_cancellation(make_service, customer):
    service = make_service(S.ACTIVE)
    lifecycle.cancel(service, actor=customer.user, source=EventSource.CLIENT, when="end_of_period")

    renewed = lifecycle.renew(service, actor=customer.user, source=EventSource.CLIENT).service

    assert renewed.cancel_at is None
    assert renewed.cancel_reason == ""


def test_a_service_suspended_before_it_expired_stays_suspended_when_renewed(
    make_service, admin_user, monkeypatch
):
    service = make_service(S.ACTIVE, expires_at=timezone.now() - timedelta(hours=1))
    lifecycle.suspend(service, actor=admin_user, source=EventSource.ADMIN, reason="abuse")
    lifecycle.expire(service)
    unsuspended = []
    monkeypatch.setattr(
        "tests.fakes.modules.FakeModule.unsuspend", lambda self, svc: unsuspended.append(svc)
    )

    renewed = lifecycle.renew(service, actor=None, source=EventSource.CLIENT).service

    assert renewed.status == S.SUSPENDED
    assert renewed.suspend_reason == "abuse"
    assert unsuspended == []
