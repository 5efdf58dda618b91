"""The search's trigram indexes hold every row in the index itself, never in a GIN
pending list that each search would read from end to end (migration ``services/0012``:
22 ms against 0.08 ms for a word no customer has, at 50,000 customers)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import CustomerFactory

TRIGRAM_INDEXES = [
    "service_name_trgm_idx",
    "customer_first_name_trgm_idx",
    "customer_last_name_trgm_idx",
    "customer_company_trgm_idx",
    "user_email_trgm_idx",
]

pytestmark = pytest.mark.postgres


def test_new_customers_and_services_go_straight_into_the_trigram_indexes(make_service):
    for n in range(40):
        customer = CustomerFactory(last_name=f"Dubois-{n}", company=f"Dubois {n} SARL")
        make_service(customer=customer, name=f"Ryzen game box {n}")

    with connection.cursor() as cursor:
        waiting = {}
        for name in TRIGRAM_INDEXES:
            # Merges the pending list and says how many of its pages it merged.
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
            waiting[name] = cursor.fetchone()[0]

    assert waiting == dict.fromkeys(TRIGRAM_INDEXES, 0)


def test_every_trigram_index_is_set_to_write_rows_at_once(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [TRIGRAM_INDEXES]
        )
        options = dict(cursor.fetchall())

    assert options == dict.fromkeys(TRIGRAM_INDEXES, ["fastupdate=off"])
