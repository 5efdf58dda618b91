"""The management tabs of a service: sorted, filtered by audience and permission, and a
module's failure contained in its tab."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from delivery.modules.base import Audience, Tab
from services.choices import ServiceStatus
from services.tabs import tabs_for
from tests.factories import ServiceFactory
from tests.fakes.modules import FakeModule

S = ServiceStatus


def tab_url(service, key: str) -> str:
    return f"/admin/services/{service.pk}/tabs/{key}/"


def keys(tabset) -> list[str]:
    return [tab.key for tab in tabset.tabs]


def test_each_tab_has_its_own_url(make_service):
    service = make_service()

    assert reverse("admin:service_tab", args=[service.pk, "overview"]) == tab_url(
        service, "overview"
    )


# Which tabs, in which order --------------------------------------------------------------


def test_staff_with_the_permission_see_both_tabs_sorted_by_order(make_service, admin_user):
    assert keys(tabs_for(make_service(), Audience.STAFF, admin_user)) == ["overview", "console"]


def test_a_tab_needing_a_permission_is_hidden_from_staff_without_it(make_service, support_user):
    assert keys(tabs_for(make_service(), Audience.STAFF, support_user)) == ["overview"]


def test_customers_never_see_a_staff_only_tab(make_service, admin_user, customer):
    service = make_service()

    # Even a user holding every permission: the audience alone hides the Console.
    assert keys(tabs_for(service, Audience.CUSTOMER, admin_user)) == ["overview"]
    assert keys(tabs_for(service, Audience.CUSTOMER, customer.user)) == ["overview"]


def test_a_module_without_tabs_has_none(admin_user, customer):
    service = ServiceFactory(customer=customer, product=None, module="manual")

    assert tabs_for(service, Audience.STAFF, admin_user).tabs == []


def test_a_module_that_fails_to_list_its_tabs_gets_an_error_not_a_crash(
    make_service, admin_user, monkeypatch, caplog
):
    def broken(self, service, audience):
        raise RuntimeError("bug in the module")

    monkeypatch.setattr(FakeModule, "tabs", broken)

    tabset = tabs_for(make_service(), Audience.STAFF, admin_user)

    assert tabset.tabs == []
    assert tabset.error == "The delivery module could not list the tabs of this service."
    assert "failed to list its tabs" in caplog.text


# Rendering -------------------------------------------------------------------------------


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def test_the_details_page_loads_the_first_tab_after_the_page(client, staff, make_service):
    service = make_service()

    response = client.get(f"/admin/services/{service.pk}/")

    assert 'data-tab="overview"' in response.text
    assert 'data-tab="console"' in response.text
    assert f'hx-get="{tab_url(service, "overview")}" hx-trigger="load"' in response.text


def test_a_tab_opened_by_its_url_is_the_whole_page_with_the_tab_rendered(
    client, staff, make_service
):
    service = make_service()

    response = client.get(tab_url(service, "console"))

    assert response.status_code == 200
    assert "<html" in response.text
    assert 'data-fake-tab="console"' in response.text
    assert 'data-tab-panel="console"' in response.text


def test_htmx_gets_only_the_tabs(client, staff, make_service):
    service = make_service()

    response = client.get(tab_url(service, "overview"), headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div class="service-tabs">')
    assert 'data-fake-tab="overview"' in response.text
    assert "512 MB" in response.text


def test_a_failing_tab_shows_an_error_panel_inside_the_tab(client, staff, make_service, caplog):
    service = make_service(fail="tab")

    with caplog.at_level(logging.ERROR, logger="services.tabs"):
        response = client.get(tab_url(service, "overview"))

    assert response.status_code == 200
    assert "This tab could not be shown.</strong> The test panel refused to tab." in response.text
    assert 'data-tab="console"' in response.text  # The other tabs and the page are all there.
    assert 'id="service-history"' in response.text
    assert "Tab 'overview' of service" in caplog.text


def test_a_tab_that_breaks_for_another_reason_says_little_and_logs_all(
    client, staff, make_service, monkeypatch, caplog
):
    def tabs(self, service, audience):
        return [Tab(key="broken", label="Broken", template="fake_module/missing.html")]

    monkeypatch.setattr(FakeModule, "tabs", tabs)
    service = make_service()

    response = client.get(tab_url(service, "broken"))

    assert response.status_code == 200
    assert "The delivery module failed to render this tab." in response.text
    assert "fake_module/missing.html" not in response.text
    assert "TemplateDoesNotExist" in caplog.text


def test_an_unknown_tab_is_404(client, staff, make_service):
    assert client.get(tab_url(make_service(), "nope")).status_code == 404


def test_a_tab_hidden_by_its_permission_is_404(client, support_user, make_service):
    client.force_login(support_user)
    service = make_service()

    assert client.get(tab_url(service, "overview")).status_code == 200
    assert client.get(tab_url(service, "console")).status_code == 404
