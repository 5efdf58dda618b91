"""How the panel's connections to PostgreSQL are set up."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_postgresql_connections_compile_no_query_with_jit():
    """A misestimated empty sweep spent up to 290 ms in JIT compilation (docs/performance.md):
    every connection turns it off."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def test_a_query_run_five_times_on_a_connection_is_prepared_and_planned_for_its_parameters():
    """Parsing the list's three queries again on every page cost about 1 ms
    (docs/performance.md): psycopg prepares what a connection repeats; each execution is
    still planned for its own parameters, as a search's pattern needs."""
    query = "SELECT id FROM customers_user WHERE id = %s"
    with connection.cursor() as cursor:
        for user_id in range(6):
            cursor.execute(query, [user_id])
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_custom_plan",)
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert "SELECT id FROM customers_user WHERE id = $1" in prepared
