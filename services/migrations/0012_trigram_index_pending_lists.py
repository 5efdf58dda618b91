"""How long a list of new rows the search's trigram indexes may keep unmerged.

A GIN index by default gathers new entries in a pending list, merged into the index by
(auto)vacuum or once it reaches ``gin_pending_list_limit`` (4 MB), and every search reads
that list from end to end. Measured at a million services and 50,000 customers right after
the customers were added: 17,965 of them waited in the last name's list, and matching a
word no customer has took 22 ms (the planner, costing the list, read the whole table)
against 0.08 ms once merged.

* The customers' names and company and the users' e-mails change rarely: ``fastupdate =
  off`` writes each new entry into the index at once, and a search never reads a list.
* The service name's index is written by every status change (a new row version when an
  indexed column changes): with ``fastupdate = off`` a raw ``UPDATE`` of 10,000 services
  took 1.24 s against 0.59 s. It keeps its list, capped at 512 kB (a search reads at most
  that), merged in bulk by the writer that fills it.

``gin_clean_pending_list`` merges what is already waiting.
"""

from django.db import migrations

WITHOUT_LIST = [
    "customer_first_name_trgm_idx",
    "customer_last_name_trgm_idx",
    "customer_company_trgm_idx",
    "user_email_trgm_idx",
]
SHORT_LIST = "service_name_trgm_idx"
SHORT_LIST_KB = 512


def shorter_lists(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in WITHOUT_LIST:
        schema_editor.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
    schema_editor.execute(
        f"ALTER INDEX {SHORT_LIST} SET (gin_pending_list_limit = {SHORT_LIST_KB})"
    )
    for name in [*WITHOUT_LIST, SHORT_LIST]:
        schema_editor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])


def default_lists(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in WITHOUT_LIST:
        schema_editor.execute(f"ALTER INDEX {name} RESET (fastupdate)")
    schema_editor.execute(f"ALTER INDEX {SHORT_LIST} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("services", "0011_service_ended_index")]

    operations = [migrations.RunPython(shorter_lists, default_lists)]
