"""Query expressions the staff lists share."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce


def subquery_count(rows: QuerySet, field: str) -> Coalesce:
    """The number of ``rows`` whose ``field`` is the outer row, as a correlated subquery.

    A ``Count`` over a join would group the whole related table before the page is cut;
    the subquery runs only for the rows of the page, each on ``field``'s index, and
    stays one query whatever the page size.
    """
    counted = (
        rows.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
