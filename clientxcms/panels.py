"""What one app shows on another app's pages, without the page importing that app.

DESIGN.md §3: customers, products and delivery know nothing of services, yet the
customer, product and server pages show services. So a page of a lower app asks this
registry what has been registered for its model (``"customer"``, ``"product"``,
``"server"``) and renders it; the upper app registers its contributions in its
``AppConfig.ready()``. It is the idea of NetBox's ``register_model_view``/``ViewTab``,
cut to what the pages need:

* a ``Panel`` is a card on an object's details page: a template and the context it needs;
* a ``Column`` is a column of a list page: a header and a template for each row's cell;
* a ``ListFilter`` is a filter of a list page's FilterSet.

A panel or column may add ``annotations`` to the page's own queryset, so that its figures
arrive in the query that reads the page's rows rather than one query per row: the page's
query count is the same as if it computed them itself. Each contribution may need a
permission; without it, it is neither shown nor queried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import django_filters
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

#: Builds annotations for a page's queryset: ``{name: expression}``, made anew on each call.
Annotations = Callable[[], dict[str, Any]]
#: Builds the extra context of a panel, or of a column's cell, from the object shown.
ContextBuilder = Callable[[Any], dict[str, Any]]


class _PermissionHolder(Protocol):
    def has_perm(self, perm: str, obj: Any = None) -> bool: ...


@dataclass(frozen=True)
class Panel:
    """A card on the details page of ``model``, rendered from ``template``.

    The template receives the object as ``object`` and under the model's name (so
    ``customer`` on the customer page), the panel as ``panel``, and ``context(object)``.
    """

    model: str
    key: str
    label: str
    template: str
    order: int = 100
    permission: str | None = None
    context: ContextBuilder | None = None
    annotations: Annotations | None = None


@dataclass(frozen=True)
class Column:
    """A column of the list page of ``model``: ``label`` (and a ``note`` in smaller type)
    as its header, ``template`` for each row's ``<td>``.

    The cell template receives the row as ``object`` and under the model's name, the
    column as ``column``, and ``context(row)``.
    """

    model: str
    key: str
    label: str
    template: str
    order: int = 100
    permission: str | None = None
    note: str = ""
    header_class: str = ""
    context: ContextBuilder | None = None
    annotations: Annotations | None = None
    #: The name of one of its ``annotations``, a boolean: rows where it is true are listed
    #: first (the client tables put services with an unpaid invoice first this way).
    first_when: str = ""


@dataclass(frozen=True)
class ListFilter:
    """A filter added, under ``key``, to the FilterSet of the list page of ``model``.

    ``build`` makes a fresh ``django_filters.Filter`` for each FilterSet; a method filter
    passes a callable as ``method``, since the FilterSet it joins has no method for it.
    """

    model: str
    key: str
    build: Callable[[], django_filters.Filter]
    order: int = 100
    permission: str | None = None


#: The slot of the client area's home page (``/client/``), beside the staff pages' model
#: names: its panels receive the signed-in customer as ``object``. A customer holds no
#: permission, so these panels set none, and each shows that customer's own data only.
CLIENT_HOME = "client_home"
#: The slot of a customer's service page (``/client/services/<pk>/``): its panels receive
#: the service as ``object``, already found among the signed-in customer's own.
CLIENT_SERVICE = "client_service"
#: The columns of the client area's service tables (home and all services): each cell
#: receives one of the signed-in customer's services as ``object``.
CLIENT_SERVICE_ROWS = "client_service_rows"

Contribution = TypeVar("Contribution", Panel, Column, ListFilter)
_registry: dict[type, dict[tuple[str, str], Any]] = {Panel: {}, Column: {}, ListFilter: {}}


def register(contribution: Panel | Column | ListFilter) -> None:
    """Add a panel, column or filter; a second one with the same model and key is a bug."""
    entries = _registry[type(contribution)]
    name = (contribution.model, contribution.key)
    if name in entries:
        raise ImproperlyConfigured(
            f"A {type(contribution).__name__} {contribution.key!r} is already registered "
            f"for {contribution.model!r}."
        )
    entries[name] = contribution


def unregister(contribution: Panel | Column | ListFilter) -> None:
    """Remove a contribution (tests that register their own clean up with this)."""
    _registry[type(contribution)].pop((contribution.model, contribution.key), None)


def _visible(kind: type[Contribution], model: str, user: _PermissionHolder) -> list[Contribution]:
    entries = [
        entry
        for (entry_model, _), entry in _registry[kind].items()
        if entry_model == model and (entry.permission is None or user.has_perm(entry.permission))
    ]
    return sorted(entries, key=lambda entry: (entry.order, entry.key))


def panels_for(model: str, user: _PermissionHolder) -> list[Panel]:
    """The panels of ``model``'s details page that ``user`` may see, in order."""
    return _visible(Panel, model, user)


