from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.signals import post_migrate


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Services"

    def ready(self) -> None:
        """Show services on the customer, product and server pages, which cannot import
        services themselves (DESIGN.md §3)."""
        from services import panels

        panels.register()

        # The lifecycle's periodic tasks (sweeps, delivery retries, the bulk stall check).
        from services import automation

        automation.register()

        post_migrate.connect(_count_triggers, sender=self)


def _count_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """The status counts' triggers, again if a migration dropped them (``services.stats``:
    SQLite drops a table's triggers when a migration rebuilds the table)."""
    from services import stats

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if {"services_service", stats.TABLE} <= tables:
        stats.install_triggers(connection)
