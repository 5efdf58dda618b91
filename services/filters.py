"""The filters, search and sort orders of the staff service list.

One FilterSet serves three callers, so that they can never disagree about what "the
services matching these filters" means: the list page, the export, and the bulk actions'
"every matching service", which runs the filters again on the server rather than
trusting ids sent by the browser (NetBox bulk views). ``filter_services`` is the entry
point for all three.

Everything here must stay fast at a million services on PostgreSQL:

* an id or uuid typed in the search box is an exact, indexed lookup and nothing else;
* the text search looks customers and products up in their own (small) tables first,
  once, by trigram indexes, and matches services by indexed foreign key
  (``customer_id IN (...)``) or by the pg_trgm index on the service's ``UPPER(name)``;
* every filter maps onto an indexed column or a small related table.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import django_filters
import django_filters.fields
from django import forms
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connections
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.forms.utils import ErrorDict
from django.http import QueryDict
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clientxcms.forms import StyledForm, style_widgets
from clientxcms.queries import ChoiceLiteral
from clientxcms.text import SearchFilter, clean_search_term
from customers.models import Customer, User
from delivery.models import Server
from delivery.registry import module_choices
from products.choices import BillingCycle
from products.models import Product

from .choices import ServiceStatus
from .models import Service
from .pagination import order_expressions

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

VIEW_PERMISSION = "services.view_service"
SEARCH_MAX_LENGTH = 200
#: The most customers a search writes into its query by id (see ``search_services``).
CUSTOMER_IDS = 10_000
#: The largest id PostgreSQL's bigint holds; a longer number is not an id.
MAX_ID = 2**63 - 1


# Sort orders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SortColumn:
    """A sortable column: the value of ``?sort=`` and the model fields it orders by."""

    key: str
    label: StrOrPromise
    fields: tuple[str, ...]


SORT_COLUMNS = {
    column.key: column
    for column in (
        SortColumn("id", "ID", ("id",)),
        SortColumn("name", gettext_lazy("Name"), ("name",)),
        SortColumn(
            "customer", gettext_lazy("Customer"), ("customer__last_name", "customer__first_name")
        ),
        SortColumn("product", gettext_lazy("Product"), ("product__name",)),
        SortColumn("server", gettext_lazy("Server"), ("server__name",)),
        SortColumn("status", gettext_lazy("Status"), ("status",)),
        SortColumn("price", gettext_lazy("Price"), ("price",)),
        SortColumn("expires", gettext_lazy("Expiration"), ("expires_at",)),
        SortColumn("created", gettext_lazy("Created"), ("created_at",)),
    )
}
DEFAULT_SORT = "-id"


def _sort_label(column: SortColumn, descending: bool) -> str:
    """A sort order in the menu, in the reader's language."""
    if descending:
        return _("%(column)s (descending)") % {"column": column.label}
    return _("%(column)s (ascending)") % {"column": column.label}


SORT_CHOICES = [
    (prefix + key, lazy(_sort_label, str)(column, bool(prefix)))
    for key, column in SORT_COLUMNS.items()
    for prefix in ("", "-")
]


def ordering_for(sort: str) -> list[str]:
    """The ``order_by`` fields of a ``?sort=`` value, ending with the id as a tiebreak.

    The tiebreak goes the same way as the column, so that the order is total (a stable
    page boundary for keyset pagination) and "newest first" stays newest first.
    """
    descending = sort.startswith("-")
    column = SORT_COLUMNS[sort.removeprefix("-")]
    prefix = "-" if descending else ""
    fields = [prefix + field for field in column.fields if field != "id"]
    return [*fields, f"{prefix}id"]


# Search ------------------------------------------------------------------------------------


def parse_identifier(term: str) -> int | uuid.UUID | None:
    """The service id (``42`` or ``#42``) or uuid that ``term`` is, if it is one."""
    term = term.strip()
    digits = term.removeprefix("#")
    if digits.isascii() and digits.isdigit():
        number = int(digits)
        return number if 0 < number <= MAX_ID else None
    if len(term) in {32, 36}:
        try:
            return uuid.UUID(term)
        except ValueError:
            return None
    return None


