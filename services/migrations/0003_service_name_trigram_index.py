"""A trigram index on the service name, for the list's search on PostgreSQL.

The search matches names with ``icontains``, which PostgreSQL runs as
``UPPER(name::text) LIKE UPPER('%term%')``; this GIN index on that very expression
answers it without reading every row. SQLite has no such index and skips this migration
(its tables stay small). The index is not in the model's Meta because Django would then
create it on SQLite too.
"""

from django.db import migrations

INDEX = "service_name_trgm_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON services_service "
        "USING gin ((UPPER((name)::text)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("services", "0002_bulk_operations")]

    operations = [migrations.RunPython(create_index, drop_index)]
