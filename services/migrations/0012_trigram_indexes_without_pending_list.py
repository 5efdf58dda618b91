"""The search's trigram indexes write each new row into the index at once.

A GIN index by default gathers new rows in a pending list, merged into the index by
(auto)vacuum or once it reaches ``gin_pending_list_limit`` (4 MB): every search reads
that list from end to end. Measured at a million services and 50,000 customers after
the customers were added: 17,965 customers waited in the last name's list, and matching
a word no customer has took 22 ms (the planner, seeing the index's cost, read the whole
table instead) against 0.08 ms once merged. Customers and services are added a few at a
time, so writing their trigrams at once costs little; searches never wait on a list.
``fastupdate = off`` keeps new rows out of the list; ``gin_clean_pending_list`` merges
what is already in it.
"""

from django.db import migrations

INDEXES = [
    "service_name_trgm_idx",
    "customer_first_name_trgm_idx",
    "customer_last_name_trgm_idx",
    "customer_company_trgm_idx",
    "user_email_trgm_idx",
]


def without_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        schema_editor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])


def with_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX {name} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("services", "0011_service_ended_index")]

    operations = [migrations.RunPython(without_pending_list, with_pending_list)]
