"""Pagination without ``COUNT(*)``, for staff lists (DESIGN.md, "Data and scale").

Django's paginator counts every matching row to number its pages: on a large table that
is a full scan on every page view. A ``WindowPage`` reads one row more than it shows
instead, which is enough to know whether there is a next page, and the number of pages
one may ask for is bounded so that a deep ``OFFSET`` never walks a million rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest


@dataclass(frozen=True)
class WindowPage:
    """One page of rows; it answers what ``components/pagination.html`` asks a page."""

    object_list: Sequence[Any]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.object_list)


def window_page(
    queryset: QuerySet, page: str | int | None, per_page: int, max_pages: int
) -> WindowPage:
    """Page ``page`` (1-based) of ``queryset``; 404 for a page that is not a number in range."""
    try:
        number = int(page or 1)
    except (TypeError, ValueError):
        raise Http404("That page number is not a whole number.") from None
    if not 1 <= number <= max_pages:
        raise Http404(f"Pages go from 1 to {max_pages}: narrow the search to see further.")
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return WindowPage(
        object_list=rows[:per_page], number=number, per_page=per_page, has_next=len(rows) > per_page
    )


if TYPE_CHECKING:
    from django.views.generic.list import MultipleObjectMixin

    # Always mixed into a ListView: say so to the type checker only.
    _ListBase = MultipleObjectMixin[Any]
else:
    _ListBase = object


class WindowPaginationMixin(_ListBase):
    """For a ``ListView``: pages with ``WindowPage`` instead of Django's counting paginator.

    The template receives ``page_obj`` and ``is_paginated`` as with Django's, but no
    ``paginator`` (there is no total to show).
    """

    paginate_by: int | None = 25
    #: The deepest page served: 400 pages of 25 is 10,000 rows, past which one searches.
    max_pages = 400
    request: HttpRequest  # set by View.setup()

    def paginate_queryset(  # type: ignore[override]  # a WindowPage and no paginator, by design
        self, queryset: QuerySet, page_size: int
    ) -> tuple[None, WindowPage, Sequence[Any], bool]:
        page = window_page(
            queryset,
            self.request.GET.get("page"),
            page_size,
            self.max_pages,
        )
        return None, page, page.object_list, page.has_other_pages()
