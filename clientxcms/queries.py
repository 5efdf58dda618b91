"""Query expressions the staff lists share."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

#: What a choice must look like to be written into SQL as it is: no quote, no percent sign.
_PLAIN_CHOICE = re.compile(r"[a-z0-9_]+")


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


class ChoiceLiteral(Value):
    """One of a field's choices written into the query's text instead of sent as a parameter.

    PostgreSQL plans each execution of a prepared statement for its parameters
    (``plan_cache_mode=force_custom_plan``, in the settings), so that a page of a rare
    status is not read with a plan made for a common one. A status sent as a parameter
    thus had the service list's page planned again on every status tab: 1.4 ms of a
    13 ms page at a million services. Written in the text, each status is a statement of
    its own, planned once per connection for that status, as the first page is.

    Only a value among ``choices`` is written, and only if it is made of lower-case
    letters, digits and underscores, so the text can hold nothing but that word.
    """

    def __init__(self, value: str, choices: Collection[str]) -> None:
        if value not in choices or not _PLAIN_CHOICE.fullmatch(value):
            raise ValueError(f"{value!r} is not a plain choice among {sorted(choices)}.")
        super().__init__(value)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return f"'{self.value}'", []
