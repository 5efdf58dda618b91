"""Importing services from a CSV file with the export's columns (``services.export.HEADERS``).

The file is read here (encoding, delimiter, header, size), then handed to
django-import-export's ``import_data``: once with ``dry_run=True`` for the preview, which
rolls everything back, and once for real when staff confirm. Both runs write through the
lifecycle only (``ServiceImportResource.save_instance`` calls ``lifecycle.create`` and
``lifecycle.update``), so the preview shows exactly what the lifecycle would accept or
refuse, and every imported service has its history, with ``EventSource.CSV_IMPORT`` as
the source. The real run is one transaction: a row that fails rolls back every row.

A row with an ``id`` (or ``uuid``) changes that service; a row without one creates a
service. Customers are matched by e-mail, products and servers by name. A new service is
created pending, then made active when its row says so (the edit form's status change,
recorded as such); an existing service's status may only follow the rule book's
transitions. ``customer_name``, ``renewal_count`` and ``created_at`` are read-only: they
are in the export and are ignored here, so an exported file imports back unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime as dt
import io
import logging
import uuid as uuid_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets
from import_export.results import Result, RowResult

from customers.models import Customer, User
from delivery.models import Server
from products.choices import BillingCycle
from products.models import Product

from . import lifecycle
from .choices import TRANSITIONS, EventSource, ServiceStatus
from .export import DATETIME_FORMAT, FORMULA_PREFIXES, HEADERS
from .models import Service

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

#: The largest file accepted, and the most rows in it. Every row goes through the
#: lifecycle (a full validation and a history record: about 20 ms a row on SQLite), twice
#: (preview, then import), in the request: 2,000 rows is under a minute for each step.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2_000

#: Columns every file must have (and every row must fill when it creates a service).
REQUIRED_COLUMNS = ("name", "customer_email", "module", "price", "billing_cycle")
#: Columns a file may have; empty cells keep the current value or the default.
OPTIONAL_COLUMNS = (
    "id",
    "uuid",
    "product",
    "server",
    "status",
    "initial_price",
    "currency",
    "expires_at",
    "max_renewals",
)
#: Export columns that cannot be imported: read and ignored.
IGNORED_COLUMNS = ("customer_name", "renewal_count", "created_at")
#: The statuses a new service may be created in: pending, or active as delivered.
CREATE_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE)
#: The service's fields a row sets, in the export's order (``ServiceImportResource``);
#: ``import_status`` is the row's status, applied through its action, not as a field.
IMPORTED_FIELDS = (
    "name",
    "customer",
    "product",
    "server",
    "module",
    "import_status",
    "price",
    "initial_price",
    "currency",
    "billing_cycle",
    "expires_at",
    "max_renewals",
)
#: What a row may change on an existing service, compared to decide "changed" or
#: "unchanged": the imported fields the lifecycle lets staff edit.
COMPARED = tuple(name for name in IMPORTED_FIELDS if name in lifecycle.EDITABLE_FIELDS)
#: Each compared field's attribute: a foreign key is compared by its id.
ATTNAMES = {name: f"{name}_id" if name in ("product", "server") else name for name in COMPARED}
DATE_FORMATS = (DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


class CsvFileError(Exception):
    """The file as a whole cannot be read; the message says why and what to do."""


def read_csv(data: bytes) -> tablib.Dataset:
    """``data`` as a dataset of the export's columns, or ``CsvFileError``."""
    if len(data) > MAX_BYTES:
        raise CsvFileError(
            _("The file is larger than %(size)s MB.") % {"size": MAX_BYTES // (1024 * 1024)}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            _("The file is not UTF-8 text (byte %(byte)s): save it as “CSV UTF-8”.")
            % {"byte": exc.start}
        ) from exc
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise CsvFileError(_("The file is not valid CSV: %(error)s.") % {"error": exc}) from exc
    if not rows:
        raise CsvFileError(_("The file is empty: the first line must be the header."))
    header = [cell.strip() for cell in rows[0]]
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        raise CsvFileError(_("The columns must be separated by commas (“,”), as in the export."))
    unknown = [name for name in header if name not in HEADERS]
    if unknown:
        raise CsvFileError(
            _("Unknown columns in the header: %(columns)s.") % {"columns": ", ".join(unknown)}
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise CsvFileError(
            _("Columns given twice in the header: %(columns)s.") % {"columns": ", ".join(repeated)}
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvFileError(
            _("Missing required columns: %(columns)s.") % {"columns": ", ".join(missing)}
        )
    body = rows[1:]
    if not body:
        raise CsvFileError(_("The file has a header and no rows."))
    if len(body) > MAX_ROWS:
        raise CsvFileError(
            _("The file has %(rows)s rows; at most %(max)s at a time.")
            % {"rows": f"{len(body):,}", "max": f"{MAX_ROWS:,}"}
        )
    for number, row in enumerate(body, 1):
        if len(row) != len(header):
            raise CsvFileError(
                _("Row %(number)s has %(cells)s cells where the header has %(columns)s.")
                % {"number": number, "cells": len(row), "columns": len(header)}
            )
    return tablib.Dataset(*body, headers=header)


def template_csv() -> str:
    """A file to fill in: the header and one example row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    example = {
        "name": "My game server",
        "customer_email": "customer@example.com",
        "product": "Minecraft 4 GB",
        "module": "manual",
        "status": "active",
        "price": "9.99",
        "billing_cycle": "monthly",
        "expires_at": "2030-01-31 12:00:00",
    }
    writer.writerow([example.get(name, "") for name in HEADERS])
    return buffer.getvalue()


# Cells --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as stripped text; a formula neutralised by the export ("'=...") as it was."""
    text = "" if value is None else str(value).strip()
    if text[:1] == "'" and text[1:2] and text[1:2] in FORMULA_PREFIXES:
        return text[1:]
    return text


class TextWidget(widgets.Widget):
    def __init__(self, *, required: bool = False, max_length: int | None = None) -> None:
        super().__init__()
        self.required = required
        self.max_length = max_length

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str | None:
        text = _text(value)
        if not text:
            if self.required:
                raise ValueError(_("required."))
            return None
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(_("longer than %(max)s characters.") % {"max": self.max_length})
        return text


class ChoiceWidget(widgets.Widget):
    def __init__(
        self, choices: Sequence[str], *, what: StrOrPromise, required: bool = False
    ) -> None:
        super().__init__()
        self.choices = list(choices)
        self.what = what
        self.required = required

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str | None:
        text = _text(value).lower()
        if not text:
            if self.required:
                raise ValueError(_("required."))
            return None
        if text not in self.choices:
            raise ValueError(
                _("unknown %(what)s %(value)r (one of: %(choices)s).")
                % {"what": self.what, "value": text, "choices": ", ".join(self.choices)}
            )
        return text


class MoneyWidget(widgets.Widget):
    """A price with a dot or a comma as its decimal separator (the export writes the
    staff member's locale's)."""

    def __init__(self, *, required: bool = False) -> None:
        super().__init__()
        self.required = required

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal | None:
        text = _text(value).replace(" ", "").replace("\u202f", "").replace("\xa0", "")
        if not text:
            if self.required:
                raise ValueError(_("required."))
            return None
        try:
            amount = Decimal(text.replace(",", "."))
        except InvalidOperation as exc:
            raise ValueError(_("not a price: %(value)r.") % {"value": text}) from exc
        if not amount.is_finite() or amount < 0:
            raise ValueError(_("not a price: %(value)r.") % {"value": text})
        if amount != amount.quantize(Decimal("0.01")) or amount >= Decimal("1e10"):
            raise ValueError(
                _("%(value)r has more than two decimals or too many digits.") % {"value": text}
            )
        return amount.quantize(Decimal("0.01"))


class DateWidget(widgets.Widget):
    """A local date and time as the export writes it ("2030-01-31 12:00:00")."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.datetime | None:
        text = _text(value)
        if not text:
            return None
        for fmt in DATE_FORMATS:
            try:
                moment = dt.datetime.strptime(text, fmt)  # noqa: DTZ007  # local, made aware below
            except ValueError:
                continue
            return timezone.make_aware(moment)
        raise ValueError(
            _("not a date: %(value)r (expected YYYY-MM-DD HH:MM:SS).") % {"value": text}
        )


class CountWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int | None:
        text = _text(value)
        if not text:
            return None
        if not text.isdigit() or len(text) > 9:
            raise ValueError(_("not a whole number: %(value)r.") % {"value": text})
        return int(text)


class LookupWidget(widgets.Widget):
    """A related row found by one text column, each value looked up once per import."""

    def __init__(self, *, required: bool = False) -> None:
        super().__init__()
        self.required = required
        self.cache: dict[str, Any] = {}

    def find(self, text: str) -> Any:
        raise NotImplementedError

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = _text(value)
        if not text:
            if self.required:
                raise ValueError(_("required."))
            return None
        key = text.lower()
        if key not in self.cache:
            try:
                self.cache[key] = self.find(text)
            except ValueError as exc:
                self.cache[key] = exc
        found = self.cache[key]
        if isinstance(found, ValueError):
            raise found
        return found


class CustomerByEmail(LookupWidget):
    def find(self, text: str) -> Customer:
        customer = Customer.objects.filter(user__email__iexact=text).first()
        if customer is None:
            raise ValueError(_("no customer with the e-mail %(value)r.") % {"value": text})
        return customer


class ProductByName(LookupWidget):
    def find(self, text: str) -> Product:
        products = list(Product.objects.filter(name=text)[:2])
        if not products:
            raise ValueError(_("no product named %(value)r.") % {"value": text})
        if len(products) > 1:
            raise ValueError(_("several products are named %(value)r.") % {"value": text})
        return products[0]


class ServerByName(LookupWidget):
    def find(self, text: str) -> Server:
        server = Server.objects.filter(name=text).first()
        if server is None:
            raise ValueError(_("no server named %(value)r.") % {"value": text})
        return server


# The resource -------------------------------------------------------------------------


def _column_reader(dataset: tablib.Dataset) -> Callable[[str], list[str]]:
    """The non-empty texts of a column of ``dataset`` (none when it has no such column)."""
    headers = set(dataset.headers or ())

    def column(name: str) -> list[str]:
        if name not in headers:
            return []
        return [text for text in (_text(value) for value in dataset[name]) if text]

    return column


def _remember(widget: Any, found: dict[str, Any]) -> None:
    """Put rows read together in a lookup column's cache, by the key it uses."""
    widget.cache.update(found)


def _same(name: str, old: Any, new: Any) -> bool:
    """Whether a row's value is the service's, the export's rounding allowed for: dates are
    exported to the second, so a stored 12:00:00.4 reads back as 12:00:00."""
    if name == "expires_at" and old is not None and new is not None:
        return bool(abs(old - new) < dt.timedelta(seconds=1))
    return bool(old == new)


@dataclass
class RowPlan:
    """One row of the preview: what it does, or why it cannot."""

    number: int
    kind: str  # "create", "change", "unchanged" or "error"
    service_id: int | None = None
    name: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


class ServiceImportResource(resources.ModelResource):
    """The export's columns, imported through the lifecycle only."""

    name = fields.Field("name", "name", TextWidget(required=True, max_length=150))
    customer = fields.Field("customer", "customer_email", CustomerByEmail(required=True))
    product = fields.Field("product", "product", ProductByName())
    server = fields.Field("server", "server", ServerByName())
    module = fields.Field("module", "module", TextWidget(required=True, max_length=50))
    import_status = fields.Field(
        "import_status", "status", ChoiceWidget(ServiceStatus.values, what=gettext_lazy("status"))
    )
    price = fields.Field("price", "price", MoneyWidget(required=True))
    initial_price = fields.Field("initial_price", "initial_price", MoneyWidget())
    currency = fields.Field(
        "currency", "currency", TextWidget(max_length=3), saves_null_values=False
    )
    billing_cycle = fields.Field(
        "billing_cycle",
        "billing_cycle",
        ChoiceWidget(BillingCycle.values, what=gettext_lazy("billing cycle"), required=True),
    )
    expires_at = fields.Field("expires_at", "expires_at", DateWidget())
    max_renewals = fields.Field("max_renewals", "max_renewals", CountWidget())

    class Meta:
        model = Service
        fields = IMPORTED_FIELDS
        import_id_fields: tuple[str, ...] = ()
        clean_model_instances = False
        skip_unchanged = True
        report_skipped = True
        skip_html_diff = True
        # Each row's service as it was is kept by ``get_instance`` (``original``), not
        # deep-copied by the library with its customer, product and server.
        skip_diff = True
        store_row_values = True

    def __init__(self, *, actor: User, may_change: bool = True) -> None:
        super().__init__()
        self.actor = actor
        self.may_change = may_change
        #: The services the rows name as they are, read by ``before_import``; a row
        #: changes a copy of its service (``get_instance``).
        self.services_by_pk: dict[int, Service] = {}
        self.services_by_uuid: dict[uuid_module.UUID, Service] = {}
        #: The changes each row made (or would make), by row number: (column, old, new).
        self.changes_by_row: dict[int, list[tuple[str, str, str]]] = {}

    def get_import_id_fields(self) -> list[str]:
        return []

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        """Read what the rows name in a few queries rather than several per row: the
        services by id and uuid, with what the comparison reads of them, and the
        customers, products and servers, put in their columns' caches. A value found
        nowhere is left to its column, which says why."""
        column = _column_reader(dataset)
        ids = {int(text) for text in column("id") if text.isdigit() and len(text) <= 18}
        uuids = set()
        for text in column("uuid"):
            with contextlib.suppress(ValueError):
                uuids.add(uuid_module.UUID(text))
        services = Service.objects.select_related("customer__user", "product", "server")
        if ids:
            self.services_by_pk = {s.pk: s for s in services.filter(pk__in=ids)}
        if uuids:
            self.services_by_uuid = {s.uuid: s for s in services.filter(uuid__in=uuids)}
            self.services_by_pk |= {s.pk: s for s in self.services_by_uuid.values()}
        emails = {text.lower() for text in column("customer_email")}
        customers = Customer.objects.select_related("user").filter(user__email__in=emails)
        _remember(self.fields["customer"].widget, {c.user.email.lower(): c for c in customers})
        for name, model in (("product", Product), ("server", Server)):
            texts = set(column(name))
            found: dict[str, list[Any]] = {}
            for row in model.objects.filter(name__in=texts):
                found.setdefault(row.name, []).append(row)
            _remember(
                self.fields[name].widget,
                {text.lower(): rows[0] for text, rows in found.items() if len(rows) == 1},
            )

    def init_instance(self, row: Any = None) -> Service:
        return Service()

    def get_instance(self, instance_loader: Any, row: Any) -> Service | None:
        """The service named by the row's ``id`` or ``uuid``; none when both are empty."""
        pk_text, uuid_text = _text(row.get("id")), _text(row.get("uuid"))
        service: Service | None = None
        if pk_text:
            if not pk_text.isdigit() or len(pk_text) > 18:
                raise ValidationError(
                    {"id": _("not a service id: %(value)r.") % {"value": pk_text}}
                )
            service = self.services_by_pk.get(int(pk_text))
            if service is None:
                raise ValidationError({"id": _("no service #%(id)s.") % {"id": pk_text}})
        if uuid_text:
            try:
                wanted = uuid_module.UUID(uuid_text)
            except ValueError as exc:
                raise ValidationError(
                    {"uuid": _("not a uuid: %(value)r.") % {"value": uuid_text}}
                ) from exc
            if service is not None:
                if service.uuid != wanted:
                    raise ValidationError(
                        {"uuid": _("service #%(id)s has another uuid.") % {"id": pk_text}}
                    )
            else:
                service = self.services_by_uuid.get(wanted)
                if service is None:
                    raise ValidationError(
                        {"uuid": _("no service with the uuid %(uuid)s.") % {"uuid": uuid_text}}
                    )
        return copy.copy(service) if service is not None else None

    def original(self, instance: Service) -> Service:
        """The service a row changes, as it was before the row."""
        return self.services_by_pk.get(instance.pk) or Service.objects.get(pk=instance.pk)

    def import_instance(self, instance: Service, row: Any, **kwargs: Any) -> None:
        """Each cell into the service in memory, the errors keyed by their column."""
        instance.import_status = None  # type: ignore[attr-defined]  # the row's status, apart
        errors: dict[str, Any] = {}
        for column in self.get_import_fields():
            try:
                self.import_field(column, instance, row, **kwargs)
            except ValueError as exc:
                errors[column.column_name] = ValidationError(str(exc))
        if errors:
            raise ValidationError(errors)

    def changes(self, instance: Service, original: Service) -> dict[str, Any]:
        """What the row changes on the existing service (model field → new value)."""
        found: dict[str, Any] = {}
        for name in COMPARED:
            attname = ATTNAMES[name]
            old, new = getattr(original, attname), getattr(instance, attname)
            if new is None and name in ("initial_price", "currency"):
                continue  # an empty cell keeps the value
            if not _same(name, old, new):
                found[name] = getattr(instance, name)
        status = getattr(instance, "import_status", None)
        if status and status != original.status:
            found["status"] = status
        return found

    def skip_row(
        self,
        instance: Service,
        original: Service | None,
        row: Any,
        import_validation_errors: Any = None,
    ) -> bool:
        if import_validation_errors or instance.pk is None:
            return False
        original = self.original(instance)
        return not self.changes(instance, original) and instance.customer_id == original.customer_id

    def validate_instance(
        self, instance: Service, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        """The rules a cell cannot check alone, then the cells' own errors together."""
        errors = dict(import_validation_errors or {})
        status = getattr(instance, "import_status", None)
        if instance.pk is None:
            if status and status not in CREATE_STATUSES:
                errors.setdefault(
                    "status", ValidationError(_("a new service is created pending or active."))
                )
        else:
            original = self.original(instance)
            if not self.may_change:
                errors.setdefault(
                    NON_FIELD_ERRORS,
                    ValidationError(_("you may not change existing services.")),
                )
            if "customer_email" not in errors and instance.customer_id != original.customer_id:
                errors["customer_email"] = ValidationError(
                    _("the customer of an existing service cannot be changed here.")
                )
            if (
                status
                and status != original.status
                and (original.status, status) not in TRANSITIONS
            ):
                errors.setdefault(
                    "status",
                    ValidationError(
                        _("a service cannot go from %(old)s to %(new)s.")
                        % {"old": original.status, "new": status}
                    ),
                )
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance: Service, is_create: bool, row: Any, **kwargs: Any) -> None:
        """Create or change the service through the lifecycle; its refusal is the row's
        error, and anything the row wrote before it is rolled back."""
        number = kwargs.get("row_number", 0)
        try:
            with transaction.atomic():
                if is_create:
                    self._create(instance, number)
                else:
                    self._change(instance, number)
        except lifecycle.LifecycleError as exc:
            raise ValidationError({NON_FIELD_ERRORS: [exc.message]}) from exc

    def _create(self, instance: Service, number: int) -> None:
        values = {name: getattr(instance, name) for name in COMPARED}
        if values["initial_price"] is None:
            values["initial_price"] = values["price"]
        if not values["currency"]:
            values.pop("currency")
        service = lifecycle.create(
            actor=self.actor, source=EventSource.CSV_IMPORT, customer=instance.customer, **values
        )
        status = getattr(instance, "import_status", None)
        if status and status != ServiceStatus.PENDING:
            lifecycle.update(
                service,
                changes={"status": status},
                actor=self.actor,
                source=EventSource.CSV_IMPORT,
                reason="Imported from a CSV file.",
            )
        instance.pk = service.pk
        self.changes_by_row[number] = []

    def _change(self, instance: Service, number: int) -> None:
        original = self.original(instance)
        changes = self.changes(instance, original)
        lifecycle.update(
            instance.pk,
            changes=changes,
            actor=self.actor,
            source=EventSource.CSV_IMPORT,
            reason="Imported from a CSV file.",
        )
        self.changes_by_row[number] = [
            (name, _shown(getattr(original, name)), _shown(value))
            for name, value in changes.items()
        ]


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime(DATETIME_FORMAT)
    return str(value)


# Preview and import --------------------------------------------------------------------


@dataclass
class Plan:
    """The preview of a file: every row, and the counts."""

    rows: list[RowPlan]
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0


def _plan(result: Result, resource: ServiceImportResource, numbers: Sequence[int]) -> Plan:
    """The result of ``import_data`` as rows of the file (``numbers``: each dataset row's
    number in the file)."""
    plan = Plan(rows=[])
    for index, row_result in enumerate(result.rows, 1):
        number = numbers[index - 1]
        values = row_result.row_values or {}
        entry = RowPlan(number=number, kind="error", name=_text(values.get("name")))
        if row_result.import_type == RowResult.IMPORT_TYPE_INVALID:
            error = row_result.validation_error
            messages = (
                error.message_dict if error is not None and hasattr(error, "error_dict") else {}
            )
            if error is not None and not messages:
                messages = {NON_FIELD_ERRORS: error.messages}
            entry.errors = [
                ("" if column == NON_FIELD_ERRORS else column, message)
                for column, texts in messages.items()
                for message in texts
            ]
        elif row_result.import_type == RowResult.IMPORT_TYPE_ERROR:
            for failure in row_result.errors:
                logger.warning("CSV import: row %s failed: %r", number, failure.error)
            entry.errors = [("", _("this row could not be read (an unexpected error, logged)."))]
        else:
            entry.service_id = int(row_result.object_id) if row_result.object_id else None
            if row_result.import_type == RowResult.IMPORT_TYPE_NEW:
                entry.kind = "create"
            elif row_result.import_type == RowResult.IMPORT_TYPE_SKIP:
                entry.kind = "unchanged"
            else:
                entry.kind = "change"
                entry.changes = resource.changes_by_row.get(index, [])
        plan.rows.append(entry)
    plan.created = sum(row.kind == "create" for row in plan.rows)
    plan.changed = sum(row.kind == "change" for row in plan.rows)
    plan.unchanged = sum(row.kind == "unchanged" for row in plan.rows)
    plan.failed = sum(row.kind == "error" for row in plan.rows)
    return plan


def _resource(actor: User) -> ServiceImportResource:
    return ServiceImportResource(actor=actor, may_change=actor.has_perm("services.change_service"))


def preview(dataset: tablib.Dataset, *, actor: User) -> Plan:
    """What importing ``dataset`` would do, row by row; everything is rolled back."""
    resource = _resource(actor)
    result = resource.import_data(dataset, dry_run=True, use_transactions=True)
    return _plan(result, resource, range(1, len(dataset) + 1))


@dataclass
class Imported:
    """What the real import did; ``plan`` holds the rows when nothing was written."""

    written: bool
    plan: Plan


def run(dataset: tablib.Dataset, *, actor: User, valid_only: bool) -> Imported:
    """Import ``dataset`` in one transaction: every row, or (``valid_only``) the valid ones.

    The rows are checked again as they are written (the data may have changed since the
    preview). Without ``valid_only`` a row that fails rolls back every row; with it, a
    failing row is left out (its own savepoint rolled back) and the others are kept, but
    an unexpected error still rolls back everything.
    """
    resource = _resource(actor)
    with transaction.atomic():
        result = resource.import_data(
            dataset,
            dry_run=False,
            use_transactions=True,
            rollback_on_validation_errors=not valid_only,
        )
        plan = _plan(result, resource, range(1, len(dataset) + 1))
        written = (
            (valid_only or not plan.failed)
            and not result.has_errors()
            and bool(plan.created or plan.changed)
        )
        if not written:
            transaction.set_rollback(True)
    return Imported(written=written, plan=plan)
