"""Every allowed and every refused transition of DESIGN.md §2, for every operation.

The expectations are written out by hand from the design's table, not derived from
the code's own table, so that a drift in either one fails here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from services import lifecycle
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.lifecycle import LifecycleError
from services.models import Service, ServiceEvent

S = ServiceStatus
ALL = list(S)
NOOP = "no-op"
REFUSED = "refused"
DELETED = "deleted"

# operation -> {from status: outcome}; an outcome is the status reached, NOOP or REFUSED.
EXPECTED: dict[str, dict[str, str]] = {
    "deliver": {S.PENDING: S.ACTIVE, S.ACTIVE: NOOP},
    "import": {S.PENDING: S.ACTIVE, S.ACTIVE: NOOP},
    "suspend": {S.ACTIVE: S.SUSPENDED, S.SUSPENDED: NOOP},
    "unsuspend": {S.SUSPENDED: S.ACTIVE, S.ACTIVE: NOOP},
    "expire": {S.ACTIVE: S.EXPIRED, S.SUSPENDED: S.EXPIRED, S.EXPIRED: NOOP},
    "cancel": {
        S.PENDING: S.CANCELLED,
        S.ACTIVE: S.CANCELLED,
        S.SUSPENDED: S.CANCELLED,
        S.EXPIRED: S.CANCELLED,
        S.CANCELLED: NOOP,
    },
    "terminate": {
        S.ACTIVE: S.TERMINATED,
        S.SUSPENDED: S.TERMINATED,
        S.EXPIRED: S.TERMINATED,
        S.TERMINATED: NOOP,
    },
    "renew": {S.ACTIVE: S.ACTIVE, S.SUSPENDED: S.SUSPENDED, S.EXPIRED: S.ACTIVE},
    "delete": {S.PENDING: DELETED, S.CANCELLED: DELETED, S.TERMINATED: DELETED},
}

OPERATIONS = {
    "deliver": lambda svc, **kw: lifecycle.deliver(svc, **kw),
    "import": lambda svc, **kw: lifecycle.import_existing(svc, resource_id="vm-1", **kw),
    "suspend": lambda svc, **kw: lifecycle.suspend(svc, reason="abuse", **kw),
    "unsuspend": lambda svc, **kw: lifecycle.unsuspend(svc, **kw),
    "expire": lambda svc, **kw: lifecycle.expire(svc, **kw),
    "cancel": lambda svc, **kw: lifecycle.cancel(svc, when=CancelWhen.NOW, reason="asked", **kw),
    "terminate": lambda svc, **kw: lifecycle.terminate(svc, **kw),
    "renew": lambda svc, **kw: lifecycle.renew(svc, cycles=1, **kw),
    "delete": lambda svc, **kw: lifecycle.delete(svc, **kw),
}

CASES = [(op, status) for op in EXPECTED for status in ALL]


@pytest.mark.parametrize(("operation", "status"), CASES, ids=[f"{o}-from-{s}" for o, s in CASES])
def test_each_operation_from_each_status(operation, status, make_service, admin_user):
    expected = EXPECTED[operation].get(status, REFUSED)
    # An expiration in the past lets "expire" apply and keeps "renew" within the grace period.
    service = make_service(status, expires_at=timezone.now() - timedelta(days=1))
    events_before = ServiceEvent.objects.count()
    run = OPERATIONS[operation]

    if expected == REFUSED:
        with pytest.raises(LifecycleError, match=f"service #{service.pk}"):
            run(service, actor=admin_user, source=EventSource.ADMIN)
        service.refresh_from_db()
        assert service.status == status
        assert ServiceEvent.objects.count() == events_before
        return

    run(service, actor=admin_user, source=EventSource.ADMIN)
    if expected == DELETED:
        assert not Service.objects.filter(pk=service.pk).exists()
        return
    service.refresh_from_db()
    if expected == NOOP:
        assert service.status == status
        assert ServiceEvent.objects.count() == events_before
    else:
        assert service.status == expected
        events = ServiceEvent.objects.filter(service=service, action=operation).order_by("pk")
        if operation == "renew" and status == S.EXPIRED:
            # The renewal first, then the panel starting the service again.
            assert [(e.from_status, e.to_status) for e in events] == [
                (S.EXPIRED, S.EXPIRED),
                (S.EXPIRED, S.ACTIVE),
            ]
        else:
            assert events.count() == 1


def test_the_code_table_allows_exactly_the_designed_moves():
    from services.choices import TRANSITIONS

    designed = {
        (s, outcome)
        for op, table in EXPECTED.items()
        if op not in {"delete"}
        for s, outcome in table.items()
        if outcome not in (NOOP, DELETED) and outcome != s
    }
    assert designed == set(TRANSITIONS)
