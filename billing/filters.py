"""Filters and search of the staff lists of invoices, orders and payments.

Every filter maps onto an indexed column or an ``EXISTS`` on a small related table, so a
list stays one query for its rows: the gateway filter asks whether a payment through that
gateway exists rather than joining payments (a join would repeat an invoice per payment),
and the customer search finds the customers first, in their own table, then their
invoices by the indexed foreign key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientxcms.forms import StyledForm
from clientxcms.text import SearchFilter, clean_search_term
from customers.models import Customer
from customers.search import word_condition
from services.filters import DateFilter

from .choices import InvoiceKind, InvoiceStatus, OrderStatus
from .gateways.registry import gateway_labels
from .models import Invoice, Order, Payment

#: Words of a search term considered; more only slow the query down.
MAX_SEARCH_WORDS = 5


def gateway_choices() -> list[tuple[str, str]]:
    """The registered payment gateways, as (key, label), by label."""
    return sorted(gateway_labels().items(), key=lambda item: item[1])


def _start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def customers_matching(term: str) -> QuerySet[Customer]:
    """Customers whose names, company or e-mail hold every word of ``term``."""
    customers = Customer.objects.all()
    for word in term.split()[:MAX_SEARCH_WORDS]:
        customers = customers.filter(word_condition(word))
    return customers


class DateRangeForm(StyledForm):
    """Refuses an issue-date range that ends before it starts."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("issued_after"), data.get("issued_before")
        if start is not None and end is not None and start > end:
            self.add_error("issued_before", _("The date range ends before it starts."))
        return data


class InvoiceFilterSet(django_filters.FilterSet):
    """``/admin/invoices/``: search, status, kind, customer, issue dates, gateway, overdue."""

    q = SearchFilter(
        label=_("Search"),
        method="filter_search",
        help_text=_("Invoice number, or the customer's name, company or e-mail."),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=InvoiceStatus.choices, empty_label=_("Any status")
    )
    kind = django_filters.ChoiceFilter(
        label=_("Type"), choices=InvoiceKind.choices, empty_label=_("Invoices and credit notes")
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.all(),
        label=_("Customer id"),
        widget=forms.NumberInput(attrs={"min": 1}),
        error_messages={"invalid_choice": _("No customer has this id.")},
    )
    issued_after = DateFilter(
        label=_("Issued from"), method="filter_issued_after", widget=_date_widget()
    )
    issued_before = DateFilter(
        label=_("Issued until"), method="filter_issued_before", widget=_date_widget()
    )
    gateway = django_filters.ChoiceFilter(
        label=_("Paid through"),
        choices=gateway_choices,
        method="filter_gateway",
        empty_label=_("Any gateway"),
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue"),
        method="filter_overdue",
        widget=forms.Select(choices=[("", _("Any")), ("true", _("Overdue only"))]),
    )

    class Meta:
        model = Invoice
        fields = ["q", "status", "kind", "customer", "issued_after", "issued_before"]
        form = DateRangeForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.attrs["placeholder"] = _("Number, customer name or e-mail")

    def filter_search(
        self, queryset: QuerySet[Invoice], name: str, value: str
    ) -> QuerySet[Invoice]:
        """A number (``INV-2026-000123`` or a part of it), else the customer's words."""
        term = clean_search_term(value)
        if not term:
            return queryset
        by_customer = Q(customer__in=customers_matching(term).values("pk"))
        return queryset.filter(Q(number__icontains=term) | by_customer)

    def filter_issued_after(
        self, queryset: QuerySet[Invoice], name: str, value: dt.date
    ) -> QuerySet[Invoice]:
        return queryset.filter(issued_at__gte=_start_of_day(value))

    def filter_issued_before(
        self, queryset: QuerySet[Invoice], name: str, value: dt.date
    ) -> QuerySet[Invoice]:
        return queryset.filter(issued_at__lt=_start_of_day(value + dt.timedelta(days=1)))

    def filter_gateway(
        self, queryset: QuerySet[Invoice], name: str, value: str
    ) -> QuerySet[Invoice]:
        payments = Payment.objects.filter(invoice=OuterRef("pk"), gateway=value)
        return queryset.filter(Exists(payments))

    def filter_overdue(
        self, queryset: QuerySet[Invoice], name: str, value: bool | None
    ) -> QuerySet[Invoice]:
        if not value:
            return queryset
        return queryset.filter(status=InvoiceStatus.UNPAID, due_at__lt=timezone.now())


class OrderFilterSet(django_filters.FilterSet):
    """``/admin/orders/``: status and customer."""

    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=OrderStatus.choices, empty_label=_("Any status")
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.all(),
        label=_("Customer id"),
        widget=forms.NumberInput(attrs={"min": 1}),
        error_messages={"invalid_choice": _("No customer has this id.")},
    )

    class Meta:
        model = Order
        fields = ["status", "customer"]
        form = StyledForm


class PaymentFilterSet(django_filters.FilterSet):
    """``/admin/payments/``: gateway, and a search by reference or invoice number."""

    q = SearchFilter(label=_("Search"), method="filter_search")
    gateway = django_filters.ChoiceFilter(
        label=_("Gateway"), choices=gateway_choices, empty_label=_("Any gateway")
    )

    class Meta:
        model = Payment
        fields = ["q", "gateway"]
        form = StyledForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.attrs["placeholder"] = _("Reference or invoice number")

    def filter_search(
        self, queryset: QuerySet[Payment], name: str, value: str
    ) -> QuerySet[Payment]:
        term = clean_search_term(value)
        if not term:
            return queryset
        return queryset.filter(Q(reference__icontains=term) | Q(invoice__number__icontains=term))
