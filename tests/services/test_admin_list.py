"""The staff service list: who may see it, what it shows, its tabs, sorting and pages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from services.choices import ServiceStatus
from services.filters import SORT_CHOICES, SORT_COLUMNS, ordering_for
from services.models import Service
from services.pagination import KeysetPaginator, order_expressions
from services.views.admin_list import LIST_FIELDS
from tests.factories import FakeServerFactory, ProductFactory, ServiceFactory, StaffFactory
from tests.services.list_fixtures import (  # noqa: F401 (fixtures)
    varied_services_fixture,
)

URL = "/admin/services/"


def names(response) -> list[str]:
    return [service["name"] for service in response.context["services"]]


# Permissions -------------------------------------------------------------------------------


def test_the_list_lives_at_admin_services():
    assert reverse("admin:service_list") == URL


def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response.url == f"{reverse('admin:login')}?next={URL}"


@pytest.mark.parametrize("persona", ["customer", "plain_staff"])
def test_customers_and_staff_without_the_view_permission_are_refused(db, client, request, persona):
    person = request.getfixturevalue(persona)
    client.force_login(getattr(person, "user", person))

    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("persona", ["support_user", "admin_user"])
def test_staff_with_the_view_permission_see_the_list(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(URL).status_code == 200


# What it shows -----------------------------------------------------------------------------


def test_each_row_shows_every_column(client, admin_user, varied_services):
    alpha = varied_services["alpha"]
    client.force_login(admin_user)

    response = client.get(URL)

    row = response.text.split(f'data-service="{alpha.pk}"')[1].split("</tr>")[0]
    for shown in (
        f"#{alpha.pk}",
        "Alpha",
        "Anna Adams",
        "anna@example.com",
        "Aardvark hosting",
        "A-node",
        '<td><span class="badge text-bg-success" data-status="active">Active</span></td>',
        "1.00 EUR",
        "Monthly",
        date_format(timezone.localtime(alpha.expires_at), "DATE_FORMAT"),
        "in 1 day",
        date_format(timezone.localtime(alpha.created_at), "DATE_FORMAT"),
    ):
        assert shown in row, shown


def test_each_status_has_its_badge_the_light_one_outlined(client, admin_user):
    ServiceFactory(status=ServiceStatus.CANCELLED)
    ServiceFactory(status=ServiceStatus.SUSPENDED)
    client.force_login(admin_user)

    html = client.get(URL).text

    assert (
        '<span class="badge text-bg-light border border-secondary-subtle" '
        'data-status="cancelled">Cancelled</span>'
    ) in html
    assert '<span class="badge text-bg-danger" data-status="suspended">Suspended</span>' in html


def test_a_service_without_product_server_or_expiration_says_so(
    client, admin_user, varied_services
):
    charlie = varied_services["charlie"]
    client.force_login(admin_user)

    response = client.get(URL)

    row = response.text.split(f'data-service="{charlie.pk}"')[1].split("</tr>")[0]
    assert "Custom service" in row
    assert "—" in row
    assert "Never" in row


def test_an_expired_service_shows_how_long_ago_it_expired(client, admin_user):
    service = ServiceFactory(expires_at=timezone.now() - timedelta(days=3))
    client.force_login(admin_user)

    response = client.get(URL)

    row = response.text.split(f'data-service="{service.pk}"')[1].split("</tr>")[0]
    assert "3 days ago" in row


def test_the_list_is_newest_first_by_default(client, admin_user, varied_services):
    client.force_login(admin_user)

    assert names(client.get(URL)) == ["Charlie", "Bravo", "Alpha"]


def test_the_page_issues_the_same_queries_for_5_services_and_for_50(
    client, admin_user, django_assert_num_queries
):
    """Every column comes from the page's one joined query, whatever the number of rows."""
    client.force_login(admin_user)
    server = FakeServerFactory()

    for total in (5, 50):
        Service.objects.all().delete()
        ServiceFactory.create_batch(total, server=server)
        # 1. the signed-in user (the session is read from the cache); 2. the services per
        # status, from the counts the database keeps (services.stats); 3. the page of
        # services joined to their customer, user, product and server. (The folded filter
        # panel's product and server menus come with its fields, when it is opened.)
        with django_assert_num_queries(3):
            response = client.get(URL, {"per_page": 50})
        assert len(response.context["services"]) == total