class AnyOf(Func):
    """``column IN (ids)`` with the ids as one array parameter on PostgreSQL: a search can
    write thousands of customer ids into its query, and one parameter is adapted at once
    where thousands are each formatted.

    A few ids are ``column = ANY(%s)``, which an index answers (and a bitmap combines with
    the other arms of the search's ``OR``). Many are ``column IN (SELECT unnest(%s))``, a
    hashed lookup per row: the planner costs ``= ANY`` as one comparison per element, so
    with thousands of ids it would rather read every match by the index (123,000 for
    "Dubois" at a million services, 41 ms) than read the newest services in order and
    stop at the page's or the capped count's end (a few thousand, a few ms).
    """

    output_field = BooleanField()
    conditional = True
    #: Up to this many ids, ``= ANY``; beyond, the hashed ``IN``.
    INDEXED = 1_000

    def __init__(self, column: str, ids: MatchedIds) -> None:
        super().__init__(F(column))
        self.ids = ids

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        if not self.ids.count:
            raise EmptyResultSet  # an OR drops this arm; alone, nothing matches
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            array = [*params, self.ids.as_array()]
            if self.ids.count <= self.INDEXED:
                return f"{column} = ANY(%s::bigint[])", array
            return f"{column} IN (SELECT unnest(%s::bigint[]))", array
        marks = ", ".join(["%s"] * self.ids.count)
        return f"{column} IN ({marks})", [*params, *self.ids.as_list()]


@dataclass(frozen=True)
class MatchedIds:
    """Ids as the database listed them: their number and their text, comma-separated.

    They go back to PostgreSQL as one array literal, so that thousands of customer ids
    (6,170 for a common name at 50,000 customers) are never made Python integers, nor
    dumped again one by one: 3 ms a query, twice a search.
    """

    count: int
    text: str

    def as_array(self) -> str:
        return f"{{{self.text}}}"

    def as_list(self) -> list[int]:
        return [int(pk) for pk in self.text.split(",")] if self.count else []


def _customer_matches(term: str) -> QuerySet[Customer, Any]:
    """The customers ``term`` finds: each word in a name, the company or the e-mail (all
    words for "bob owner"), an e-mail (a term with "@") in the e-mail only.

    Each table is matched on its own, through the trigram indexes of migration
    ``services/0009`` on PostgreSQL: the customers' names and company in one bitmap, the
    users' e-mails in another, joined by the customers' unique user index. An ``OR``
    across the join of the two tables would read every customer.
    """
    if "@" in term:
        # No name or company has an "@": only the e-mails are searched.
        users = User.objects.filter(email__icontains=term).values("pk")
        return Customer.objects.filter(user__in=users)
    per_word = []
    for word in term.split():
        by_name = Customer.objects.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company__icontains=word)
        )
        users = User.objects.filter(email__icontains=word).values("pk")
        by_email = Customer.objects.filter(user__in=users)
        per_word.append(by_name.order_by().values("pk").union(by_email.order_by().values("pk")))
    if len(per_word) == 1:
        # Most searches: the union as it is. (Wrapped in "pk IN (...)", PostgreSQL hashed
        # it against every customer: 27 ms at 50,000.)
        return per_word[0]
    customers = Customer.objects.all()
    for words in per_word:
        customers = customers.filter(pk__in=words)
    return customers


def _probe(
    products: QuerySet[Product], customers: QuerySet[Customer, Any]
) -> tuple[MatchedIds, MatchedIds]:
    """The ids of ``products`` and of at most ``CUSTOMER_IDS + 1`` of ``customers``, in one
    query: two derived tables under a ``UNION ALL``, tagged 0 and 1, each one row of its
    count and its ids joined by commas.

    (Django cannot express a ``LIMIT`` inside one arm of a ``UNION`` on SQLite; a derived
    table can, on both databases.)
    """
    arms = [products.order_by().values_list("pk"), customers.order_by().values_list("pk")]
    arms[1] = arms[1][: CUSTOMER_IDS + 1]
    connection = connections[arms[0].db]
    joined = (
        "string_agg(matched.pk::text, ',')"
        if connection.vendor == "postgresql"
        else "group_concat(matched.pk, ',')"
    )
    parts, params = [], []
    for tag, arm in enumerate(arms):
        try:
            sql, arm_params = arm.query.get_compiler(using=arm.db).as_sql()
        except EmptyResultSet:  # .none(): nothing to ask
            continue
        parts.append(f"SELECT {tag} AS tag, COUNT(*), {joined} FROM ({sql}) AS matched")
        params.extend(arm_params)
    found = dict.fromkeys(range(len(arms)), MatchedIds(0, ""))
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for tag, count, text in cursor.fetchall():
                found[tag] = MatchedIds(count, text or "")
    return found[0], found[1]


