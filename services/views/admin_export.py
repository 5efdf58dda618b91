"""``/admin/services/export/``: the current filtered list as CSV or XLSX.

The export runs the list's own filters (``filter_services``: the same search, filters and
sort as the page), then ``services.export`` reads only the exported columns. CSV is
streamed from a server-side cursor, so a million services never sit in memory at once and
the number of queries does not depend on the number of rows. XLSX is built whole by
tablib, so it is capped at ``XLSX_MAX_ROWS`` (the list's export menu says so); above that
the person is asked to narrow the filters or to take CSV.
"""

from __future__ import annotations

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
from django.utils.translation import gettext as _
from django.views import View

from clientxcms.access import StaffRequiredMixin, signed_in_user
from services import export
from services.filters import InvalidFilters, filter_services
from services.models import Service
from services.views.admin_list import service_list_url


class ServiceExportView(StaffRequiredMixin, View):
    """The services matching the list's filters, in its order, as ``?format=csv|xlsx``."""

    permission_required = "services.view_service"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        back = request.GET.copy()
        back.pop("format", None)
        try:
            queryset = filter_services(request.GET, user=signed_in_user(request))
        except InvalidFilters:
            messages.error(request, _("Correct the filters before exporting."))
            return HttpResponseRedirect(service_list_url(back.urlencode()))
        filename = f"services-{timezone.localtime():%Y%m%d-%H%M}"
        export_format = request.GET.get("format", "csv")
        if export_format == "csv":
            return self._csv(queryset, filename)
        if export_format == "xlsx":
            if queryset.order_by().values("pk")[: export.XLSX_MAX_ROWS + 1].count() > (
                export.XLSX_MAX_ROWS
            ):
                messages.error(
                    request,
                    _(
                        "XLSX exports stop at %(count)s services: narrow the filters, or "
                        "export CSV, which has no limit."
                    )
                    % {"count": f"{export.XLSX_MAX_ROWS:,}"},
                )
                return HttpResponseRedirect(service_list_url(back.urlencode()))
            return self._xlsx(queryset, filename)
        messages.error(request, _("Export as CSV or XLSX."))
        return HttpResponseRedirect(service_list_url(back.urlencode()))

    def _csv(self, queryset: QuerySet[Service], filename: str) -> StreamingHttpResponse:
        return StreamingHttpResponse(
            export.csv_chunks(queryset),
            content_type="text/csv; charset=utf-8",
            headers=_attachment(f"{filename}.csv"),
        )

    def _xlsx(self, queryset: QuerySet[Service], filename: str) -> HttpResponse:
        return HttpResponse(
            export.xlsx_bytes(queryset),
            content_type=export.xlsx_content_type(),
            headers=_attachment(f"{filename}.xlsx"),
        )


def _attachment(filename: str) -> dict[str, Any]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