# Status tabs -------------------------------------------------------------------------------


def test_each_status_tab_shows_its_count(client, admin_user):
    ServiceFactory.create_batch(3, status=ServiceStatus.ACTIVE)
    ServiceFactory.create_batch(2, status=ServiceStatus.SUSPENDED)
    ServiceFactory(status=ServiceStatus.TERMINATED)
    client.force_login(admin_user)

    response = client.get(URL)

    counts = {tab["status"]: tab["count"] for tab in response.context["tabs"]}
    assert counts == {
        None: 6,
        "pending": 0,
        "active": 3,
        "suspended": 2,
        "expired": 0,
        "cancelled": 0,
        "terminated": 1,
    }
    assert [tab["label"] for tab in response.context["tabs"]] == [
        "All",
        "Pending",
        "Active",
        "Suspended",
        "Expired",
        "Cancelled",
        "Terminated",
    ]


def test_a_status_tab_lists_only_that_status_and_is_marked_active(client, admin_user):
    ServiceFactory(name="on", status=ServiceStatus.ACTIVE)
    ServiceFactory(name="off", status=ServiceStatus.SUSPENDED)
    client.force_login(admin_user)

    response = client.get(URL, {"status": "suspended"})

    assert names(response) == ["off"]
    active = [tab["status"] for tab in response.context["tabs"] if tab["active"]]
    assert active == ["suspended"]


def test_each_tab_links_to_its_status_keeping_the_other_parameters(client, admin_user):
    ServiceFactory.create_batch(2, status=ServiceStatus.SUSPENDED)
    client.force_login(admin_user)

    response = client.get(URL, {"status": "suspended", "sort": "name", "cursor": "stale"})

    html = response.text
    # Page one of each status (no cursor), the sort kept; "All" drops the status.
    assert (
        '<a class="nav-link" href="?sort=name" data-status-tab="all">All '
        '<span class="badge rounded-pill text-bg-light border ms-1">2</span></a>'
    ) in html
    assert (
        '<a class="nav-link active" aria-current="page" href="?status=suspended&amp;sort=name" '
        'data-status-tab="suspended">Suspended '
        '<span class="badge rounded-pill text-bg-primary ms-1">2</span></a>'
    ) in html
    assert 'href="?status=active&amp;sort=name" data-status-tab="active">Active ' in html


def test_the_tab_counts_are_exact_at_once_and_never_count_the_services(
    client, admin_user, django_assert_num_queries
):
    ServiceFactory(status=ServiceStatus.ACTIVE)
    client.force_login(admin_user)
    client.get(URL)
    ServiceFactory(status=ServiceStatus.ACTIVE)

    # 1. the user (the session is read from the cache); 2. the counts kept per status;
    # 3. the page.
    with django_assert_num_queries(3) as captured:
        response = client.get(URL)

    assert response.context["tabs"][0]["count"] == 2  # not a count 30 s old
    assert len(response.context["services"]) == 2
    counting = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counting
    assert all("services_service" not in sql for sql in counting)


# Sorting -----------------------------------------------------------------------------------

EXPECTED_ASCENDING = {
    "id": ["Alpha", "Bravo", "Charlie"],
    "name": ["Alpha", "Bravo", "Charlie"],
    "customer": ["Alpha", "Bravo", "Charlie"],
    "product": ["Alpha", "Bravo", "Charlie"],
    "server": ["Alpha", "Bravo", "Charlie"],
    # active < cancelled < suspended, by value
    "status": ["Alpha", "Bravo", "Charlie"],
    "price": ["Alpha", "Bravo", "Charlie"],
    "expires": ["Alpha", "Bravo", "Charlie"],
    "created": ["Alpha", "Bravo", "Charlie"],
}
NULL_LAST_COLUMNS = {"product", "server", "expires"}