def search_services(queryset: QuerySet[Service], term: str) -> QuerySet[Service]:
    """Services whose id, uuid, name, product name, or customer name or e-mail match.

    An id or uuid is exact and short-circuits the text search: it is one index lookup,
    and a person who pastes an id means that service. (Digits that are no service's id
    are searched as text, so "2024" still finds "Backup 2024".) Customers and products
    are matched once, in their own tables, by one query that returns their ids
    (``_probe``); the services are then one ``OR`` over the services' own columns with
    those ids written in: ``customer_id IN (...)`` (the customer index), ``product_id IN
    (...)`` and the name's trigram index. Each arm can be read by an index, so PostgreSQL
    chooses from its estimates: a bitmap of the few matches for a rare term, the newest
    services read in order for a common one (the first page stops early), and the page and
    its capped count never match the customers again. A term matching more than
    ``CUSTOMER_IDS`` customers keeps them as a subquery (such a term is dense, and the
    services read in order meet matches at once). See docs/performance.md.
    """
    term = clean_search_term(term)
    if not term:
        return queryset
    identifier = parse_identifier(term)
    if isinstance(identifier, uuid.UUID):
        return queryset.filter(uuid=identifier)
    if identifier is not None and Service.objects.filter(pk=identifier).exists():
        return queryset.filter(pk=identifier)

    customers = _customer_matches(term)
    if "@" in term:
        # An e-mail address: no service or product name has one.
        products = Product.objects.none()
    else:
        products = Product.objects.filter(name__icontains=term)
    product_ids, customer_ids = _probe(products, customers)
    by_customer = (
        Q(customer__in=customers.order_by().values("pk"))
        if customer_ids.count > CUSTOMER_IDS
        else Q(AnyOf("customer_id", customer_ids))
    )
    if "@" in term:
        return queryset.filter(by_customer)
    by_product = Q(product_id__in=product_ids.as_list())
    return queryset.filter(by_customer | by_product | Q(name__icontains=term))


# The FilterSet -----------------------------------------------------------------------------


def _start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the current time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


#: The dates a filter accepts: a day later and a time-zone shift away stay representable.
FIRST_FILTER_DATE = dt.date(1900, 1, 1)
LAST_FILTER_DATE = dt.date(9998, 12, 31)


class FilterDateField(forms.DateField):
    """A date between 1900 and 9998: beyond, "the next midnight" overflows Python's dates.

    ``9999-12-31`` is a valid date, but the filters look for what falls before the day
    after it; refusing it here makes it a form error rather than an ``OverflowError``.
    """

    def clean(self, value: Any) -> dt.date | None:
        day = super().clean(value)
        if day is not None and not FIRST_FILTER_DATE <= day <= LAST_FILTER_DATE:
            raise forms.ValidationError(
                _("Choose a date between %(first)s and %(last)s.")
                % {
                    "first": f"{FIRST_FILTER_DATE:%Y-%m-%d}",
                    "last": f"{LAST_FILTER_DATE:%Y-%m-%d}",
                },
                code="out_of_range",
            )
        return day


class DateFilter(django_filters.DateFilter):
    field_class = FilterDateField


class ServiceFilterForm(StyledForm):
    """Checks what no single field can: that each range runs forwards."""

    RANGES = (
        (
            "expires_after",
            "expires_before",
            gettext_lazy("The expiration range ends before it starts."),
        ),
        (
            "created_after",
            "created_before",
            gettext_lazy("The creation range ends before it starts."),
        ),
        ("price_min", "price_max", gettext_lazy("The minimum price is above the maximum price.")),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean() returns, typed as never None
        for low, high, message in self.RANGES:
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, message)
        return data


class ListedModelChoiceIterator(django_filters.fields.ModelChoiceIterator):
    """A menu's rows read by one ordinary query.

    Django's iterator reads them with ``QuerySet.iterator()``, a server-side cursor on
    PostgreSQL: DECLARE, FETCH and CLOSE, round trips that took about 1.5 ms more than the
    query for the few dozen products or servers of the list's filter menus.
    """

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ListedModelChoiceField(django_filters.fields.ModelChoiceField):
    iterator = ListedModelChoiceIterator


class ListedModelChoiceFilter(django_filters.ModelChoiceFilter):
    """A filter by a row of a small table (products, servers), its menu read at once."""

    field_class = ListedModelChoiceField


