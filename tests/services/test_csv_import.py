"""Importing services from CSV: the preview, the all-or-nothing import, the matching of
customers, products and servers by their names, the history, and who may do it."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from customers.models import Customer
from services import csv_import
from services.choices import EventSource, ServiceStatus
from services.export import HEADERS
from services.models import Service, ServiceEvent
from tests.admin_matrix import ACTION, FORM, PERSONAS, assert_access, sign_in
from tests.factories import ProductFactory, ServerFactory, ServiceFactory

UPLOAD = "/admin/services/import-csv/"
CONFIRM = "/admin/services/import-csv/confirm/"
TEMPLATE = "/admin/services/import-csv/template/"


def csv_bytes(rows: list[dict[str, Any]], headers: tuple[str, ...] = HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(name, "") for name in headers])
    return buffer.getvalue().encode()


def upload(client: Client, data: bytes, name: str = "services.csv") -> Any:
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, "text/csv")})


def token_of(response: Any) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the preview has no confirmation form"
    return match.group(1)


def counts() -> tuple[int, int]:
    return Service.objects.count(), ServiceEvent.objects.count()


@pytest.fixture(autouse=True)
def _uploads(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploaded files go to the test's own directory."""
    monkeypatch.setattr("services.views.admin_csv_import.upload_dir", lambda: tmp_path)


