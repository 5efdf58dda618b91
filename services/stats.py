"""Services per status, for the dashboard and the list's tabs: exact, and never a scan.

Counting a million services by status is a scan (107 to 182 ms), too dear for every page
view (DESIGN.md, "Data and scale"); a cached count is wrong for up to its lifetime after
every change. So the database keeps the counts itself: triggers on ``services_service``
add a row to ``services_statuscountchange`` (``StatusCountChange``) for each status whose
number a statement changes, in the statement's transaction. Every path that creates,
deletes or moves services (the lifecycle, imports, bulk work, deletions, ``bulk_create``
of the bench rows, raw SQL) is counted without having to remember it, and a rolled-back
change is rolled back with its count.

Rows are only ever added, never updated, so two transactions that move services never
wait on a shared counter row (a row per status updated in place would be locked by one
bulk batch until it commits, and could deadlock two transactions that touch two statuses
in different orders). The counts are the sums per status; when there are more than
``FOLD_AFTER`` rows, reading folds them into one per status, in one statement.

On PostgreSQL the triggers are per statement, with transition tables: a bulk ``UPDATE``
of 10,000 services adds one row per status it moved, not 20,000. SQLite has no statement
triggers, so its triggers are per row, and they are created again after every migration
if missing (SQLite rebuilds a table to alter it, which drops its triggers).
"""

from __future__ import annotations

from typing import Any

from django.db import connection as default_connection
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .choices import STATUS_BADGES, ServiceStatus

#: Above this many rows, reading the counts folds them into one row per status first.
FOLD_AFTER = 1_000
TABLE = "services_statuscountchange"
#: The trigger names, on both databases: checked by ``install_triggers``.
TRIGGERS = (
    "services_status_count_insert",
    "services_status_count_update",
    "services_status_count_delete",
)

_POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION services_status_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {TABLE} (status, delta)
        SELECT status, COUNT(*) FROM new_rows GROUP BY status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {TABLE} (status, delta)
        SELECT status, -COUNT(*) FROM old_rows GROUP BY status;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {TABLE} (status, delta)
        SELECT status, SUM(delta) FROM (
            SELECT status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, -1 AS delta FROM old_rows
        ) AS moved
        GROUP BY status HAVING SUM(delta) <> 0;
    ELSE
        -- TRUNCATE: no services, so no counts.
        DELETE FROM {TABLE};
    END IF;
    RETURN NULL;
END
$$;
"""

_POSTGRES_TRIGGERS = [
    "CREATE TRIGGER services_status_count_insert AFTER INSERT ON services_service "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION services_status_count_change()",
    "CREATE TRIGGER services_status_count_update AFTER UPDATE ON services_service "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION services_status_count_change()",
    "CREATE TRIGGER services_status_count_delete AFTER DELETE ON services_service "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION services_status_count_change()",
    "CREATE TRIGGER services_status_count_truncate AFTER TRUNCATE ON services_service "
    "FOR EACH STATEMENT EXECUTE FUNCTION services_status_count_change()",
]

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER services_status_count_insert AFTER INSERT ON services_service
    BEGIN
        INSERT INTO {TABLE} (status, delta) VALUES (NEW.status, 1);
    END""",
    f"""CREATE TRIGGER services_status_count_update AFTER UPDATE OF status ON services_service
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        INSERT INTO {TABLE} (status, delta) VALUES (OLD.status, -1);
        INSERT INTO {TABLE} (status, delta) VALUES (NEW.status, 1);
    END""",
    # The last service gone (the test database's flush deletes table by table, in any
    # order): no counts, whatever was deleted from the counts table before.
    f"""CREATE TRIGGER services_status_count_delete AFTER DELETE ON services_service
    BEGIN
        INSERT INTO {TABLE} (status, delta) VALUES (OLD.status, -1);
        DELETE FROM {TABLE} WHERE NOT EXISTS (SELECT 1 FROM services_service);
    END""",
]


def _installed(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'services_service'::regclass"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'services_service'"
            )
        return {row[0] for row in cursor.fetchall()}


def install_triggers(connection: BaseDatabaseWrapper = default_connection) -> bool:
    """Create the counting triggers if any is missing, and count every service again.

    Returns whether it had to. Run by the migration that adds the counts, and after every
    migration (``services.apps``), since SQLite drops a table's triggers when a migration
    rebuilds it. The recount runs in the same transaction as the triggers' creation,
    which locks the services against writes until it commits: none is counted twice or
    missed.
    """
    if connection.vendor not in {"postgresql", "sqlite"}:
        return False
    if set(TRIGGERS) <= _installed(connection):
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES_FUNCTION)
            for name in (*TRIGGERS, "services_status_count_truncate"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON services_service")
            statements = _POSTGRES_TRIGGERS
        else:
            for name in TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            statements = _SQLITE_TRIGGERS
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(
            f"INSERT INTO {TABLE} (status, delta) "
            "SELECT status, COUNT(*) FROM services_service GROUP BY status"
        )
    return True


def fold_status_counts() -> None:
    """Replace the rows of changes with one row per status, in one snapshot.

    On PostgreSQL one statement deletes the rows it sees and inserts their sums: rows
    added meanwhile by other transactions are not in its snapshot, so they are neither
    deleted nor summed, and two folds at once add up the same (the second finds the
    first's rows gone). SQLite has one writer at a time, so a transaction does it.
    """
    with default_connection.cursor() as cursor:
        if default_connection.vendor == "postgresql":
            cursor.execute(
                f"WITH folded AS (DELETE FROM {TABLE} RETURNING status, delta) "
                f"INSERT INTO {TABLE} (status, delta) "
                "SELECT status, SUM(delta) FROM folded GROUP BY status HAVING SUM(delta) <> 0"
            )
            return
    with transaction.atomic(), default_connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {TABLE}")
        (last,) = cursor.fetchone()
        if last is None:
            return
        cursor.execute(
            f"INSERT INTO {TABLE} (status, delta) SELECT status, SUM(delta) FROM {TABLE} "
            "WHERE id <= %s GROUP BY status HAVING SUM(delta) <> 0",
            [last],
        )
        cursor.execute(f"DELETE FROM {TABLE} WHERE id <= %s", [last])


def status_counts() -> list[dict[str, Any]]:
    """Every status with its label, badge colour and number of services, in lifecycle order.

    One query over the counts' rows (a handful, at most ``FOLD_AFTER`` plus what was
    written since the last fold), whatever the number of services; statuses with no
    service are listed with 0 so that the pages keep their shape.
    """
    # Written as SQL: building and compiling the same query with the ORM took four times
    # as long as running it (0.44 of 0.56 ms), on every list page and dashboard.
    with default_connection.cursor() as cursor:
        cursor.execute(f"SELECT status, SUM(delta), COUNT(*) FROM {TABLE} GROUP BY status")
        grouped = cursor.fetchall()
    if sum(rows for _status, _total, rows in grouped) > FOLD_AFTER:
        fold_status_counts()
    # PostgreSQL sums a bigint column as a numeric (a Decimal here).
    counts = {status: int(total) for status, total, _rows in grouped}
    return [
        {
            "status": status.value,
            "label": status.label,
            "badge": STATUS_BADGES[status],
            "count": counts.get(status.value, 0),
        }
        for status in ServiceStatus
    ]
