"""Trigram indexes on what the service list's search matches customers by.

The staff service list (``services.filters.search_services``) finds the customers whose
first name, last name, company or e-mail contain the term, with ``icontains``, which
PostgreSQL runs as ``UPPER(column::text) LIKE UPPER('%term%')``: without these indexes,
four patterns over every customer and user (44 ms at 50,000 customers, run up to three
times a search). Each GIN index is on that very expression, as the service name's
(``0003``), so that the planner uses it, and the three of the customers' table combine in
one bitmap. They live here, with the search they serve, rather than in ``customers``.
SQLite has no such index and skips this migration (its tables stay small); the indexes
are not in the models' Meta because Django would then create them on SQLite too.
"""

from django.db import migrations

INDEXES = {
    "customer_first_name_trgm_idx": ("customers_customer", "first_name"),
    "customer_last_name_trgm_idx": ("customers_customer", "last_name"),
    "customer_company_trgm_idx": ("customers_customer", "company"),
    "user_email_trgm_idx": ("customers_user", "email"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER(({column})::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_hold_until_index"),
        ("services", "0008_status_counts_and_attention_index"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
