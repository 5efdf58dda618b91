"""``/admin/services/export/``: the current filtered list as CSV or XLSX.

CSV is streamed row by row from a server-side cursor, so a million services never sit in
memory at once. XLSX cannot be streamed by tablib (the workbook is built whole), so it is
capped at ``XLSX_MAX_ROWS``; above that the person is asked to narrow the filters or to
take CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.views import View
from import_export.formats.base_formats import XLSX

from clientxcms.access import StaffRequiredMixin, signed_in_user
from services.filters import InvalidFilters, filter_services
from services.models import Service
from services.resources import ServiceResource
from services.views.admin_list import LIST_RELATED, service_list_url

XLSX_MAX_ROWS = 50_000
CSV_CHUNK_SIZE = 2_000


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer to stream."""

    def write(self, value: str) -> str:
        return value


def stream_csv(queryset: QuerySet[Service], resource: ServiceResource) -> Iterator[str]:
    """CSV lines of ``queryset``, read in chunks; starts with a BOM so Excel reads UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(resource.get_export_headers())
    for service in queryset.iterator(chunk_size=CSV_CHUNK_SIZE):
        yield writer.writerow(resource.export_resource(service))


class ServiceExportView(StaffRequiredMixin, View):
    """The services matching the list's filters, in its order, as ``?format=csv|xlsx``."""

    permission_required = "services.view_service"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        back = request.GET.copy()
        back.pop("format", None)
        try:
            queryset = filter_services(request.GET, user=signed_in_user(request))
        except InvalidFilters:
            messages.error(request, "Correct the filters before exporting.")
            return HttpResponseRedirect(service_list_url(back.urlencode()))
        queryset = queryset.select_related(*LIST_RELATED)
        filename = f"services-{timezone.localtime():%Y%m%d-%H%M}"
        export_format = request.GET.get("format", "csv")
        if export_format == "csv":
            return self._csv(queryset, filename)
        if export_format == "xlsx":
            if queryset.order_by().values("pk")[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS:
                messages.error(
                    request,
                    f"XLSX exports stop at {XLSX_MAX_ROWS:,} services: narrow the filters, "
                    "or export CSV, which has no limit.",
                )
                return HttpResponseRedirect(service_list_url(back.urlencode()))
            return self._xlsx(queryset, filename)
        messages.error(request, "Export as CSV or XLSX.")
        return HttpResponseRedirect(service_list_url(back.urlencode()))

    def _csv(self, queryset: QuerySet[Service], filename: str) -> StreamingHttpResponse:
        return StreamingHttpResponse(
            stream_csv(queryset, ServiceResource()),
            content_type="text/csv; charset=utf-8",
            headers=_attachment(f"{filename}.csv"),
        )

    def _xlsx(self, queryset: QuerySet[Service], filename: str) -> HttpResponse:
        xlsx = XLSX()
        # Native types: numbers stay numbers and dates dates (without a zone, for Excel).
        dataset = ServiceResource().export(queryset, force_native_type=True)
        return HttpResponse(
            xlsx.export_data(dataset),
            content_type=xlsx.get_content_type(),
            headers=_attachment(f"{filename}.xlsx"),
        )


def _attachment(filename: str) -> dict[str, Any]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
