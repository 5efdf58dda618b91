"""Importing a resource that already exists on a server, in two steps."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.models import Service
from tests.factories import FakeServerFactory

S = ServiceStatus
URL = "/admin/services/import/"
RESOURCES_URL = "/admin/services/import/resources/"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def step2_url(customer) -> str:
    return f"{URL}?customer={customer.pk}&product=&module=test&step=2"


def import_data(customer, server, resource: str, **fields) -> dict:
    return {
        "customer": customer.pk,
        "product": "",
        "module": "test",
        "server": server.pk,
        "resource_id": resource,
        "name": "Imported VM",
        "billing_cycle": BillingCycle.MONTHLY,
        "price": "5.00",
        "initial_price": "5.00",
        "expires_at": "2030-01-01T10:00",
        "description": "",
        "notes": "",
        "max_renewals": "",
        **fields,
    }


def test_the_pages_live_at_their_urls():
    assert reverse("admin:service_import") == URL
    assert reverse("admin:service_import_resources") == RESOURCES_URL


def test_step_one_offers_only_the_types_that_can_import(client, staff):
    response = client.get(URL)

    assert response.context["target_form"].fields["module"].choices == [
        ("proxmox", "Proxmox VE"),
        ("pterodactyl", "Pterodactyl"),
        ("test", "Test panel"),
    ]  # manual, which cannot import, is not offered
    assert "do not create an invoice" in response.text


def test_step_two_lists_the_resources_of_the_only_server(client, staff, customer):
    server = FakeServerFactory()

    response = client.get(step2_url(customer))

    assert response.context["form"].initial["server"] == server.pk
    assert [r.id for r, _ in response.context["resources"]] == [f"vm-{n}" for n in range(1, 6)]
    assert 'name="resource_id" value="vm-3"' in response.text


def test_step_two_waits_for_a_server_when_there_are_several(client, staff, customer):
    FakeServerFactory.create_batch(2)

    response = client.get(step2_url(customer))

    assert response.context["server"] is None
    assert "Choose a server to see its resources." in response.text


def test_choosing_a_server_reloads_its_resources(client, staff):
    server = FakeServerFactory()

    response = client.get(RESOURCES_URL, {"server": server.pk}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.text.count('name="resource_id"') == 5


def test_a_resource_already_linked_is_shown_with_its_service_and_cannot_be_chosen(
    client, staff, make_service
):
    server = FakeServerFactory()
    owner = make_service(S.ACTIVE, server=server, external_id="vm-2", name="Web box")

    response = client.get(RESOURCES_URL, {"server": server.pk})

    linked = {resource.id: service for resource, service in response.context["resources"]}
    assert {key: service for key, service in linked.items() if service} == {"vm-2": owner}
    assert f'Already linked to <a href="/admin/services/{owner.pk}/">service #{owner.pk}' in (
        response.text
    )
    assert re.search(r'value="vm-2"\s+disabled', response.text)
    assert not re.search(r'value="vm-3"\s+disabled', response.text)


def test_a_listing_error_of_the_module_is_shown_in_place_of_the_list(client, staff):
    server = FakeServerFactory(fail="list")

    response = client.get(RESOURCES_URL, {"server": server.pk})

    assert response.status_code == 200
    assert "could not be listed: The test panel refused to list." in response.text


def test_importing_links_the_resource_and_makes_the_service_active(client, staff, customer):
    server = FakeServerFactory()

    response = client.post(URL, import_data(customer, server, "vm-3"), follow=True)

    service = Service.objects.get()
    assert (service.status, service.server, service.external_id) == (S.ACTIVE, server, "vm-3")
    assert service.module_data == {"hostname": "", "imported": True}
    assert [e.action for e in service.events.order_by("id")] == ["create", "import"]
    assert response.redirect_chain[-1][0] == f"/admin/services/{service.pk}/"
    assert "Resource vm-3 imported as service" in response.text


def test_a_resource_already_linked_cannot_be_imported_twice(client, staff, customer, make_service):
    server = FakeServerFactory()
    owner = make_service(S.SUSPENDED, server=server, external_id="vm-1", name="Web box")

    response = client.post(URL, import_data(customer, server, "vm-1"))

    assert response.context["form"].errors["resource_id"] == [
        f"Resource vm-1 is already linked to service #{owner.pk} (Web box): it cannot be "
        "imported twice."
    ]
    assert list(Service.objects.all()) == [owner]


def test_a_resource_of_an_ended_service_can_be_imported_again(
    client, staff, customer, make_service
):
    server = FakeServerFactory()
    make_service(S.TERMINATED, server=server, external_id="vm-1")

    client.post(URL, import_data(customer, server, "vm-1"))

    assert Service.objects.filter(status=S.ACTIVE, external_id="vm-1").count() == 1


def test_a_failed_import_keeps_nothing_and_says_why(client, staff, customer):
    server = FakeServerFactory(fail="import")

    response = client.post(URL, import_data(customer, server, "vm-4"))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The test panel refused to import."]
    assert not Service.objects.exists()


def test_a_resource_the_module_does_not_know_is_refused(client, staff, customer):
    server = FakeServerFactory()

    response = client.post(URL, import_data(customer, server, "vm-99"))

    assert response.context["form"].non_field_errors() == ["No resource vm-99 on the test panel."]
    assert not Service.objects.exists()


def test_an_import_needs_a_resource(client, staff, customer):
    server = FakeServerFactory()

    response = client.post(URL, import_data(customer, server, ""))

    assert response.context["form"].errors["resource_id"] == ["Choose a resource."]
