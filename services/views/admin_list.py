"""``/admin/services/``: the staff service list, its status tabs, filters and pages.

Built to cost the same on every page at a million services (DESIGN.md, "Data and
scale"): one query for the rows, with every column joined in; keyset pages instead of
``OFFSET``; the status tabs' counts kept by the database (``services.stats``); and the
"matching" count bounded, so nothing counts the whole table on every view. htmx requests
(sorting, paging) get only the results fragment, NetBox style.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.validators import EMPTY_VALUES
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from clientxcms.access import StaffRequiredMixin, signed_in_user
from clientxcms.text import parse_id
from services.choices import BulkAction, ServiceStatus
from services.export import XLSX_MAX_ROWS
from services.filters import (
    SORT_COLUMNS,
    ServiceFilterSet,
    ordering_for,
    parse_identifier,
    service_filterset,
)
from services.pagination import InvalidCursor, KeysetPage, KeysetPaginator
from services.stats import status_counts

#: The columns the rows show and sort by (``services.filters.SORT_COLUMNS``), and the
#: uuid a search can name: only these are read, as values (``QuerySet.values``), the
#: customer, user, product and server joined in the page's one query whatever its size.
#: The other columns (the servers' encrypted credentials, the customers' addresses, the
#: users' password hashes) would be fetched for nothing, and building five model objects
#: per row took longer than the query (1.4 ms of a first page at a million).
LIST_FIELDS = (
    *("id", "uuid", "name", "status", "price", "currency", "billing_cycle"),
    *("expires_at", "created_at", "cancel_at", "last_delivery_error"),
    *("customer__first_name", "customer__last_name", "customer__user__email"),
    *("product__name", "server__name"),
)
PAGE_SIZES = (25, 50, 100)
#: "Select all N matching" counts at most this many; beyond, it says "more than". (The
#: bulk confirmation page gives the exact number.) Counting stops at the cap, but a filter
#: that matches fewer rows still reads every candidate, so the cap is kept small.
MATCHING_COUNT_CAP = 1_000
#: Parameters that the status tabs' counts already answer for.
COUNTED_BY_TABS = {"status", "sort"}
#: The filter panel's fields, in order: one per cell, then the ranges (label, from, to).
FILTER_CELLS = (
    "product",
    "server",
    "module",
    "cycle",
    "customer",
    "delivery_error",
    "scheduled_cancellation",
    "expires_within",
)
RANGE_FILTERS = (
    (gettext_lazy("Expiration between"), "expires_after", "expires_before"),
    (gettext_lazy("Created between"), "created_after", "created_before"),
    (gettext_lazy("Price between"), "price_min", "price_max"),
)


@dataclass(frozen=True)
class Matching:
    """How many services match the filters; ``more`` when counting stopped at ``count``;
    ``deferred`` when the page asks for the count in a second request (``fragment=matching``).

    Its two sentences are written here rather than in templates: the table and the count's
    fragment say the same, and an include per sentence cost the page a millisecond.
    """

    count: int
    more: bool = False
    deferred: bool = False

    def select_all_label(self) -> str:
        """The bulk form's "Select all N matching services"."""
        if self.deferred:
            return _("Select all matching services")
        number = intcomma(self.count)
        if self.more:
            return ngettext(
                "Select all more than %(number)s matching service",
                "Select all more than %(number)s matching services",
                self.count,
            ) % {"number": number}
        return ngettext(
            "Select all %(number)s matching service",
            "Select all %(number)s matching services",
            self.count,
        ) % {"number": number}

    def range(self, start: int, end: int) -> str:
        """The page's place among them: "26–50 of 1,234"."""
        numbers = {"start": intcomma(start), "end": intcomma(end), "total": intcomma(self.count)}
        if self.deferred:
            return _("%(start)s–%(end)s of …") % numbers
        if self.more:
            return _("%(start)s–%(end)s of more than %(total)s") % numbers
        return _("%(start)s–%(end)s of %(total)s") % numbers


def filter_cells(filterset: ServiceFilterSet) -> dict[str, Any]:
    """The filter panel's fields besides the statuses, for ``_filter_cells.html``.

    The panel opens with the page when a filter is set (or wrong); folded, its fields are
    asked for when it is opened: writing their widgets and reading the product and server
    menus took 1.7 ms of a first page's 13 at a million services, for a panel most views
    never open.
    """
    form = filterset.form
    return {
        "filter_fields": [form[name] for name in FILTER_CELLS],
        "range_filters": [(label, form[low], form[high]) for label, low, high in RANGE_FILTERS],
    }


def filter_error_messages(filterset: ServiceFilterSet) -> list[str]:
    """Each filter error as "Label: message", for the alert above the table."""
    form = filterset.form
    return [
        _("%(field)s: %(error)s") % {"field": form.fields[name].label, "error": error}
        if name in form.fields
        else error
        for name, errors in filterset.errors.items()
        for error in errors
    ]