def _yes_no_widget() -> forms.Select:
    """Any / Yes / No, in the values NullBooleanField reads (Django says "Unknown")."""
    return forms.Select(
        choices=[
            ("", gettext_lazy("Any")),
            ("true", gettext_lazy("Yes")),
            ("false", gettext_lazy("No")),
        ]
    )


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FiltersCopiedOneLevel(dict[str, django_filters.Filter]):
    """A filter set's declared filters, which django-filter deep-copies for each filter set
    it builds (``copy.deepcopy(self.base_filters)``): 0.33 ms of every list page, spent
    copying what no request changes: querysets, choices, widgets, lazy labels.

    Copied one level down instead: each filter anew, so that what a filter set sets on its
    own (``parent``, ``model``) stays its own, and a filter's method is bound to its copy.
    What the filters hold is shared, as nothing changes it: a filter builds its form field
    from a copy of its arguments, and the field copies its widget and clones its queryset.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, django_filters.Filter]:
        return {name: _copy_of_filter(original) for name, original in self.items()}


def _copy_of_filter(original: django_filters.Filter) -> django_filters.Filter:
    copied = copy.copy(original)
    if original.method is not None:
        # Setting it binds a new FilterMethod to the copy (the original's calls its own).
        copied.method = original.method
    return copied


class SharedFields(dict[str, forms.Field]):
    """The filter form class's fields, shared by every form it builds instead of the deep
    copy Django makes for each (``copy.deepcopy(self.base_fields)``): copying the widgets,
    choices and querysets of seventeen fields was 1.8M of 32M instructions of a list page
    at a million services.

    Sharing is safe because no form changes them once the class is built: they are styled
    on the class (``ServiceFilterSet.get_form_class``), a field with errors is marked as it
    is rendered (``clientxcms.forms.InvalidMarkingBoundField``), and no filter sets a
    field's choices or queryset per form. A model choice field still reads its queryset
    anew each time its choices are shown. What is each form's own stays its own: its data,
    errors, cleaned data and bound fields.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return dict(self)


