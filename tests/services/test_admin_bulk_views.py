"""The bulk-action pages: confirmation, start, progress, retry, history, permissions."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from services import bulk, tasks
from services.choices import BulkItemState, BulkStatus, ServiceStatus
from services.models import BulkOperation, Service
from tests.factories import StaffFactory

S = ServiceStatus
CONFIRM = reverse("admin:service_bulk_confirm")


def test_the_confirmation_says_how_many_change_and_how_many_are_skipped_and_why(
    client, admin_user, make_service
):
    chosen = [
        make_service(S.ACTIVE),
        make_service(S.ACTIVE),
        make_service(S.SUSPENDED),
        make_service(S.PENDING),
    ]
    client.force_login(admin_user)

    response = client.post(CONFIRM, {"action": "suspend", "ids": [s.pk for s in chosen]})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong data-figure="changing">2</strong> will be changed' in html
    assert '<strong data-figure="skipping">2</strong> will be skipped' in html
    assert "1: it is already suspended" in html
    assert "1: it is pending" in html
    assert not BulkOperation.objects.exists()
    assert Service.objects.filter(status=S.SUSPENDED).count() == 1


def test_changing_the_settings_updates_the_figures(client, admin_user, make_service):
    capped = make_service(S.ACTIVE, max_renewals=2, renewal_count=1)
    client.force_login(admin_user)

    one = client.post(CONFIRM, {"action": "renew", "ids": [capped.pk], "cycles": 1, "update": "1"})
    two = client.post(CONFIRM, {"action": "renew", "ids": [capped.pk], "cycles": 2, "update": "1"})

    assert '<strong data-figure="changing">1</strong>' in one.content.decode()
    assert '<strong data-figure="changing">0</strong>' in two.content.decode()
    assert "its maximum number of renewals would be passed" in two.content.decode()


def test_confirming_creates_the_operation_and_queues_it_after_commit(
    client, admin_user, make_service, django_capture_on_commit_callbacks, monkeypatch
):
    service = make_service(S.ACTIVE)
    queued = []
    monkeypatch.setattr(tasks.run_bulk_operation, "delay", queued.append)
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CONFIRM,
            {
                "action": "suspend",
                "ids": [service.pk],
                "reason": "abuse",
                "notify": "",
                "confirm": "1",
            },
        )

    operation = BulkOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bulk_detail", args=[operation.pk])
    assert queued == [operation.pk]
    assert (operation.action, operation.service_ids, operation.created_by) == (
        "suspend",
        [service.pk],
        admin_user,
    )
    assert operation.params == {"reason": "abuse", "notify": False}
    service.refresh_from_db()
    assert service.status == S.ACTIVE  # nothing runs before the worker does


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "suspend"}, "Select at least one service"),
        ({"action": "explode", "ids": [1]}, "This bulk action is not valid"),
    ],
)
def test_an_invalid_selection_goes_back_to_the_list_with_a_message(
    client, admin_user, data, message
):
    client.force_login(admin_user)

    response = client.post(CONFIRM, data, follow=False)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:service_list"))
    stored = [str(m) for m in response.wsgi_request._messages]
    assert any(message in m for m in stored)


def test_invalid_settings_are_shown_and_nothing_starts(client, admin_user, make_service):
    service = make_service(S.ACTIVE)
    client.force_login(admin_user)

    response = client.post(
        CONFIRM, {"action": "add_days", "ids": [service.pk], "days": "0", "confirm": "1"}
    )

    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()
    assert not BulkOperation.objects.exists()


def test_the_progress_fragment_polls_while_running_and_refreshes_the_page_when_done(
    client, admin_user, make_service
):
    service = make_service(S.ACTIVE)
    operation = BulkOperation.objects.create(
        action="suspend", service_ids=[service.pk], created_by=admin_user
    )
    client.force_login(admin_user)
    url = reverse("admin:bulk_detail", args=[operation.pk])

    running = client.get(url, {"fragment": "progress", "polling": "1"})
    tasks.run_bulk_operation(operation.pk)
    done = client.get(url, {"fragment": "progress", "polling": "1"})

    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert "HX-Refresh" not in running
    assert 'hx-trigger="every 1s"' not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_the_result_page_lists_each_service_and_offers_to_retry_the_failed(
    client, admin_user, make_service
):
    fine, broken = make_service(S.ACTIVE), make_service(S.ACTIVE, fail="suspend")
    operation = BulkOperation.objects.create(
        action="suspend", service_ids=[fine.pk, broken.pk], created_by=admin_user
    )
    tasks.run_bulk_operation(operation.pk)
    client.force_login(admin_user)

    page = client.get(reverse("admin:bulk_detail", args=[operation.pk])).content.decode()
    failed_only = client.get(reverse("admin:bulk_detail", args=[operation.pk]), {"state": "failed"})

    assert f'data-service="{fine.pk}" data-state="done"' in page
    assert f'data-service="{broken.pk}" data-state="failed"' in page
    assert "The test panel refused to suspend." in page
    assert "Retry the 1 failed" in page
    assert f'href="{reverse("admin:service_detail", args=[fine.pk])}"' in page
    assert f'data-service="{fine.pk}"' not in failed_only.content.decode()


def test_retrying_queues_the_failed_items(
    client, admin_user, make_service, django_capture_on_commit_callbacks, monkeypatch
):
    broken = make_service(S.ACTIVE, fail="suspend")
    operation = BulkOperation.objects.create(
        action="suspend", service_ids=[broken.pk], created_by=admin_user
    )
    tasks.run_bulk_operation(operation.pk)
    queued = []
    monkeypatch.setattr(tasks.run_bulk_operation, "delay", queued.append)
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:bulk_retry", args=[operation.pk]))

    assert response.status_code == 302
    assert queued == [operation.pk]
    operation.refresh_from_db()
    assert operation.status == BulkStatus.PENDING
    assert operation.items.get().state == BulkItemState.PENDING


def test_the_history_lists_who_ran_what_with_a_query_count_independent_of_its_length(
    client, admin_user, make_service, django_assert_num_queries
):
    service = make_service(S.ACTIVE)
    for _ in range(3):
        BulkOperation.objects.create(
            action="renew", service_ids=[service.pk], created_by=admin_user
        )
    client.force_login(admin_user)

    # user (the session is read from the cache), COUNT of operations for the paginator,
    # the page with its item counts.
    with django_assert_num_queries(3):
        few = client.get(reverse("admin:bulk_list"))
    for _ in range(20):
        BulkOperation.objects.create(
            action="renew", service_ids=[service.pk], created_by=admin_user
        )
    with django_assert_num_queries(3):
        many = client.get(reverse("admin:bulk_list"))

    assert few.status_code == many.status_code == 200
    assert "Alice Admin" in few.content.decode()


# The permission matrix ------------------------------------------------------------------


@pytest.fixture
def changer(db):
    """Staff who may change services but not delete them."""
    user = StaffFactory()
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_service", "change_service"])
    )
    return user


@pytest.fixture
def operation(db, admin_user, make_service):
    return BulkOperation.objects.create(
        action="suspend", service_ids=[make_service(S.ACTIVE).pk], created_by=admin_user
    )


def pages(operation):
    return {
        "history": ("get", reverse("admin:bulk_list"), {}),
        "detail": ("get", reverse("admin:bulk_detail", args=[operation.pk]), {}),
        "confirm suspend": ("post", CONFIRM, {"action": "suspend", "ids": operation.service_ids}),
        "confirm delete": ("post", CONFIRM, {"action": "delete", "ids": operation.service_ids}),
        "retry": ("post", reverse("admin:bulk_retry", args=[operation.pk]), {}),
    }


EXPECTED = {
    # persona: history, detail, confirm suspend, confirm delete, retry
    "anonymous": ("login", "login", "login", "login", "login"),
    "customer": (403, 403, 403, 403, 403),
    "plain_staff": (403, 403, 403, 403, 403),
    "support_user": (200, 200, 403, 403, 403),
    "changer": (200, 200, 200, 403, 302),
    "admin_user": (200, 200, 200, 200, 302),
}


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_permission_matrix(persona, request, client, operation):
    if persona != "anonymous":
        user = request.getfixturevalue(persona)
        client.force_login(getattr(user, "user", user))
    for (name, (method, url, data)), expected in zip(
        pages(operation).items(), EXPECTED[persona], strict=True
    ):
        response = getattr(client, method)(url, data)
        if expected == "login":
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("admin:login")), name
        else:
            assert response.status_code == expected, name


def test_a_get_on_the_confirmation_is_refused(client, admin_user):
    client.force_login(admin_user)

    assert client.get(CONFIRM).status_code == 405


def test_every_matching_service_is_counted_by_running_the_filters_again(
    client, admin_user, make_service
):
    for _ in range(3):
        make_service(S.SUSPENDED)
    make_service(S.ACTIVE)
    client.force_login(admin_user)

    response = client.post(
        CONFIRM,
        # The ids are ignored with select_all: the server trusts only the filters.
        {"action": "unsuspend", "select_all": "1", "ids": ["1"], "query": "status=suspended"},
    )

    html = response.content.decode()
    assert "Every service that matches the current filters" in html
    assert '<strong data-figure="changing">3</strong>' in html
    assert '<strong data-figure="skipping">0</strong>' in html


def test_invalid_filters_go_back_to_the_list_with_their_errors(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        CONFIRM, {"action": "suspend", "select_all": "1", "query": "price_min=abc"}
    )

    assert response.status_code == 302
    assert "price_min=abc" in response["Location"]
    assert any("filters are not valid" in str(m) for m in response.wsgi_request._messages)


@pytest.fixture
def counted_at_once(monkeypatch):
    """The confirmation counts two services at once: three make a large selection."""
    monkeypatch.setattr(bulk, "COUNTED_AT_ONCE", 2)


LARGE = {"action": "suspend", "select_all": "1", "query": "status=active"}


def test_a_large_selection_shows_at_once_without_counting_and_asks_for_the_figures(
    client, admin_user, make_service, counted_at_once
):
    for _ in range(3):
        make_service(S.ACTIVE)
    client.force_login(admin_user)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(CONFIRM, LARGE)

    html = response.content.decode()
    assert '<strong data-figure="total">more than 2</strong>' in html
    assert 'data-figure="changing"' not in html
    assert re.search(r'<button type="submit" name="confirm"[^>]* disabled', html)
    assert "Suspend the matching services" in html
    assert 'hx-vals=\'{"fragment": "plan", "count": "1"}\'' in html
    # Only the bounded probe read the services: no GROUP BY over the selection.
    assert not [q for q in queries if "GROUP BY" in q["sql"]]
    assert [q for q in queries if "LIMIT 3" in q["sql"] and "services_service" in q["sql"]]


def test_the_figures_of_a_large_selection_replace_the_counting_and_enable_the_button(
    client, admin_user, make_service, counted_at_once
):
    for _ in range(3):
        make_service(S.ACTIVE)
    make_service(S.ACTIVE)
    client.force_login(admin_user)

    response = client.post(CONFIRM, {**LARGE, "fragment": "plan", "count": "1"})

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card shadow-sm" id="bulk-plan">')
    assert '<strong data-figure="changing">4</strong> will be changed' in html
    assert re.search(r'<button [^>]*id="bulk-confirm-button"[^>]*hx-swap-oob="true"', html)
    assert "Suspend 4 services" in html
    assert " disabled" not in html


def test_the_figures_request_never_starts_the_operation(
    client, admin_user, make_service, counted_at_once
):
    for _ in range(3):
        make_service(S.ACTIVE)
    client.force_login(admin_user)

    client.post(CONFIRM, {**LARGE, "fragment": "plan", "count": "1", "confirm": "1"})

    assert not BulkOperation.objects.exists()


def test_without_javascript_the_count_button_shows_the_whole_page_with_the_figures(
    client, admin_user, make_service, counted_at_once
):
    for _ in range(3):
        make_service(S.ACTIVE)
    make_service(S.SUSPENDED)
    client.force_login(admin_user)

    first = client.post(CONFIRM, {**LARGE, "query": ""}).content.decode()
    counted = client.post(CONFIRM, {**LARGE, "query": "", "count": "1"}).content.decode()

    assert '<noscript><button type="submit" name="count" value="1"' in first
    assert "<h1" in counted
    assert '<strong data-figure="changing">3</strong> will be changed' in counted
    assert "1: it is already suspended" in counted
