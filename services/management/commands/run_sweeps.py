"""``manage.py run_sweeps``: the lifecycle sweeps once, for the embedded mode and cron."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from services import sweeps


class Command(BaseCommand):
    help = (
        "Cancel services whose scheduled cancellation is due, expire those past their "
        "expiration, and terminate those expired beyond the grace period. Celery beat runs "
        "this every SERVICE_SWEEP_MINUTES in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for name, result in sweeps.run_all().items():
            line = f"{name}: {result.done} done"
            if result.failed:
                line += f", {len(result.failed)} failed"
            self.stdout.write(line)
            for pk, error in result.failed:
                self.stderr.write(f"  service #{pk}: {error}")