class ServiceFilterSet(django_filters.FilterSet):
    """Every filter of the staff service list; the parameter names are the URL's."""

    q = SearchFilter(
        label=gettext_lazy("Search"),
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text=gettext_lazy(
            "Customer name or e-mail, service id or uuid, service or product name."
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        choices=ServiceStatus.choices,
        label=gettext_lazy("Status"),
        widget=forms.CheckboxSelectMultiple,
        method="filter_status",
    )
    # The menus read names only (a menu option is the row's name): for servers, loading
    # the credentials would decrypt each server's.
    product = ListedModelChoiceFilter(
        queryset=Product.objects.only("name").order_by("name", "id"),
        label=gettext_lazy("Product"),
        null_label=gettext_lazy("Custom service (no product)"),
        empty_label=gettext_lazy("Any product"),
    )
    server = ListedModelChoiceFilter(
        queryset=Server.objects.only("name").order_by("name", "id"),
        label=gettext_lazy("Server"),
        null_label=gettext_lazy("No server"),
        empty_label=gettext_lazy("Any server"),
    )
    module = django_filters.ChoiceFilter(
        label=gettext_lazy("Module type"),
        choices=module_choices,
        empty_label=gettext_lazy("Any type"),
    )
    cycle = django_filters.ChoiceFilter(
        field_name="billing_cycle",
        label=gettext_lazy("Billing cycle"),
        choices=BillingCycle.choices,
        empty_label=gettext_lazy("Any cycle"),
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.all(),
        label=gettext_lazy("Customer id"),
        widget=forms.NumberInput(attrs={"min": 1}),
        error_messages={"invalid_choice": gettext_lazy("No customer has this id.")},
    )
    expires_after = DateFilter(
        label=gettext_lazy("Expires from"), method="filter_expires_after", widget=_date_widget()
    )
    expires_before = DateFilter(
        label=gettext_lazy("Expires until"), method="filter_expires_before", widget=_date_widget()
    )
    expires_within = IntegerFilter(
        label=gettext_lazy("Expires within (days)"),
        method="filter_expires_within",
        min_value=0,
        max_value=3650,
    )
    created_after = DateFilter(
        label=gettext_lazy("Created from"), method="filter_created_after", widget=_date_widget()
    )
    created_before = DateFilter(
        label=gettext_lazy("Created until"), method="filter_created_before", widget=_date_widget()
    )
    price_min = django_filters.NumberFilter(
        field_name="price",
        lookup_expr="gte",
        label=gettext_lazy("Price from"),
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
    )
    price_max = django_filters.NumberFilter(
        field_name="price",
        lookup_expr="lte",
        label=gettext_lazy("Price up to"),
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
    )
    delivery_error = django_filters.BooleanFilter(
        label=gettext_lazy("Delivery error"),
        method="filter_delivery_error",
        widget=_yes_no_widget(),
    )
    scheduled_cancellation = django_filters.BooleanFilter(
        label=gettext_lazy("Scheduled cancellation"),
        field_name="cancel_at",
        lookup_expr="isnull",
        exclude=True,
        widget=_yes_no_widget(),
    )
    sort = django_filters.ChoiceFilter(
        label=gettext_lazy("Sort by"), choices=SORT_CHOICES, method="filter_sort", empty_label=None
    )

    class Meta:
        model = Service
        fields: list[str] = []
        form = ServiceFilterForm

    @classmethod
    def get_filters(cls) -> FiltersCopiedOneLevel:
        """The declared filters, which each filter set copies one level down."""
        return FiltersCopiedOneLevel(super().get_filters())

    #: The form class its filters make, built once: see ``get_form_class``.
    _form_class: type[forms.Form] | None = None

    def get_form_class(self) -> type[forms.Form]:
        """The form class, built once per process rather than on every request.

        django-filter builds a class of new fields from the filters each time, a tenth of
        the list page's time; nothing in them depends on the request (labels and choices
        are lazy, translated when shown). The fields are styled here, once, and shared by
        every form (``SharedFields``).
        """
        cls = type(self)
        if cls._form_class is None:
            form_class = super().get_form_class()
            style_widgets(form_class.base_fields.values())
            form_class.base_fields = SharedFields(form_class.base_fields)
            cls._form_class = form_class
        return cls._form_class

    @property
    def sort_value(self) -> str:
        """The validated ``?sort=``, or the default order."""
        if self.is_bound and self.is_valid():
            return self.form.cleaned_data.get("sort") or DEFAULT_SORT
        return DEFAULT_SORT

    def filter_queryset(self, queryset: QuerySet[Service]) -> QuerySet[Service]:
        ordering = order_expressions(Service, ordering_for(self.sort_value))
        return super().filter_queryset(queryset).order_by(*ordering)

    def filter_sort(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet:
        # The order is applied last, by filter_queryset, whether or not ?sort= is given.
        return queryset

    def filter_status(self, queryset: QuerySet[Service], name: str, value: list[str]) -> QuerySet:
        # Written into the query's text, so that each status tab's page is planned once
        # per connection rather than on every request (clientxcms.queries.ChoiceLiteral).
        statuses = [ChoiceLiteral(status, ServiceStatus.values) for status in value]
        return queryset.filter(status__in=statuses)

    def filter_search(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet:
        return search_services(queryset, value)

    def filter_expires_after(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(expires_at__gte=_start_of_day(value))

    def filter_expires_before(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        # The end date is included: everything before the next midnight.
        return queryset.filter(expires_at__lt=_start_of_day(value + dt.timedelta(days=1)))

    def filter_expires_within(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        now = timezone.now()
        return queryset.filter(expires_at__gte=now, expires_at__lte=now + dt.timedelta(days=value))

    def filter_created_after(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__gte=_start_of_day(value))

    def filter_created_before(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__lt=_start_of_day(value + dt.timedelta(days=1)))

    def filter_delivery_error(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.exclude(last_delivery_error="")
        return queryset.filter(last_delivery_error="")


# Entry points ------------------------------------------------------------------------------


class InvalidFilters(ValueError):
    """The filters do not validate; ``errors`` says why, field by field.

    Raised rather than ignoring the bad field, which would widen the selection: a bulk
    action must never reach more services than the person saw.
    """

    def __init__(self, errors: ErrorDict) -> None:
        super().__init__(errors.as_text())
        self.errors = errors


def service_filterset(params: QueryDict, *, user: User | None) -> ServiceFilterSet:
    """The bound FilterSet of ``params``, for a staff member who may view services.

    The list page uses it directly to show the form and its errors; other callers use
    ``filter_services``.
    """
    if user is None or not (user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION)):
        raise PermissionDenied("Viewing services needs the services.view_service permission.")
    return ServiceFilterSet(params, queryset=Service.objects.all())


def filter_services(params: QueryDict, *, user: User | None) -> QuerySet[Service]:
    """The services matching ``params`` (a list page's query string), in its sort order.

    Used by the list, the export and the bulk actions' "every matching service". Raises
    ``PermissionDenied`` if ``user`` (None: a deleted account) may not view services, and
    ``InvalidFilters`` if the parameters do not validate. Unknown parameters (``cursor``,
    ``per_page``, ``format``) are ignored. No ``select_related``: callers add what they
    show, and a bulk action that locks rows must not lock the customers and products
    joined to them.
    """
    filterset = service_filterset(params, user=user)
    if not filterset.is_valid():
        raise InvalidFilters(filterset.errors)
    return filterset.qs