@pytest.mark.parametrize("column", sorted(EXPECTED_ASCENDING))
def test_every_column_sorts_both_ways(client, admin_user, varied_services, column):
    client.force_login(admin_user)

    ascending = names(client.get(URL, {"sort": column}))
    descending = names(client.get(URL, {"sort": f"-{column}"}))

    assert ascending == EXPECTED_ASCENDING[column]
    if column in NULL_LAST_COLUMNS:
        # Charlie has no value there, and empty values come last either way.
        assert descending == ["Bravo", "Alpha", "Charlie"]
    else:
        assert descending == ascending[::-1]


def test_a_sort_order_ties_on_the_id_in_the_same_direction(client, admin_user):
    first, second, third = ServiceFactory.create_batch(3, price=Decimal("5.00"))
    client.force_login(admin_user)

    assert names(client.get(URL, {"sort": "price"})) == [first.name, second.name, third.name]
    assert names(client.get(URL, {"sort": "-price"})) == [third.name, second.name, first.name]


def test_the_headers_link_to_the_other_direction_and_keep_the_filters(client, admin_user):
    ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"sort": "name", "status": "active"})

    assert 'href="?sort=-name&amp;status=active"' in response.text
    assert 'aria-sort="ascending"' in response.text


def test_the_header_row_has_each_sortable_column_in_order(client, admin_user):
    ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"sort": "-price"})

    head = response.text.split("<thead")[1].split("</thead>")[0]
    headers = re.findall(r'<th scope="col" class="([^"]*)"([^>]*)><a href="\?sort=([^"&]+)', head)
    # Each links to its ascending order: price too, sorted descending now.
    assert [sort for _css, _state, sort in headers] == list(SORT_COLUMNS)
    labels = re.findall(r'class="sort-link[^"]*"[^>]*>([^<]+) <i', head)
    assert labels == [str(column.label) for column in SORT_COLUMNS.values()]
    css = {sort: (classes, state) for classes, state, sort in headers}
    assert css["price"] == ("text-nowrap text-end", ' aria-sort="descending"')
    assert css["name"] == ("text-nowrap", "")


def test_an_unknown_sort_is_an_error_not_a_crash(client, admin_user):
    ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"sort": "password"})

    assert response.status_code == 200
    assert response.context["services"] == []
    assert "Sort by: Select a valid choice." in response.text


# Pages -------------------------------------------------------------------------------------


def test_a_full_page_links_to_a_next_page_only_when_there_is_one(client, admin_user):
    ServiceFactory.create_batch(25)
    client.force_login(admin_user)

    page = client.get(URL).context["page"]
    assert (len(page.rows), page.has_next, page.has_previous) == (25, False, False)

    ServiceFactory()
    page = client.get(URL).context["page"]
    assert (len(page.rows), page.has_next) == (25, True)


def test_the_next_and_previous_pages_follow_the_cursor(client, admin_user):
    services = ServiceFactory.create_batch(30)
    client.force_login(admin_user)
    newest_first = [s.name for s in reversed(services)]

    first = client.get(URL, {"per_page": 25})
    second = client.get(URL, {"per_page": 25, "cursor": first.context["page"].next_cursor})
    back = client.get(URL, {"per_page": 25, "cursor": second.context["page"].previous_cursor})

    assert names(first) == newest_first[:25]
    assert names(second) == newest_first[25:]
    assert second.context["page"].number == 2
    assert not second.context["page"].has_next
    assert "26–30 of 30" in second.text
    assert names(back) == newest_first[:25]
    assert back.context["page"].number == 1
    assert not back.context["page"].has_previous


