"""The customer's services in the client area: the list, the details page, the management
tabs, and cancelling (or undoing a scheduled cancellation) through the lifecycle."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from products.choices import BillingCycle
from services import lifecycle
from services.choices import CancelWhen, EventSource, ServiceStatus
from services.models import Service, ServiceEvent, ServiceRenewal
from tests.factories import ProductFactory, ServiceFactory

S = ServiceStatus


@pytest.fixture
def bob(client, customer):
    """The test client signed in as Bob."""
    client.force_login(customer.user)
    return client


def detail_url(service: Service) -> str:
    return reverse("client:service_detail", args=[service.pk])


def cancel(client, service: Service, when: str = CancelWhen.NOW, reason: str = ""):
    return client.post(
        reverse("client:service_cancel", args=[service.pk]),
        {"when": when, "reason": reason},
        follow=True,
    )


# The list ---------------------------------------------------------------------------------


def test_the_list_shows_every_status_of_bobs_services_and_never_charlies(
    bob, customer, other_customer
):
    for status in S.values:
        ServiceFactory(customer=customer, name=f"bob-{status}", status=status)
    ServiceFactory(customer=other_customer, name="charlie-active", status=S.ACTIVE)

    response = bob.get(reverse("client:service_list"))

    names = [service.name for service in response.context["services"]]
    assert names == [f"bob-{status}" for status in reversed(S.values)]  # newest first
    assert "charlie-active" not in response.text
    assert reverse("client:service_detail", args=[response.context["services"][0].pk]) in (
        response.text
    )


def test_the_list_hints_at_a_scheduled_cancellation(bob, make_service):
    make_service(S.ACTIVE, cancel_at=timezone.now() + timedelta(days=3))

    response = bob.get(reverse("client:service_list"))

    assert "Cancellation scheduled on" in response.text


def test_the_list_is_paginated_by_25(bob, customer):
    ServiceFactory.create_batch(26, customer=customer, product=None)

    first = bob.get(reverse("client:service_list"))
    second = bob.get(reverse("client:service_list"), {"page": 2})

    assert len(first.context["services"]) == 25
    assert len(second.context["services"]) == 1


@pytest.mark.parametrize("rows", [3, 30])
def test_the_list_query_count_does_not_grow_with_the_services(
    bob, customer, django_assert_num_queries, rows
):
    ServiceFactory.create_batch(rows, customer=customer, product=ProductFactory())

    # 1. the signed-in user (the session is read from the cache); 2. their customer
    # profile; 3. the paginator's COUNT of their services; 4. one page of them, with their
    # products; 5. the settings staff change (renewal grace days, for the actions offered),
    # read once into the cache, so none once warm (the tests start with it empty).
    with django_assert_num_queries(5):
        response = bob.get(reverse("client:service_list"))

    assert len(response.context["services"]) == min(rows, 25)


def test_the_home_links_to_the_list_and_to_each_service(bob, make_service):
    service = make_service(S.ACTIVE)

    response = bob.get(reverse("client:home"))

    assert reverse("client:service_list") in response.text
    assert detail_url(service) in response.text


# The details page ------------------------------------------------------------------------


def test_the_details_show_what_bob_bought_and_his_renewals(bob, make_service):
    service = make_service(S.ACTIVE, description="Your game server in Paris.")
    ServiceRenewal.objects.create(
        service=service,
        old_expires_at=timezone.now() - timedelta(days=30),
        new_expires_at=timezone.now(),
        price=Decimal("12.34"),
        source=EventSource.ADMIN,
    )

    response = bob.get(detail_url(service))

    assert response.status_code == 200
    assert service.name in response.text
    assert "Your game server in Paris." in response.text
    assert service.product.name in response.text
    assert "12.34" in response.text
    assert 'id="renew-button"' in response.text  # billing's Renew card, an active service


def test_the_details_never_show_what_staff_keep_about_the_service(bob, make_service):
    service = make_service(
        S.SUSPENDED,
        notes="staff-only-note",
        external_id="res-secret-42",
        module_data={"root_password": "hunter2"},
        suspend_reason="unpaid-invoice-internal",
        last_delivery_error="panel-stack-trace",
    )

    response = bob.get(detail_url(service))
    tab = bob.get(reverse("client:service_tab", args=[service.pk, "overview"]))

    assert "Suspended" in response.text
    assert tab.status_code == 200
    assert 'data-fake-tab="overview"' in tab.text
    assert "res-secret-42" not in tab.text
    for secret in (
        "staff-only-note",
        "res-secret-42",
        "hunter2",
        "unpaid-invoice-internal",
        "panel-stack-trace",
        "secret-api-key-123",  # the server's credentials
    ):
        assert secret not in response.text


def test_the_details_page_query_count(bob, make_service, django_assert_num_queries):
    service = make_service(S.ACTIVE)

    # 1. the user (the session is read from the cache); 2. the customer; 3. the service
    # with its product; 4. its latest renewals. The tabs are loaded afterwards by htmx.
    # 5. the settings staff change (renewal grace days, for the actions offered), read
    # once into the cache, so none once warm (the tests start with it empty).
    with django_assert_num_queries(5):
        bob.get(detail_url(service))


# Who may see what ------------------------------------------------------------------------


def client_urls(service: Service) -> list[tuple[str, str]]:
    return [
        ("get", detail_url(service)),
        ("get", reverse("client:service_tab", args=[service.pk, "overview"])),
        ("post", reverse("client:service_cancel", args=[service.pk])),
        ("post", reverse("client:service_uncancel", args=[service.pk])),
    ]


def test_charlie_gets_404_on_bobs_service_and_nothing_changes(client, other_customer, make_service):
    service = make_service(S.ACTIVE, cancel_at=timezone.now() + timedelta(days=30))
    client.force_login(other_customer.user)

    for method, url in client_urls(service):
        response = getattr(client, method)(url, {"when": CancelWhen.NOW})
        assert response.status_code == 404, url

    service.refresh_from_db()
    assert service.status == S.ACTIVE
    assert service.cancel_at is not None
    assert not ServiceEvent.objects.exists()


def test_staff_are_refused_the_client_pages(client, admin_user, make_service):
    service = make_service(S.ACTIVE)
    client.force_login(admin_user)

    assert client.get(reverse("client:service_list")).status_code == 403
    for method, url in client_urls(service):
        assert getattr(client, method)(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_client_login(client, make_service):
    service = make_service(S.ACTIVE)
    login = reverse("client:login")

    for url in [reverse("client:service_list"), *(url for _m, url in client_urls(service))]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(f"{login}?next=")


@pytest.mark.parametrize("name", ["client:service_cancel", "client:service_uncancel"])
def test_a_get_on_an_action_is_405(bob, make_service, name):
    service = make_service(S.ACTIVE)

    assert bob.get(reverse(name, args=[service.pk])).status_code == 405


def test_an_action_needs_the_csrf_token(customer, make_service):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer.user)
    service = make_service(S.ACTIVE)

    response = strict.post(reverse("client:service_cancel", args=[service.pk]), {"when": "now"})

    assert response.status_code == 403
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


# Cancelling ------------------------------------------------------------------------------


def test_bob_cancels_now(bob, customer, make_service):
    service = make_service(S.ACTIVE)

    response = cancel(bob, service, CancelWhen.NOW, reason="Too expensive")

    service.refresh_from_db()
    assert service.status == S.CANCELLED
    assert service.cancel_reason == "Too expensive"
    event = service.events.get()
    assert (event.action, event.source, event.actor) == ("cancel", "client", customer.user)
    assert f"Service #{service.pk} is cancelled." in response.text
    assert response.redirect_chain[-1][0] == detail_url(service)


def test_bob_schedules_a_cancellation_at_the_end_of_the_period_and_undoes_it(
    bob, customer, make_service
):
    service = make_service(S.ACTIVE)

    response = cancel(bob, service, CancelWhen.END_OF_PERIOD)

    service.refresh_from_db()
    assert service.status == S.ACTIVE
    assert service.cancel_at == service.expires_at
    event = service.events.get()
    assert (event.action, event.source, event.actor) == ("schedule_cancel", "client", customer.user)
    assert "will be cancelled on" in response.text
    assert "Cancellation scheduled on" in response.text
    assert reverse("client:service_uncancel", args=[service.pk]) in response.text

    response = bob.post(reverse("client:service_uncancel", args=[service.pk]), follow=True)

    service.refresh_from_db()
    assert service.cancel_at is None
    undo = service.events.get(action="uncancel")
    assert (undo.source, undo.actor) == ("client", customer.user)
    assert "will no longer be cancelled" in response.text
    assert "Cancellation scheduled on" not in response.text


def test_a_refused_cancellation_shows_the_lifecycles_message(bob, make_service):
    service = make_service(S.TERMINATED)

    response = cancel(bob, service, CancelWhen.NOW)

    assert f"Cannot cancel service #{service.pk}: it is terminated." in response.text
    assert Service.objects.get(pk=service.pk).status == S.TERMINATED


def test_a_module_failure_while_cancelling_is_told_without_its_details(bob, make_service):
    service = make_service(S.ACTIVE, fail="terminate")

    response = cancel(bob, service, CancelWhen.NOW)

    assert "could not be changed right now" in response.text
    assert "refused to terminate" not in response.text
    assert Service.objects.get(pk=service.pk).status == S.ACTIVE


@pytest.mark.parametrize(
    ("status", "fields", "whens"),
    [
        (S.ACTIVE, {}, ["end_of_period", "now"]),
        (S.SUSPENDED, {}, ["end_of_period", "now"]),
        (S.EXPIRED, {}, ["now"]),  # its paid period is over
        (S.PENDING, {}, ["now"]),  # not delivered: no paid period
        (S.ACTIVE, {"billing_cycle": BillingCycle.ONE_TIME, "expires_at": None}, ["now"]),
        (S.CANCELLED, {}, None),
        (S.TERMINATED, {}, None),
    ],
)
def test_cancelling_is_offered_as_the_lifecycle_allows(bob, make_service, status, fields, whens):
    service = make_service(status, **fields)

    form = bob.get(detail_url(service)).context["cancel_form"]

    assert (form and [value for value, _label in form.fields["when"].choices]) == whens


def test_undo_is_offered_only_when_a_cancellation_is_scheduled(bob, make_service):
    plain = make_service(S.ACTIVE)
    scheduled = make_service(
        S.ACTIVE, cancel_at=timezone.now() + timedelta(days=30), cancel_source="client"
    )

    assert bob.get(detail_url(plain)).context["can_uncancel"] is False
    assert bob.get(detail_url(scheduled)).context["can_uncancel"] is True


def test_bob_cannot_undo_a_cancellation_that_staff_scheduled(bob, admin_user, make_service):
    service = make_service(S.ACTIVE, expires_at=timezone.now() + timedelta(days=30))
    lifecycle.cancel(
        service,
        actor=admin_user,
        source="admin",
        when=CancelWhen.END_OF_PERIOD,
        reason="abuse: staff decision",
    )

    page = bob.get(detail_url(service))
    response = bob.post(reverse("client:service_uncancel", args=[service.pk]), follow=True)

    assert page.context["can_uncancel"] is False
    assert reverse("client:service_uncancel", args=[service.pk]) not in page.text
    assert "Our staff scheduled it" in page.text
    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        (
            "error",
            f"Cannot undo the cancellation of service #{service.pk}: our staff scheduled this "
            "cancellation: contact us to keep the service.",
        )
    ]
    service.refresh_from_db()
    assert service.cancel_at == service.expires_at
    assert not service.events.filter(action="uncancel").exists()


# Management tabs -------------------------------------------------------------------------


def test_bob_sees_the_customer_tab_but_never_the_staff_only_console(bob, make_service):
    service = make_service(S.ACTIVE)
    overview = reverse("client:service_tab", args=[service.pk, "overview"])

    page = bob.get(detail_url(service))
    tab = bob.get(overview)

    assert overview in page.text
    assert "Console" not in page.text
    assert tab.status_code == 200
    assert 'data-fake-tab="overview"' in tab.text
    assert "Console" not in tab.text
    assert bob.get(reverse("client:service_tab", args=[service.pk, "console"])).status_code == 404


def test_htmx_gets_only_the_tab(bob, make_service):
    service = make_service(S.ACTIVE)

    response = bob.get(
        reverse("client:service_tab", args=[service.pk, "overview"]), HTTP_HX_REQUEST="true"
    )

    assert 'data-fake-tab="overview"' in response.text
    assert "<nav" not in response.text


def test_a_failing_tab_is_contained_in_an_error_panel(bob, make_service):
    service = make_service(S.ACTIVE, fail="tab")

    response = bob.get(reverse("client:service_tab", args=[service.pk, "overview"]))

    assert response.status_code == 200
    assert "This tab could not be shown." in response.text
    assert "The test panel refused to tab." in response.text
