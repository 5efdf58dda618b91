"""``/admin/services/import-csv/``: services created or changed from a CSV file.

Step 1 uploads the file; step 2 shows the preview of every row (``csv_import.preview``,
nothing written); step 3 confirms it (POST), and only then is anything written.

Between the preview and the confirmation the file stays on the server, in a temporary
directory under a random name that only the uploader's session knows, with its SHA-256:
the confirmation carries no rows and the file is read again from there, so nothing posted
back can change what is imported. Files are removed once imported and after a day.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from clientxcms.access import StaffRequiredMixin, signed_in_user
from services import csv_import
from services.csv_import import CsvFileError

SESSION_KEY = "services_csv_import"
#: Uploaded files older than this are removed on the next upload.
KEEP_SECONDS = 24 * 3600
TEMPLATE = "services/admin/csv_import.html"


def upload_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "clientxcms-csv-imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "UTF-8, comma-separated, at most %(size)s MB and %(rows)s rows."
        ) % {"size": csv_import.MAX_BYTES // (1024 * 1024), "rows": f"{csv_import.MAX_ROWS:,}"}


def _columns_context() -> dict[str, Any]:
    return {
        "required_columns": csv_import.REQUIRED_COLUMNS,
        "optional_columns": csv_import.OPTIONAL_COLUMNS,
        "ignored_columns": csv_import.IGNORED_COLUMNS,
        "max_rows": csv_import.MAX_ROWS,
    }


def _stored(request: HttpRequest, token: str) -> bytes | None:
    """The file uploaded in this session under ``token``, unchanged since; else None."""
    saved = request.session.get(SESSION_KEY)
    if (
        not isinstance(saved, dict)
        or not token
        or not secrets.compare_digest(str(saved.get("token", "")), token)
    ):
        return None
    path = upload_dir() / f"{saved['token']}.csv"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != saved.get("sha256"):
        return None
    return data


def _forget(request: HttpRequest) -> None:
    saved = request.session.pop(SESSION_KEY, None)
    if isinstance(saved, dict) and saved.get("token"):
        (upload_dir() / f"{saved['token']}.csv").unlink(missing_ok=True)


def _remove_stale() -> None:
    limit = time.time() - KEEP_SECONDS
    for path in upload_dir().glob("*.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue


class ServiceCsvImportView(StaffRequiredMixin, View):
    """Step 1 (GET: the upload form) and step 2 (POST: the preview)."""

    permission_required = "services.add_service"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, TEMPLATE, {"form": CsvUploadForm(), **_columns_context()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CsvUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, TEMPLATE, {"form": form, **_columns_context()}, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > csv_import.MAX_BYTES:
            form.add_error(
                "file",
                _("The file is larger than %(size)s MB.") % {"size": csv_import.MAX_BYTES // 2**20},
            )
            return render(request, TEMPLATE, {"form": form, **_columns_context()}, status=400)
        data = upload.read(csv_import.MAX_BYTES + 1)
        try:
            dataset = csv_import.read_csv(data)
        except CsvFileError as exc:
            form.add_error("file", str(exc))
            return render(request, TEMPLATE, {"form": form, **_columns_context()}, status=400)
        _forget(request)
        _remove_stale()
        token = secrets.token_urlsafe(24)
        (upload_dir() / f"{token}.csv").write_bytes(data)
        request.session[SESSION_KEY] = {
            "token": token,
            "sha256": hashlib.sha256(data).hexdigest(),
            "filename": upload.name[:200],
        }
        plan = csv_import.preview(dataset, actor=signed_in_user(request))
        return render(
            request,
            TEMPLATE,
            {"plan": plan, "token": token, "filename": upload.name, **_columns_context()},
        )


class ServiceCsvConfirmView(StaffRequiredMixin, View):
    """Step 3: import the previewed file (POST), all rows or only the valid ones."""

    permission_required = "services.add_service"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return redirect("admin:service_csv_import")

    def post(self, request: HttpRequest) -> HttpResponseBase:
        token = request.POST.get("token", "")
        data = _stored(request, token)
        if data is None:
            messages.error(
                request, _("That import has expired or was already done: upload the file again.")
            )
            return redirect("admin:service_csv_import")
        try:
            dataset = csv_import.read_csv(data)
        except CsvFileError as exc:  # checked at upload; the limits may have changed since
            messages.error(request, str(exc))
            return redirect("admin:service_csv_import")
        valid_only = request.POST.get("valid_only") == "1"
        imported = csv_import.run(dataset, actor=signed_in_user(request), valid_only=valid_only)
        plan = imported.plan
        if not imported.written:
            error = (
                _(
                    "Nothing was imported: some rows have errors. Correct the file, or import "
                    "the valid rows only."
                )
                if plan.failed
                else _("Nothing was imported: no row creates or changes a service.")
            )
            return render(
                request,
                TEMPLATE,
                {"plan": plan, "token": token, "error": error, **_columns_context()},
                status=400,
            )
        _forget(request)
        messages.success(
            request,
            _("Imported: %(created)s created, %(changed)s changed, %(unchanged)s unchanged.")
            % {"created": plan.created, "changed": plan.changed, "unchanged": plan.unchanged},
        )
        return redirect(reverse("admin:service_list"))


class ServiceCsvTemplateView(StaffRequiredMixin, View):
    """A CSV file to fill in: the export's header and one example row."""

    permission_required = "services.add_service"

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            csv_import.template_csv(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="services-import-template.csv"'},
        )
