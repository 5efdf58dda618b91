"""The dashboard's charts as last computed (issue 16): one row, read by every process.

The figures are a ``GROUP BY`` each over ranges that grow with the business (1.3 s in all
at a million services), so no request computes them: the periodic task
``dashboard.charts`` does, every few minutes, and stores them here. A row in the database
is seen by every web process, where a per-process cache (the embedded mode's locmem) is
not, and the page reads it in one query whatever the size of the tables.
"""

from __future__ import annotations

from django.db import models


class ChartSnapshot(models.Model):
    """The figures of every chart but the counts per status (which the database keeps, so
    the page reads them live), as ``dashboard.charts.Chart`` dictionaries, and when they
    were computed. Only the row ``pk=1`` exists."""

    ROW = 1

    charts = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Dashboard charts of {self.computed_at:%Y-%m-%d %H:%M}"
