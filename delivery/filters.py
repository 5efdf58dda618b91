"""The filters of the staff module call log (``/admin/delivery/calls/``).

Each filter maps onto an index of ``ModuleCall``: server and service onto their
composite indexes with ``created_at``, dates onto ``created_at``; module and "failed
only" narrow the rows read in date order, newest first, until a page is full.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledForm

from .models import ModuleCall, Server
from .registry import module_choices

#: The dates a filter accepts: the day after the last one stays a valid date.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(9998, 12, 31)
#: The largest id a BigIntegerField holds; a longer number is no service's id.
MAX_ID = 2**63 - 1


class BoundedDateField(forms.DateField):
    """A date between 1900 and 9998, so that "before the next midnight" never overflows."""

    def clean(self, value: Any) -> dt.date | None:
        day = super().clean(value)
        if day is not None and not FIRST_DATE <= day <= LAST_DATE:
            raise forms.ValidationError(
                gettext("Choose a date between %(first)s and %(last)s.")
                % {"first": f"{FIRST_DATE:%Y-%m-%d}", "last": f"{LAST_DATE:%Y-%m-%d}"},
                code="out_of_range",
            )
        return day


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


class ServiceIdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class CallFilterForm(StyledForm):
    """Refuses a date range that ends before it starts."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start is not None and end is not None and start > end:
            self.add_error("date_to", gettext("The date range ends before it starts."))
        return data


def _start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ModuleCallFilterSet(django_filters.FilterSet):
    """Server, module, failed only, a date range, and the service (linked from its page)."""

    server = django_filters.ModelChoiceFilter(
        queryset=Server.objects.order_by("name", "id"),
        label=_("Server"),
        empty_label=_("Any server"),
    )
    module = django_filters.ChoiceFilter(
        label=_("Module"), choices=module_choices, empty_label=_("Any module")
    )
    failed = django_filters.BooleanFilter(
        label=_("Outcome"),
        method="filter_failed",
        widget=forms.Select(choices=[("", _("All calls")), ("true", _("Failed only"))]),
    )
    date_from = BoundedDateFilter(
        label=pgettext_lazy("date range", "From"), method="filter_date_from", widget=_date_widget()
    )
    date_to = BoundedDateFilter(
        label=pgettext_lazy("date range", "Until"), method="filter_date_to", widget=_date_widget()
    )
    service = ServiceIdFilter(
        field_name="service_ref",
        label=_("Service id"),
        min_value=1,
        max_value=MAX_ID,
        widget=forms.NumberInput(attrs={"min": 1}),
    )

    class Meta:
        model = ModuleCall
        fields: list[str] = []
        form = CallFilterForm

    def filter_failed(
        self, queryset: QuerySet[ModuleCall], name: str, value: bool | None
    ) -> QuerySet[ModuleCall]:
        return queryset.exclude(error="") if value else queryset

    def filter_date_from(
        self, queryset: QuerySet[ModuleCall], name: str, value: dt.date
    ) -> QuerySet[ModuleCall]:
        return queryset.filter(created_at__gte=_start_of_day(value))

    def filter_date_to(
        self, queryset: QuerySet[ModuleCall], name: str, value: dt.date
    ) -> QuerySet[ModuleCall]:
        # The end date is included: everything before the next midnight.
        return queryset.filter(created_at__lt=_start_of_day(value + dt.timedelta(days=1)))