@pytest.mark.parametrize("sort", [value for value, _ in SORT_CHOICES])
def test_walking_the_pages_both_ways_yields_every_service_once_in_order(db, sort):
    """Keyset pages agree with a plain ORDER BY, ties and empty values included."""
    now = timezone.now()
    products = [ProductFactory(name=f"p{n}") for n in range(2)]
    servers = [FakeServerFactory(name=f"n{n}") for n in range(2)]
    for n in range(13):
        ServiceFactory(
            name=f"s{n % 4}",
            price=Decimal(n % 3),
            product=None if n % 5 == 0 else products[n % 2],
            server=None if n % 3 == 0 else servers[n % 2],
            expires_at=None if n % 3 == 1 else now + timedelta(days=n % 4),
            status=[ServiceStatus.ACTIVE, ServiceStatus.PENDING][n % 2],
            created_at=now - timedelta(days=n % 2),
        )
    ordering = ordering_for(sort)
    expected = list(
        Service.objects.order_by(*order_expressions(Service, ordering)).values_list("pk", flat=True)
    )
    paginator = KeysetPaginator(Service.objects.all(), ordering, 3, columns=LIST_FIELDS)

    forward, page = [], paginator.page()
    forward.append([s["id"] for s in page.rows])
    while page.has_next:
        page = paginator.page(page.next_cursor)
        forward.append([s["id"] for s in page.rows])
    backward = [[s["id"] for s in page.rows]]
    while page.has_previous:
        page = paginator.page(page.previous_cursor)
        backward.append([s["id"] for s in page.rows])

    assert [pk for rows in forward for pk in rows] == expected
    assert backward == forward[::-1]
    assert page.number == 1


def test_a_paginator_refuses_rows_without_its_ordering_s_fields(db):
    """A cursor is written from the row's sort values: rows without them cannot page."""
    with pytest.raises(ValueError, match="customer__last_name"):
        KeysetPaginator(Service.objects.all(), ordering_for("customer"), 3, columns=("id",))


def test_a_deep_page_is_reached_by_cursor_without_an_offset(
    client, admin_user, django_assert_num_queries
):
    ServiceFactory.create_batch(60)
    client.force_login(admin_user)
    cursor = None
    for _ in range(2):
        cursor = client.get(URL, {"cursor": cursor or ""}).context["page"].next_cursor
    # 1. the user (the session is read from the cache); 2. the counts per status; 3. the
    # page, by keyset.
    with django_assert_num_queries(3) as captured:
        response = client.get(URL, {"cursor": cursor})

    page = response.context["page"]
    assert (page.number, len(page.rows), page.has_next) == (3, 10, False)
    page_sql = next(q["sql"] for q in captured.captured_queries if "LIMIT 26" in q["sql"])
    assert "OFFSET" not in page_sql


def test_a_page_joins_what_it_shows_to_its_own_rows_only(
    client, admin_user, django_assert_num_queries
):
    """The page's keys are picked first, in a subquery that stops at the page, and only
    those rows are joined to their customer, product and server: joined over the whole
    table, PostgreSQL sized its join caches (Memoize) for a million rows."""
    ServiceFactory.create_batch(30)
    client.force_login(admin_user)

    # The user (the session is read from the cache), the counts per status, the page.
    with django_assert_num_queries(3) as captured:
        client.get(URL)

    page_sql = next(q["sql"] for q in captured.captured_queries if "LIMIT 26" in q["sql"])
    joins, keys = page_sql.split(" IN (SELECT ")
    picked, outer = keys.rsplit(")", 1)
    assert picked.endswith("LIMIT 26")
    assert "LIMIT" not in joins + outer
    assert '"customers_customer"' in joins
    assert '"customers_customer"' not in picked


def test_a_broken_cursor_shows_the_first_page_with_a_warning(client, admin_user):
    ServiceFactory.create_batch(3)
    client.force_login(admin_user)

    response = client.get(URL, {"cursor": "not-a-cursor"}, follow=True)

    assert len(response.context["services"]) == 3
    assert "That page link is no longer valid" in response.text


def test_the_page_sizes_link_to_the_first_page_at_each_other_size(client, admin_user):
    ServiceFactory.create_batch(30, status=ServiceStatus.ACTIVE)
    client.force_login(admin_user)
    first = client.get(URL, {"status": "active", "per_page": 25})
    cursor = first.context["page"].next_cursor

    response = client.get(URL, {"status": "active", "per_page": 25, "cursor": cursor})

    footer = response.text.split("Per page:")[1].split("</span>")[0]
    assert '<strong class="text-body">25</strong>' in footer
    assert re.findall(r'<a href="([^"]+)" hx-get="\1" hx-target="#service-results"', footer) == [
        "?status=active&amp;per_page=50",
        "?status=active&amp;per_page=100",
    ]


