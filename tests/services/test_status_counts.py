"""The counts per status the database keeps (``services.stats``): right after every path
that creates, deletes or moves services, rolled back with what they count, folded when
they grow, and never a count of the services table.

Each test compares ``status_counts()`` with a ``GROUP BY`` over the services: a path
whose writes the triggers miss (a trigger dropped, a statement kind forgotten) fails
here. They run on SQLite (row triggers) and, with ``DATABASE_URL``, on PostgreSQL
(statement triggers with transition tables); the ones marked ``postgres`` test what only
PostgreSQL has.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count

from services import bulk, lifecycle, stats, tasks
from services.choices import BulkAction, EventSource, ServiceStatus
from services.models import BulkOperation, Service, StatusCountChange
from tests.factories import ServiceFactory

S = ServiceStatus
ADMIN = EventSource.ADMIN


def kept() -> dict[str, int]:
    """The counts the database keeps, statuses with services only (as ints: PostgreSQL
    sums the deltas as numerics, which the pages would print as decimals)."""
    rows = stats.status_counts()
    assert all(type(row["count"]) is int for row in rows)
    return {row["status"]: row["count"] for row in rows if row["count"]}


def counted() -> dict[str, int]:
    """The services counted one by one: what ``kept()`` must say."""
    rows = Service.objects.order_by().values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def test_creating_services_counts_them(db):
    ServiceFactory.create_batch(3, status=S.ACTIVE)
    ServiceFactory(status=S.PENDING)

    assert kept() == {"active": 3, "pending": 1} == counted()


def test_bulk_create_counts_every_row(db):
    template = ServiceFactory(status=S.ACTIVE)
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Service._meta.concrete_fields
        if f.attname not in {"id", "uuid", "external_id"}
    }
    Service.objects.bulk_create(
        [Service(**{**fields, "status": status}) for status in [S.SUSPENDED] * 4 + [S.EXPIRED]]
    )

    assert kept() == {"active": 1, "suspended": 4, "expired": 1} == counted()


def test_the_lifecycle_moves_the_counts(make_service, admin_user):
    service = make_service(S.ACTIVE)
    waiting = make_service(S.PENDING)

    lifecycle.suspend(service, actor=admin_user, source=ADMIN, reason="unpaid")
    assert kept() == {"suspended": 1, "pending": 1} == counted()
    lifecycle.unsuspend(service, actor=admin_user, source=ADMIN)
    lifecycle.deliver(waiting, actor=admin_user, source=ADMIN)

    assert kept() == {"active": 2} == counted()


def test_an_import_moves_the_counts(make_service, admin_user):
    service = make_service(S.PENDING, fail="create")

    lifecycle.import_existing(service, resource_id="vm-3", actor=admin_user, source=ADMIN)

    assert kept() == {"active": 1} == counted()


def test_a_bulk_operation_moves_the_counts(make_service, admin_user):
    services = [make_service(S.ACTIVE) for _ in range(3)]
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND,
        params={"reason": "unpaid"},
        service_ids=[s.pk for s in services],
        created_by=admin_user,
    )

    tasks.run_bulk_operation(operation.pk)

    assert kept() == {"suspended": 3} == counted()


def test_an_update_of_many_rows_and_deletions_move_the_counts(db):
    ServiceFactory.create_batch(4, status=S.ACTIVE)
    ServiceFactory(status=S.CANCELLED)

    Service.objects.filter(status=S.ACTIVE).update(status=S.EXPIRED)  # as raw SQL would
    assert kept() == {"expired": 4, "cancelled": 1} == counted()
    Service.objects.filter(status=S.EXPIRED).first().delete()
    Service.objects.filter(status=S.CANCELLED).delete()

    assert kept() == {"expired": 3} == counted()


def test_an_update_that_leaves_the_status_adds_no_row(db):
    service = ServiceFactory(status=S.ACTIVE)
    rows = StatusCountChange.objects.count()

    Service.objects.filter(pk=service.pk).update(name="renamed", status=S.ACTIVE)

    assert StatusCountChange.objects.count() == rows


def test_a_rolled_back_change_is_not_counted(db):
    ServiceFactory(status=S.ACTIVE)

    with transaction.atomic():
        Service.objects.update(status=S.TERMINATED)
        ServiceFactory(status=S.PENDING)
        transaction.set_rollback(True)

    assert kept() == {"active": 1} == counted()


def test_reading_folds_many_rows_into_one_per_status(db, monkeypatch):
    monkeypatch.setattr(stats, "FOLD_AFTER", 5)
    services = ServiceFactory.create_batch(4, status=S.ACTIVE)
    for service in services:
        Service.objects.filter(pk=service.pk).update(status=S.SUSPENDED)
    assert StatusCountChange.objects.count() > 5

    first = kept()  # reads, then folds
    assert StatusCountChange.objects.count() == 1
    assert first == kept() == {"suspended": 4} == counted()


def test_reading_the_counts_reads_no_service(db, django_assert_num_queries):
    ServiceFactory(status=S.ACTIVE)

    with django_assert_num_queries(1) as captured:
        stats.status_counts()

    assert "services_service" not in captured.captured_queries[0]["sql"]


def test_a_bulk_operation_folds_the_counts_when_it_ends(make_service, admin_user):
    services = [make_service(S.ACTIVE) for _ in range(3)]
    operation = BulkOperation.objects.create(
        action=BulkAction.SUSPEND,
        params={},
        service_ids=[s.pk for s in services],
        created_by=admin_user,
    )

    bulk.process(operation.pk)

    assert StatusCountChange.objects.count() == 1  # one row per status with services
    assert kept() == {"suspended": 3} == counted()


def test_lost_triggers_are_made_again_with_a_recount(db):
    ServiceFactory.create_batch(2, status=S.ACTIVE)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER services_status_count_insert ON services_service")
        else:
            cursor.execute("DROP TRIGGER services_status_count_insert")
    ServiceFactory(status=S.PENDING)  # not counted: no trigger
    assert kept() == {"active": 2}

    assert stats.install_triggers(connection) is True
    assert stats.install_triggers(connection) is False  # all there: nothing to do

    ServiceFactory(status=S.PENDING)
    assert kept() == {"active": 2, "pending": 2} == counted()


@pytest.mark.postgres
def test_postgres_counts_a_statement_once_per_status_not_per_row(db):
    ServiceFactory.create_batch(30, status=S.ACTIVE)
    stats.fold_status_counts()

    Service.objects.filter(status=S.ACTIVE).update(status=S.SUSPENDED)

    moved = sorted(StatusCountChange.objects.values_list("status", "delta"))
    assert moved == [("active", -30), ("active", 30), ("suspended", 30)]
    assert kept() == {"suspended": 30} == counted()


@pytest.mark.postgres
def test_postgres_truncate_empties_the_counts(transactional_db):
    ServiceFactory.create_batch(2, status=S.ACTIVE)

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE services_service CASCADE")

    assert kept() == {} == counted()
