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
