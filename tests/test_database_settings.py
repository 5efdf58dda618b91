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


def test_a_status_tab_s_page_is_planned_once_per_connection():
    """The status is written into the query (clientxcms.queries.ChoiceLiteral): with no
    parameter left, PostgreSQL keeps the page's plan instead of planning it on every
    request, as it must for a parameter (1.4 ms of a 13 ms page at a million services)."""
    from django.http import QueryDict

    from services.filters import filter_services
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True, is_superuser=True)
    services = filter_services(QueryDict("status=suspended"), user=staff)
    for _ in range(7):
        list(services.values_list("pk", flat=True)[:17])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%'suspended'%LIMIT 17%"],
        )
        [(generic, custom)] = cursor.fetchall()
    # Prepared on its sixth run (prepare_threshold 5), its plan made once and reused since
    # (more uses if the connection ran it for an earlier test): never planned per run.
    assert generic >= 2
    assert custom == 0
