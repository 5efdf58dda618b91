""" "Do not suspend or terminate until": a date staff agreed with a customer, for one service
or for all of a customer's services. The automation neither expires nor terminates a held
service (its due queries leave it, and the rule book refuses it), staff still can, and the
termination days count from the end of the hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from services import lifecycle, sweeps
from services.choices import EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import Service, ServiceEvent

S = ServiceStatus
AUTOMATION, ADMIN = EventSource.AUTOMATION, EventSource.ADMIN


def days(n: float) -> datetime:
    """``n`` days from now (negative: ago)."""
    return timezone.now() + timedelta(days=n)


@pytest.fixture(autouse=True)
def _days(settings):
    settings.SERVICE_TERMINATION_DAYS = 14
    settings.TIME_ZONE = "UTC"


def hold_customer(service: Service, until: datetime | None) -> None:
    Customer.objects.filter(pk=service.customer_id).update(hold_until=until)


# The due queries ------------------------------------------------------------------------


def test_a_service_held_in_the_future_is_not_due_to_expire(make_service):
    held = make_service(S.ACTIVE, expires_at=days(-1), hold_until=days(10))
    hold_over = make_service(S.ACTIVE, expires_at=days(-1), hold_until=days(-0.5))

    assert list(sweeps.expire_due(timezone.now())) == [hold_over]
    # Once the hold is over, it is due.
    assert set(sweeps.expire_due(days(11))) == {held, hold_over}

    result = sweeps.expire(timezone.now())

    assert result.done == 1
    held.refresh_from_db()
    assert held.status == S.ACTIVE


def test_a_customers_hold_keeps_every_one_of_their_services(make_service, other_customer):
    mine = make_service(S.ACTIVE, expires_at=days(-1))
    theirs = make_service(S.ACTIVE, expires_at=days(-1), customer=other_customer)
    mine_expired = make_service(S.EXPIRED, expires_at=days(-30))
    hold_customer(mine, days(10))

    assert list(sweeps.expire_due(timezone.now())) == [theirs]
    assert list(sweeps.terminate_due(timezone.now())) == []
    assert sweeps.terminate(timezone.now()).done == 0
    mine_expired.refresh_from_db()
    assert mine_expired.status == S.EXPIRED
    assert mine.pk not in {s.pk for s in sweeps.expire_due(timezone.now())}


def test_the_termination_days_count_from_the_end_of_the_hold(make_service):
    # Expired 30 days ago, held until 5 days ago: 14 days from the end of the hold.
    service = make_service(S.EXPIRED, expires_at=days(-30), hold_until=days(-5))

    assert list(sweeps.terminate_due(timezone.now())) == []
    assert list(sweeps.terminate_due(days(8.9))) == []
    assert list(sweeps.terminate_due(days(9.1))) == [service]
    assert sweeps.terminate(timezone.now()).done == 0
    with time_machine.travel(days(9.1), tick=False):
        assert sweeps.terminate(timezone.now()).done == 1
    service.refresh_from_db()
    assert service.status == S.TERMINATED


def test_the_termination_days_count_from_the_end_of_the_customers_hold(make_service):
    service = make_service(S.EXPIRED, expires_at=days(-30))
    hold_customer(service, days(-5))

    assert list(sweeps.terminate_due(days(8.9))) == []
    assert list(sweeps.terminate_due(days(9.1))) == [service]


def test_a_hold_that_ended_before_the_grace_period_changes_nothing(make_service):
    service = make_service(S.EXPIRED, expires_at=days(-15), hold_until=days(-20))

    assert list(sweeps.terminate_due(timezone.now())) == [service]


# The rule book --------------------------------------------------------------------------


def test_the_rule_book_refuses_the_automation_while_the_service_is_held(make_service):
    service = make_service(
        S.ACTIVE, expires_at=days(-1), hold_until=datetime(2099, 1, 15, 10, tzinfo=UTC)
    )

    with pytest.raises(LifecycleError) as refused:
        lifecycle.expire(service.pk, actor=None, source=AUTOMATION)

    assert refused.value.message == (
        f"Cannot expire service #{service.pk}: staff agreed not to suspend or terminate it "
        "until 2099-01-15."
    )
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


def test_the_rule_book_refuses_to_terminate_while_the_customer_is_held(make_service):
    service = make_service(S.EXPIRED, expires_at=days(-30))
    hold_customer(service, datetime(2099, 1, 15, 10, tzinfo=UTC))

    with pytest.raises(LifecycleError) as refused:
        lifecycle.terminate(service.pk, actor=None, source=AUTOMATION)

    assert refused.value.message == (
        f"Cannot terminate service #{service.pk}: staff agreed with its customer not to "
        "suspend or terminate their services until 2099-01-15."
    )


def test_the_later_of_the_two_holds_is_named(make_service):
    service = make_service(
        S.ACTIVE, expires_at=days(-1), hold_until=datetime(2099, 3, 1, tzinfo=UTC)
    )
    hold_customer(service, datetime(2099, 1, 15, tzinfo=UTC))

    with pytest.raises(LifecycleError, match="suspend or terminate it until 2099-03-01"):
        lifecycle.expire(service.pk, actor=None, source=AUTOMATION)


def test_staff_can_still_expire_and_terminate_a_held_service(make_service, admin_user):
    service = make_service(S.ACTIVE, expires_at=days(-1), hold_until=days(10))
    hold_customer(service, days(10))

    assert lifecycle.expire(service.pk, actor=admin_user, source=ADMIN).changed
    assert lifecycle.terminate(service.pk, actor=admin_user, source=ADMIN).changed
    assert Service.objects.get(pk=service.pk).status == S.TERMINATED


def test_a_hold_that_is_over_no_longer_refuses(make_service):
    service = make_service(S.ACTIVE, expires_at=days(-1), hold_until=days(-0.1))

    assert lifecycle.expire(service.pk, actor=None, source=AUTOMATION).changed


def test_a_service_held_between_the_due_query_and_its_claim_is_left(make_service, monkeypatch):
    service = make_service(S.ACTIVE, expires_at=days(-1))
    expire = lifecycle.expire

    def held_meanwhile(pk, **kwargs):
        Service.objects.filter(pk=pk).update(hold_until=days(10))
        return expire(pk, **kwargs)

    monkeypatch.setattr(lifecycle, "expire", held_meanwhile)

    result = sweeps.expire(timezone.now())

    assert result.counts() == {"done": 0, "skipped": 1, "failed": 0}
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE
    assert not ServiceEvent.objects.filter(service=service, action="expire").exists()


# Editing and showing it -----------------------------------------------------------------


def test_staff_set_a_services_hold_in_its_edit_form_and_it_is_in_its_history(
    client, admin_user, make_service
):
    service = make_service(S.ACTIVE, expires_at=datetime(2026, 12, 1, tzinfo=UTC))
    client.force_login(admin_user)
    form = client.get(reverse("admin:service_edit", args=[service.pk])).context["form"]
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    data.update(expires_at="2026-12-01T00:00", hold_until="2027-01-15T10:00", reason="Agreed")

    response = client.post(reverse("admin:service_edit", args=[service.pk]), data)

    assert response.status_code == 302
    service.refresh_from_db()
    assert service.hold_until == datetime(2027, 1, 15, 10, tzinfo=UTC)
    event = ServiceEvent.objects.get(service=service, action="update")
    assert (event.actor, event.reason) == (admin_user, "Agreed")
    assert event.changes == {"hold_until": [None, "2027-01-15T10:00:00Z"]}
    page = client.get(reverse("admin:service_detail", args=[service.pk])).text
    assert "Agreed for this service until Jan. 15, 2027, 10:00" in page
    assert "Do not suspend or terminate until" in page  # the history's label


def test_the_service_page_shows_its_customers_hold(client, admin_user, make_service):
    service = make_service(S.ACTIVE)
    hold_customer(service, datetime(2099, 1, 15, 10, tzinfo=UTC))
    client.force_login(admin_user)

    page = client.get(reverse("admin:service_detail", args=[service.pk])).text

    assert "Agreed for this customer until Jan. 15, 2099, 10:00" in page
    assert "Agreed for this service" not in page


def test_the_service_page_says_nothing_of_a_hold_when_there_is_none(
    client, admin_user, make_service
):
    service = make_service(S.ACTIVE)
    client.force_login(admin_user)

    page = client.get(reverse("admin:service_detail", args=[service.pk])).text

    assert 'id="service-hold"' not in page