def test_an_unknown_page_size_falls_back_to_25(client, admin_user):
    ServiceFactory.create_batch(30)
    client.force_login(admin_user)

    assert len(client.get(URL, {"per_page": "100000"}).context["services"]) == 25
    assert len(client.get(URL, {"per_page": "50"}).context["services"]) == 30


# Search straight to a service --------------------------------------------------------------


def test_searching_a_service_id_goes_straight_to_it(client, admin_user):
    service = ServiceFactory()
    ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"q": str(service.pk)})

    assert response.status_code == 302
    assert response.url == reverse("admin:service_detail", kwargs={"pk": service.pk})


def test_searching_a_service_uuid_goes_straight_to_it(client, admin_user):
    service = ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"q": f"  {service.uuid}  "})

    assert response.url == reverse("admin:service_detail", kwargs={"pk": service.pk})


def test_an_id_outside_the_other_filters_shows_an_empty_list_instead(client, admin_user):
    service = ServiceFactory(status=ServiceStatus.ACTIVE)
    client.force_login(admin_user)

    response = client.get(URL, {"q": str(service.pk), "status": "suspended"})

    assert response.status_code == 200
    assert response.context["services"] == []


def test_an_htmx_search_for_an_id_redirects_the_browser_not_the_fragment(client, admin_user):
    service = ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"q": service.pk}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("admin:service_detail", kwargs={"pk": service.pk})


def test_each_name_links_to_the_service(client, admin_user):
    service = ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL)

    assert f'href="{reverse("admin:service_detail", kwargs={"pk": service.pk})}"' in response.text


# htmx --------------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_results_fragment(client, admin_user):
    ServiceFactory(name="In the fragment")
    client.force_login(admin_user)

    response = client.get(URL, {"sort": "name"}, headers={"HX-Request": "true"})

    assert "In the fragment" in response.text
    assert "<html" not in response.text
    assert 'id="filter-form"' not in response.text
    assert "<table" in response.text


def test_sorting_and_paging_links_swap_the_results_by_htmx(client, admin_user):
    ServiceFactory.create_batch(26)
    client.force_login(admin_user)

    response = client.get(URL)

    assert 'hx-target="#service-results"' in response.text
    assert 'id="service-results"' in response.text
    assert 'rel="next"' in response.text


# Bulk form ---------------------------------------------------------------------------------


def test_staff_who_may_change_services_get_the_bulk_form(client, admin_user):
    service = ServiceFactory()
    client.force_login(admin_user)

    response = client.get(URL, {"status": "pending", "q": "Service"})

    html = response.text
    assert f'action="{reverse("admin:service_bulk_confirm")}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert (
        f'<input class="form-check-input" type="checkbox" name="ids" value="{service.pk}"' in html
    )
    assert 'name="select_all" value="1"' in html
    assert '<input type="hidden" name="query" value="status=pending&amp;q=Service">' in html
    for action in ("suspend", "unsuspend", "cancel", "terminate", "delete", "renew"):
        assert f'<option value="{action}">' in html
    assert '<option value="add_days">' in html
    assert '<option value="subtract_days">' in html
    assert "Select all 1 matching service" in html


def test_view_only_staff_get_no_bulk_form_nor_checkboxes(client, support_user):
    ServiceFactory()
    client.force_login(support_user)

    response = client.get(URL)

    assert 'name="ids"' not in response.text
    assert 'name="action"' not in response.text


def test_the_delete_action_needs_the_delete_permission(client, db):
    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_service", "change_service"])
    )
    ServiceFactory()
    client.force_login(staff)

    response = client.get(URL)

    assert '<option value="suspend">' in response.text
    assert '<option value="delete">' not in response.text


