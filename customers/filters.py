"""Filters of the staff customer list.

Filters on what other apps know of a customer (their services) are registered by those
apps (``clientxcms.panels.ListFilter``) and joined to the FilterSet by the list view.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from clientxcms.forms import StyledForm
from clientxcms.panels import ListFilter, add_filters
from clientxcms.text import SearchFilter

from .models import Customer
from .search import word_condition

#: Search terms considered; more only slow the query down.
MAX_SEARCH_TERMS = 5


class CustomerFilterSet(django_filters.FilterSet):
    """Search by name, e-mail or company; filter by country, language and ``extra_filters``."""

    q = SearchFilter(method="search", label=_("Search"))
    country = django_filters.ChoiceFilter(choices=countries, empty_label=_("Any country"))
    language = django_filters.ChoiceFilter(
        choices=settings.LANGUAGES, empty_label=_("Any language")
    )

    class Meta:
        model = Customer
        fields = ["q", "country", "language"]
        form = StyledForm

    def __init__(
        self, *args: object, extra_filters: list[ListFilter] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        add_filters(self, extra_filters or [])
        self.extra_filter_names = [entry.key for entry in extra_filters or []]
        self.form.fields["q"].widget.attrs["placeholder"] = _("Name, e-mail or company")

    def search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        """Every word must appear in one of the names, the e-mail or the company."""
        for term in value.split()[:MAX_SEARCH_TERMS]:
            queryset = queryset.filter(word_condition(term))
        return queryset