class ServiceListView(StaffRequiredMixin, View):
    """The table of services: tabs per status, filters, sorting, keyset pages, bulk form."""

    permission_required = "services.view_service"
    template_name = "services/admin/list.html"
    fragment_template_name = "services/admin/_table.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = service_filterset(request.GET, user=signed_in_user(request))
        if request.GET.get("fragment") == "matching":
            return self._matching_fragment(request, filterset)
        if request.GET.get("fragment") == "filters":
            return render(request, "services/admin/_filter_cells.html", filter_cells(filterset))
        per_page = self._per_page(request)
        page, matching = None, Matching(0)
        if filterset.is_valid():
            page = self._page(request, filterset, per_page)
            redirect = self._exact_match_redirect(request, filterset, page)
            if redirect:
                return redirect
            matching = self._matching(filterset, page)
        context = self._context(request, filterset, page, per_page, matching)
        if request.headers.get("HX-Request") == "true":
            return render(request, self.fragment_template_name, context)
        return render(request, self.template_name, context)

    @cached_property
    def _status_counts(self) -> list[dict[str, Any]]:
        """The counts per status the database keeps (``services.stats``): exact, one small
        query, read once per request for the tabs and for "N matching"."""
        return status_counts()

    def _per_page(self, request: HttpRequest) -> int:
        value = parse_id(request.GET.get("per_page"))
        return value if value in PAGE_SIZES else PAGE_SIZES[0]

    def _page(self, request: HttpRequest, filterset: ServiceFilterSet, per_page: int) -> KeysetPage:
        # (Among the columns left out, the servers' credentials are encrypted: loading
        # them would decrypt one per row.)
        ordering = ordering_for(filterset.sort_value)
        paginator = KeysetPaginator(filterset.qs, ordering, per_page, columns=LIST_FIELDS)
        try:
            return paginator.page(request.GET.get("cursor"))
        except InvalidCursor:
            messages.warning(
                request, _("That page link is no longer valid; here is the first page.")
            )
            return paginator.page()

    def _exact_match_redirect(
        self, request: HttpRequest, filterset: ServiceFilterSet, page: KeysetPage
    ) -> HttpResponse | None:
        """Straight to the service when the search is its id or uuid and it alone matches."""
        identifier = parse_identifier(filterset.form.cleaned_data.get("q") or "")
        if identifier is None or len(page.rows) != 1 or page.has_next or page.has_previous:
            return None
        service = page.rows[0]
        if identifier not in (service["id"], service["uuid"]):
            return None
        url = reverse("admin:service_detail", kwargs={"pk": service["id"]})
        if request.headers.get("HX-Request") == "true":
            # A plain redirect would swap the whole detail page into the table.
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    def _matching(self, filterset: ServiceFilterSet, page: KeysetPage) -> Matching:
        """How many services match: free when they fit on one page or when only statuses
        are chosen (the tabs' counts say it), otherwise counted up to the cap in a second
        request, once the rows are on the screen (a search for a common name spends a
        fifth of its time counting)."""
        if not page.has_next and not page.has_previous:
            return Matching(len(page.rows))
        data = filterset.form.cleaned_data
        if all(data[name] in EMPTY_VALUES for name in data.keys() - COUNTED_BY_TABS):
            statuses = set(data.get("status") or ServiceStatus.values)
            rows = self._status_counts
            return Matching(sum(row["count"] for row in rows if row["status"] in statuses))
        return Matching(0, deferred=True)

    def _matching_fragment(self, request: HttpRequest, filterset: ServiceFilterSet) -> HttpResponse:
        """``fragment=matching``: the count the page deferred, counted up to the cap, as the
        page's range ("26–50 of 1,000") and, out of band, its "Select all" label."""
        if not filterset.is_valid():
            return HttpResponse(status=400)
        counted = filterset.qs.order_by().values("pk")[: MATCHING_COUNT_CAP + 1].count()
        matching = Matching(min(counted, MATCHING_COUNT_CAP), more=counted > MATCHING_COUNT_CAP)
        start = parse_id(request.GET.get("start")) or 1
        context = {
            "matching": matching,
            "result_range": matching.range(start, parse_id(request.GET.get("end")) or start),
            "can_bulk": signed_in_user(request).has_perm("services.change_service"),
        }
        return render(request, "services/admin/_matching.html", context)

    def _context(
        self,
        request: HttpRequest,
        filterset: ServiceFilterSet,
        page: KeysetPage | None,
        per_page: int,
        matching: Matching,
    ) -> dict[str, Any]:
        user = request.user
        actions = [
            (value, label)
            for value, label in BulkAction.choices
            if value != BulkAction.DELETE or user.has_perm("services.delete_service")
        ]
        active_filters = self._active_filter_count(request)
        errors = filter_error_messages(filterset)
        return {
            "filterset": filterset,
            # Folded away, the panel's fields come when it is opened (``fragment=filters``).
            **(filter_cells(filterset) if active_filters or errors else {}),
            "filter_errors": errors,
            "page": page,
            "services": page.rows if page else [],
            "per_page": per_page,
            "page_sizes": PAGE_SIZES,
            # The export menu states XLSX's cap (the export refuses above it).
            "xlsx_max_rows": XLSX_MAX_ROWS,
            "matching": matching,
            "result_range": matching.range(page.start_index, page.end_index) if page else "",
            "sort": filterset.sort_value,
            "columns": SORT_COLUMNS,
            "tabs": self._tabs(request),
            "active_filters": active_filters,
            # Each bulk action checks its own permission again when it is confirmed.
            "can_bulk": user.has_perm("services.change_service"),
            "bulk_actions": actions,
            "query": request.GET.urlencode(),
        }

    def _tabs(self, request: HttpRequest) -> list[dict[str, Any]]:
        selected = request.GET.getlist("status")
        statuses = self._status_counts
        all_tab = {
            "status": None,
            "label": _("All"),
            "count": sum(row["count"] for row in statuses),
            "active": not selected,
        }
        return [all_tab] + [{**row, "active": selected == [row["status"]]} for row in statuses]

    def _active_filter_count(self, request: HttpRequest) -> int:
        """Filters set besides the search, status tab and sort, for the panel's badge."""
        ignored = {"q", "status", "sort", "cursor", "per_page"}
        return sum(1 for name, values in request.GET.lists() if name not in ignored and any(values))


def service_list_url(query: str = "") -> str:
    """The list's URL with a query string, for views that send people back to it."""
    url = reverse("admin:service_list")
    return f"{url}?{query}" if query else url