def columns_for(model: str, user: _PermissionHolder) -> list[Column]:
    """The extra columns of ``model``'s list page that ``user`` may see, in order."""
    return _visible(Column, model, user)


def filters_for(model: str, user: _PermissionHolder) -> list[ListFilter]:
    """The extra filters of ``model``'s list page that ``user`` may use, in order."""
    return _visible(ListFilter, model, user)


def annotate(queryset: QuerySet[Any], contributions: Iterable[Panel | Column]) -> QuerySet[Any]:
    """``queryset`` with the annotations of ``contributions``, in the page's one query."""
    annotations: dict[str, Any] = {}
    for contribution in contributions:
        if contribution.annotations is not None:
            annotations.update(contribution.annotations())
    return queryset.annotate(**annotations) if annotations else queryset


def add_filters(filterset: django_filters.FilterSet, filters: Iterable[ListFilter]) -> None:
    """Join ``filters`` to a FilterSet built with ``filterset.__init__``, before its form
    is first read (the form is made from ``filterset.filters`` on first access)."""
    for entry in filters:
        added = entry.build()
        added.model = filterset.queryset.model
        added.parent = filterset
        filterset.filters[entry.key] = added


@dataclass(frozen=True)
class _Rendered:
    """A panel or cell bound to its object: the template renders it with ``{{ it }}``."""

    template: str
    context: dict[str, Any]
    request: HttpRequest | None

    def __html__(self) -> SafeString:
        return render_to_string(self.template, self.context, request=self.request)

    def __str__(self) -> str:
        return self.__html__()


def _context(
    contribution: Panel | Column, obj: Model, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    built = contribution.context(obj) if contribution.context is not None else {}
    return {**built, **(extra or {}), "object": obj, contribution.model: obj}


def bind_panels(panels: Iterable[Panel], obj: Model, request: HttpRequest) -> list[_Rendered]:
    """``panels`` ready for ``{{ panel }}`` in the details page of ``obj``.

    Their context is built now, and their querysets, left lazy, run as the page renders
    them, one query each.
    """
    return [
        _Rendered(panel.template, _context(panel, obj, {"panel": panel}), request)
        for panel in panels
    ]


def bind_cells(columns: Iterable[Column], rows: Iterable[Model], request: HttpRequest) -> None:
    """Give each of ``rows`` its ``panel_cells``, one per column, for ``{{ cell }}``."""
    columns = list(columns)
    for row in rows:
        row.panel_cells = [  # type: ignore[attr-defined]
            _Rendered(column.template, _context(column, row, {"column": column}), request)
            for column in columns
        ]


class PanelColumnsMixin:
    """For a ``ListView`` of ``panel_model``: the registered columns' annotations on its
    queryset (through ``get_queryset``, which subclasses call as usual) and their cells
    on the page's rows; the template renders ``components/panel_headers.html`` and each
    row's ``panel_cells``."""

    panel_model: str
    request: HttpRequest

    @property
    def panel_columns(self) -> list[Column]:
        if not hasattr(self, "_panel_columns"):
            self._panel_columns = columns_for(self.panel_model, self.request.user)
        return self._panel_columns

    def annotate_for_panels(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return annotate(queryset, self.panel_columns)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        bind_cells(self.panel_columns, context["object_list"], self.request)
        context["panel_columns"] = self.panel_columns
        return context
