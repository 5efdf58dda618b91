"""Filters of the staff customer list."""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_countries import countries

from clientxcms.forms import StyledForm
from services.choices import ServiceStatus
from services.models import Service

from .models import Customer

#: Search terms considered; more only slow the query down.
MAX_SEARCH_TERMS = 5
NO_SERVICE = "none"
ANY_SERVICE = "any"
SERVICE_CHOICES = [
    (ANY_SERVICE, "With services"),
    (NO_SERVICE, "Without services"),
    *((status.value, f"With {status.label.lower()} services") for status in ServiceStatus),
]


class CustomerFilterSet(django_filters.FilterSet):
    """Search by name, e-mail or company; filter by country, language and services."""

    q = django_filters.CharFilter(method="search", label="Search")
    country = django_filters.ChoiceFilter(choices=countries, empty_label="Any country")
    language = django_filters.ChoiceFilter(choices=settings.LANGUAGES, empty_label="Any language")
    services = django_filters.ChoiceFilter(
        method="filter_services", choices=SERVICE_CHOICES, empty_label="Any services"
    )

    class Meta:
        model = Customer
        fields = ["q", "country", "language", "services"]
        form = StyledForm

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.attrs["placeholder"] = "Name, e-mail or company"

    def search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        """Every word must appear in one of the names, the e-mail or the company."""
        for term in value.split()[:MAX_SEARCH_TERMS]:
            queryset = queryset.filter(
                Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
                | Q(company__icontains=term)
                | Q(user__email__icontains=term)
            )
        return queryset

    def filter_services(
        self, queryset: QuerySet[Customer], name: str, value: str
    ) -> QuerySet[Customer]:
        """An ``EXISTS`` on the (customer, status) index, rather than a join that repeats rows."""
        services = Service.objects.filter(customer=OuterRef("pk"))
        if value == NO_SERVICE:
            return queryset.filter(~Exists(services))
        if value != ANY_SERVICE:
            services = services.filter(status=value)
        return queryset.filter(Exists(services))
