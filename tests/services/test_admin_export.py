"""Exporting the filtered service list to CSV and XLSX, with no secret in it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from services.choices import ServiceStatus
from tests.factories import CustomerFactory, FakeServerFactory, ProductFactory, ServiceFactory

URL = "/admin/services/export/"
HEADERS = [
    "id",
    "uuid",
    "name",
    "customer_name",
    "customer_email",
    "product",
    "server",
    "module",
    "status",
    "price",
    "initial_price",
    "currency",
    "billing_cycle",
    "expires_at",
    "max_renewals",
    "renewal_count",
    "created_at",
]


@pytest.fixture
def secret_service(db):
    """A service whose server holds an API key and whose row holds module data and notes."""
    return ServiceFactory(
        name="Game server",
        customer=CustomerFactory(
            first_name="Bob", last_name="Owner", user__email="bob@example.com"
        ),
        product=ProductFactory(name="Minecraft 4 GB", module="test"),
        server=FakeServerFactory(name="EU-1"),  # credentials {"api_key": "secret-api-key-123"}
        status=ServiceStatus.ACTIVE,
        price=Decimal("8.00"),
        initial_price=Decimal("10.00"),
        max_renewals=12,
        module_data={"root_password": "hunter2-module-secret"},
        external_id="srv-external-77",
        notes="Staff note: never shown",
    )


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def xlsx_rows(response) -> list[list[object]]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]  # type: ignore[union-attr]  # a new workbook has a sheet


def test_the_export_lives_at_admin_services_export():
    assert reverse("admin:service_export") == URL


def test_the_csv_export_has_every_column(client, admin_user, secret_service):
    client.force_login(admin_user)

    response = client.get(URL, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="services-')
    header, row = csv_rows(response)
    assert header == HEADERS
    values = dict(zip(header, row, strict=True))
    assert values["id"] == str(secret_service.pk)
    assert values["uuid"] == str(secret_service.uuid)
    assert values["customer_name"] == "Bob Owner"
    assert values["customer_email"] == "bob@example.com"
    assert values["product"] == "Minecraft 4 GB"
    assert values["server"] == "EU-1"
    assert values["module"] == "test"
    assert values["status"] == "active"
    assert (values["price"], values["initial_price"], values["currency"]) == (
        "8.00",
        "10.00",
        "EUR",
    )
    assert values["billing_cycle"] == "monthly"
    assert values["max_renewals"] == "12"
    assert values["renewal_count"] == "0"
    assert values["expires_at"].startswith(f"{secret_service.expires_at:%Y-%m-%d}")


def test_the_xlsx_export_has_every_column_with_native_types(client, admin_user, secret_service):
    client.force_login(admin_user)

    response = client.get(URL, {"format": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    header, row = xlsx_rows(response)
    assert header == HEADERS
    values = dict(zip(header, row, strict=True))
    assert values["id"] == secret_service.pk
    assert values["customer_email"] == "bob@example.com"
    assert values["server"] == "EU-1"
    assert float(values["price"]) == 8.0
    assert values["expires_at"].date() == secret_service.expires_at.date()


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_no_secret_reaches_the_export(client, admin_user, secret_service, export_format):
    client.force_login(admin_user)

    response = client.get(URL, {"format": export_format})

    rows = csv_rows(response) if export_format == "csv" else xlsx_rows(response)
    text = repr(rows)
    for secret in (
        "secret-api-key-123",
        "api_key",
        "hunter2-module-secret",
        "srv-external-77",
        "Staff note",
    ):
        assert secret not in text


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_the_export_follows_the_filters_and_the_sort(client, admin_user, export_format):
    ServiceFactory(name="cheap", price=Decimal(1), status=ServiceStatus.ACTIVE)
    ServiceFactory(name="dear", price=Decimal(9), status=ServiceStatus.ACTIVE)
    ServiceFactory(name="pending", status=ServiceStatus.PENDING)
    client.force_login(admin_user)

    response = client.get(
        f"{URL}?status=active&sort=-price&cursor=ignored&per_page=50&format={export_format}"
    )

    rows = csv_rows(response) if export_format == "csv" else xlsx_rows(response)
    assert [row[2] for row in rows[1:]] == ["dear", "cheap"]


def test_a_formula_in_a_customer_name_is_exported_as_text(client, admin_user):
    ServiceFactory(name='=HYPERLINK("http://evil.example","x")')
    client.force_login(admin_user)

    _, row = csv_rows(client.get(URL, {"format": "csv"}))

    assert row[2] == '\'=HYPERLINK("http://evil.example","x")'


def test_invalid_filters_send_back_to_the_list_with_an_error(client, admin_user):
    client.force_login(admin_user)

    response = client.get(URL, {"format": "csv", "price_min": "-3"}, follow=True)

    assert response.redirect_chain[-1][0] == "/admin/services/?price_min=-3"
    assert "Correct the filters before exporting." in response.text


def test_an_unknown_format_sends_back_to_the_list(client, admin_user):
    client.force_login(admin_user)

    response = client.get(URL, {"format": "pdf"}, follow=True)

    assert "Export as CSV or XLSX." in response.text


def test_an_xlsx_export_above_the_cap_is_refused(client, admin_user, monkeypatch):
    monkeypatch.setattr("services.export.XLSX_MAX_ROWS", 2)
    ServiceFactory.create_batch(3)
    client.force_login(admin_user)

    response = client.get(URL, {"format": "xlsx"}, follow=True)

    assert "XLSX exports stop at 2 services" in response.text
    assert len(csv_rows(client.get(URL, {"format": "csv"}))) == 4  # CSV has no cap


def test_an_xlsx_export_at_the_cap_is_given(client, admin_user, monkeypatch):
    monkeypatch.setattr("services.export.XLSX_MAX_ROWS", 3)
    ServiceFactory.create_batch(3)
    client.force_login(admin_user)

    response = client.get(URL, {"format": "xlsx"})

    assert response.status_code == 200
    assert len(xlsx_rows(response)) == 4


def test_the_export_menu_states_the_xlsx_cap(client, admin_user, monkeypatch):
    monkeypatch.setattr("services.views.admin_list.XLSX_MAX_ROWS", 12_345)
    client.force_login(admin_user)

    response = client.get("/admin/services/")

    assert "XLSX (up to 12,345 services; use CSV beyond)" in response.text


def test_the_list_links_to_the_export_with_its_filters(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/admin/services/", {"status": "active", "cursor": "x"})

    assert f'href="{URL}?status=active&amp;format=csv"' in response.text
    assert f'href="{URL}?status=active&amp;format=xlsx"' in response.text


# Permissions -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    response = client.get(URL, {"format": "csv"})

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('admin:login')}?next=")


@pytest.mark.parametrize("persona", ["customer", "plain_staff"])
def test_customers_and_staff_without_the_view_permission_are_refused(db, client, request, persona):
    person = request.getfixturevalue(persona)
    client.force_login(getattr(person, "user", person))

    assert client.get(URL, {"format": "csv"}).status_code == 403


@pytest.mark.parametrize("persona", ["support_user", "admin_user"])
def test_staff_with_the_view_permission_may_export(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(URL, {"format": "csv"}).status_code == 200