def test_a_search_shows_its_rows_and_counts_them_in_a_second_request(
    client, admin_user, django_assert_num_queries
):
    ServiceFactory.create_batch(30)
    client.force_login(admin_user)
    # 1. the user (the session is read from the cache); 2. the names matched once
    # (customers, users, products); 3. the page; 4. the counts per status (tabs): no COUNT
    # of the services.
    with django_assert_num_queries(4) as captured:
        response = client.get(URL, {"q": "Service"})

    assert not any("COUNT(*) FROM (SELECT" in q["sql"] for q in captured.captured_queries)
    assert len(response.context["services"]) == 25
    assert "1–25 of …" in response.text
    assert "Select all matching services" in response.text
    fragment = f"{URL}?q=Service&amp;fragment=matching&amp;start=1&amp;end=25"
    assert f'hx-get="{fragment}" hx-trigger="load"' in response.text

    # 1. the user (the session is read from the cache); 2. the names matched; 3. the
    # count, up to the cap.
    with django_assert_num_queries(3):
        counted = client.get(
            URL,
            {"q": "Service", "fragment": "matching", "start": 1, "end": 25},
            HTTP_HX_REQUEST="true",
        )

    assert counted.text.strip().startswith("1–25 of 30")
    assert '<span id="select-all-label" hx-swap-oob="innerHTML">' in counted.text
    assert "Select all 30 matching services" in counted.text


def test_the_matching_count_is_bounded(client, admin_user, monkeypatch):
    monkeypatch.setattr("services.views.admin_list.MATCHING_COUNT_CAP", 27)
    ServiceFactory.create_batch(30)
    client.force_login(admin_user)

    counted = client.get(URL, {"q": "Service", "fragment": "matching", "start": 26, "end": 30})

    assert "Select all more than 27 matching services" in counted.text
    assert "26–30 of more than 27" in counted.text


def test_the_deferred_count_of_filters_that_no_longer_validate_is_refused(client, admin_user):
    client.force_login(admin_user)

    response = client.get(URL, {"price_min": "ten", "fragment": "matching"})

    assert response.status_code == 400


def test_view_only_staff_get_the_count_without_the_select_all_label(client, support_user):
    ServiceFactory.create_batch(3)
    client.force_login(support_user)

    counted = client.get(URL, {"q": "Service", "fragment": "matching", "start": 1, "end": 2})

    assert counted.text.strip() == "1–2 of 3"


def test_with_only_statuses_chosen_the_matching_count_comes_from_the_tabs(
    client, admin_user, django_assert_num_queries
):
    ServiceFactory.create_batch(26, status=ServiceStatus.ACTIVE)
    ServiceFactory.create_batch(4, status=ServiceStatus.SUSPENDED)
    ServiceFactory(status=ServiceStatus.PENDING)
    client.force_login(admin_user)
    # 1. the user (the session is read from the cache); 2. the counts per status; 3. the
    # page: no COUNT of services.
    with django_assert_num_queries(3):
        response = client.get(URL, {"status": ["active", "suspended"], "sort": "name"})

    assert "1–25 of 30" in response.text
    assert "Select all 30 matching services" in response.text


def _encoded(value: object) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        _encoded({"not": "a list"}),
        _encoded(["n", 2, [1, 2, 3]]),  # too many values for the ordering
        _encoded(["x", 2, [1]]),  # no such direction
        _encoded(["n", 0, [1]]),  # no page 0
        _encoded(["n", 2, ["not a number"]]),
    ],
)
def test_a_tampered_cursor_never_breaks_the_page(client, admin_user, cursor):
    ServiceFactory.create_batch(2)
    client.force_login(admin_user)

    response = client.get(URL, {"cursor": cursor, "sort": "-id"})

    assert response.status_code == 200
    assert len(response.context["services"]) == 2


def test_the_list_decrypts_no_server_credential(client, admin_user):
    """Each row shows its server's name; loading whole servers decrypted one set of
    credentials per row on every page."""
    server = FakeServerFactory(name="EU-7")
    ServiceFactory.create_batch(3, server=server)
    client.force_login(admin_user)
    with mock.patch("delivery.fields.decrypt", wraps=lambda token: "{}") as decrypt:
        Service.objects.select_related("server").first()  # loading one does
        assert decrypt.call_count == 1
        decrypt.reset_mock()

        response = client.get(URL)

    assert response.status_code == 200
    assert "EU-7" in response.text
    decrypt.assert_not_called()