@pytest.fixture
def staff(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


@pytest.fixture
def world(db: Any, customer: Any) -> dict[str, Any]:
    product = ProductFactory(name="Web Basic", module="manual")
    server = ServerFactory(name="web-1", module="manual")
    existing = ServiceFactory(
        customer=customer,
        product=product,
        server=server,
        module="manual",
        name="Old name",
        status=ServiceStatus.ACTIVE,
        price=Decimal("5.00"),
        initial_price=Decimal("5.00"),
        billing_cycle="monthly",
    )
    return {"customer": customer, "product": product, "server": server, "existing": existing}


def new_row(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Imported site",
        "customer_email": "BOB@example.com",
        "product": "Web Basic",
        "server": "web-1",
        "module": "manual",
        "status": "active",
        "price": "9,50",
        "billing_cycle": "monthly",
        "expires_at": "2031-01-31 12:00:00",
        **fields,
    }


def mixed_file(world: dict[str, Any]) -> bytes:
    """Row 1 creates, row 2 changes the existing service, row 3 fails on three columns."""
    existing = world["existing"]
    return csv_bytes(
        [
            new_row(),
            {
                "id": existing.pk,
                "name": "New name",
                "customer_email": "bob@example.com",
                "product": "Web Basic",
                "server": "web-1",
                "module": "manual",
                "status": "active",
                "price": "6.00",
                "billing_cycle": "monthly",
            },
            new_row(
                name="Broken",
                customer_email="nobody@example.com",
                server="web-9",
                price="cheap",
                billing_cycle="fortnightly",
            ),
        ]
    )


def test_the_preview_shows_every_row_and_writes_nothing(staff, world):
    before = counts()
    response = upload(staff, mixed_file(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert counts() == before
    plan = response.context["plan"]
    assert [(r.number, r.kind) for r in plan.rows] == [(1, "create"), (2, "change"), (3, "error")]
    assert (plan.created, plan.changed, plan.unchanged, plan.failed) == (1, 1, 0, 1)
    assert ("name", "Old name", "New name") in plan.rows[1].changes
    assert ("price", "5.00", "6.00") in plan.rows[1].changes
    errors = dict(plan.rows[2].errors)
    assert "nobody@example.com" in errors["customer_email"]
    assert "web-9" in errors["server"]
    assert "cheap" in errors["price"]
    assert "fortnightly" in errors["billing_cycle"]
    assert (
        "Row 3, customer_email: no customer with the e-mail &#x27;nobody@example.com&#x27;" in html
    )
    assert 'data-row="1" data-kind="create"' in html
    assert 'data-row="2" data-kind="change"' in html
    world["existing"].refresh_from_db()
    assert world["existing"].name == "Old name"


def test_a_failing_row_makes_the_import_write_nothing(staff, world):
    response = upload(staff, mixed_file(world))
    before = counts()
    confirm = staff.post(CONFIRM, {"token": token_of(response)})
    assert confirm.status_code == 400
    assert "Nothing was imported" in confirm.content.decode()
    assert counts() == before
    world["existing"].refresh_from_db()
    assert world["existing"].name == "Old name"


def test_valid_rows_only_imports_them_through_the_lifecycle(staff, world, admin_user):
    response = upload(staff, mixed_file(world))
    services_before = Service.objects.count()
    confirm = staff.post(CONFIRM, {"token": token_of(response), "valid_only": "1"})
    assert confirm.status_code == 302
    assert Service.objects.count() == services_before + 1
    assert not Service.objects.filter(name="Broken").exists()
    created = Service.objects.get(name="Imported site")
    assert created.customer == world["customer"]  # matched by e-mail, whatever the case
    assert created.product == world["product"]
    assert created.server == world["server"]
    assert created.status == ServiceStatus.ACTIVE
    assert created.price == created.initial_price == Decimal("9.50")
    existing = world["existing"]
    existing.refresh_from_db()
    assert (existing.name, existing.price) == ("New name", Decimal("6.00"))
    created_events = list(created.events.order_by("pk").values_list("action", "source", "actor"))
    assert created_events == [
        ("create", EventSource.CSV_IMPORT, admin_user.pk),
        ("update", EventSource.CSV_IMPORT, admin_user.pk),
    ]
    update = existing.events.get(action="update")
    assert update.source == EventSource.CSV_IMPORT
    # The file is used once.
    again = staff.post(CONFIRM, {"token": token_of(response), "valid_only": "1"})
    assert again.status_code == 302
    assert Service.objects.count() == services_before + 1


def test_a_valid_file_imports_every_row(staff, world):
    data = csv_bytes([new_row(), new_row(name="Second", status="", price="1.00")])
    response = upload(staff, data)
    assert response.context["plan"].created == 2
    assert staff.post(CONFIRM, {"token": token_of(response)}).status_code == 302
    assert Service.objects.get(name="Second").status == ServiceStatus.PENDING
    assert Service.objects.get(name="Imported site").status == ServiceStatus.ACTIVE


def test_the_confirmation_imports_the_stored_file_only(staff, world, client):
    response = upload(staff, csv_bytes([new_row()]))
    before = counts()
    assert staff.post(CONFIRM, {"token": "forged"}).status_code == 302
    assert counts() == before
    other = Client()
    other.force_login(world["customer"].user)
    assert other.post(CONFIRM, {"token": token_of(response)}).status_code == 403
    assert counts() == before


def test_products_match_by_name_and_statuses_follow_the_rule_book(staff, world):
    ProductFactory(name="Twice")
    ProductFactory(name="Twice")
    existing = world["existing"]
    data = csv_bytes(
        [
            new_row(product="Twice"),
            new_row(product="Unknown product"),
            new_row(status="terminated"),
            {**new_row(), "id": existing.pk, "status": "pending", "name": existing.name},
            {**new_row(), "id": 999999},
            new_row(expires_at="31/01/2031"),
        ]
    )
    plan = upload(staff, data).context["plan"]
    errors = [dict(row.errors) for row in plan.rows]
    assert "several products" in errors[0]["product"]
    assert "Unknown product" in errors[1]["product"]
    assert "pending or active" in errors[2]["status"]
    assert "from active to pending" in errors[3]["status"]
    assert "no service #999999" in errors[4]["id"]
    assert "31/01/2031" in errors[5]["expires_at"]


def test_an_exported_file_imports_back_unchanged(staff, world, customer):
    for n in range(3):
        ServiceFactory(customer=customer, product=world["product"], name=f"=Formula {n}")
    exported = b"".join(
        chunk.encode() if isinstance(chunk, str) else chunk
        for chunk in staff.get("/admin/services/export/?format=csv").streaming_content
    )
    total = Service.objects.count()
    before = counts()
    plan = upload(staff, exported).context["plan"]
    assert (plan.created, plan.changed, plan.failed) == (0, 0, 0), plan.rows
    assert plan.unchanged == total == 4
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name,price\n".encode("utf-16"), "not UTF-8"),
        (b"name;customer_email;module\nx;y;z\n", "separated by commas"),
        (b"name,customer_email\nx,y\n", "Missing required columns: module, price, billing_cycle"),
        (b"name,colour,customer_email,module,price,billing_cycle\n", "Unknown columns"),
        (b"", "empty"),
        (",".join(HEADERS).encode() + b"\n", "no rows"),
    ],
)
def test_unreadable_files_are_refused_clearly(staff, data, message):
    response = upload(staff, data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_too_many_rows_are_refused(staff, monkeypatch):
    monkeypatch.setattr("services.csv_import.MAX_ROWS", 2)
    response = upload(staff, csv_bytes([new_row()] * 3))
    assert response.status_code == 400
    assert "at most 2 at a time" in response.content.decode()


def test_the_page_states_the_columns_and_offers_a_template(staff):
    html = staff.get(UPLOAD).content.decode()
    assert "<code>customer_email</code>" in html
    assert TEMPLATE in html
    template = staff.get(TEMPLATE)
    lines = template.content.decode().splitlines()
    assert lines[0] == ",".join(HEADERS)
    assert len(lines) == 2


@pytest.mark.parametrize("persona", PERSONAS)
def test_access(request, client, persona):
    sign_in(client, request, persona)
    assert_access(client, "get", UPLOAD, persona, FORM)
    assert_access(client, "get", TEMPLATE, persona, FORM)
    if persona == "admin_user":
        assert client.post(UPLOAD).status_code == 400  # no file: the form's error
        assert client.post(CONFIRM).status_code == 302  # nothing stored: back to step 1
    else:
        assert_access(client, "post", UPLOAD, persona, ACTION)
        assert_access(client, "post", CONFIRM, persona, ACTION)


def test_rows_are_checked_again_when_confirmed(staff, world):
    """The data changed after the preview: the row fails now, and nothing is written."""
    response = upload(staff, csv_bytes([new_row(), new_row(name="Second")]))
    assert response.context["plan"].created == 2
    user = world["customer"].user
    user.email = "robert@example.com"
    user.save()
    before = counts()
    confirm = staff.post(CONFIRM, {"token": token_of(response)})
    assert confirm.status_code == 400
    assert "BOB@example.com" in dict(confirm.context["plan"].rows[0].errors)["customer_email"]
    assert counts() == before


def test_the_preview_reads_what_the_rows_name_together_not_row_by_row(
    admin_user, world, django_assert_max_num_queries
):
    """Services, customers, products and servers are read once for the file: only the
    library's savepoint per row (two statements) grows with the rows."""

    def export_of(services):
        rows = [
            {
                "id": s.pk,
                "uuid": s.uuid,
                "name": s.name,
                "customer_email": s.customer.user.email,
                "product": s.product.name,
                "server": "",
                "module": s.module,
                "status": s.status,
                "price": s.price,
                "billing_cycle": s.billing_cycle,
            }
            for s in services
        ]
        return csv_import.read_csv(csv_bytes(rows, tuple(rows[0])))

    customers = [Customer.objects.get(pk=world["customer"].pk)]
    customers += [ServiceFactory().customer for _ in range(11)]
    services = [ServiceFactory(customer=customers[n], product=world["product"]) for n in range(12)]
    queries = []
    for size in (3, 12):
        dataset = export_of(services[:size])
        with django_assert_max_num_queries(200) as context:
            plan = csv_import.preview(dataset, actor=admin_user)
        assert plan.unchanged == size, plan.rows
        queries.append(len(context.captured_queries))
    assert queries[1] - queries[0] == 2 * (12 - 3)
