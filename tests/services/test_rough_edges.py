"""The rough edges a new user meets walking the seed (issue 16, point 5), each pinned.

The browser half (long names never widen a page, the View button from the keyboard, the
expiration picker's width) is in ``tests/e2e/test_rough_edges.py``.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from services import tasks
from services.choices import STATUS_BADGES, BulkItemState, ServiceStatus
from services.lifecycle import LifecycleError, update
from services.models import BulkOperation, BulkOperationItem
from services.rules import decide
from services.views.admin_bulk import NAMED_ON_CONFIRM

S = ServiceStatus
LIST = reverse("admin:service_list")
CONFIRM = reverse("admin:service_bulk_confirm")
#: 21:12 local time: a moment whose time would read "9:12 p.m." in Django's English.
MOMENT = dt.datetime(2031, 7, 30, 21, 12, tzinfo=dt.UTC)


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(LIST).status_code == 200
    return len(captured)


# The View button ----------------------------------------------------------------------


def test_each_row_of_the_list_has_a_view_button_naming_its_service(
    client, admin_user, make_service
):
    first = make_service(S.ACTIVE, name="Minecraft survival")
    second = make_service(S.SUSPENDED, name="TeamSpeak 50 slots")
    client.force_login(admin_user)

    html = client.get(LIST).content.decode()

    for service in (first, second):
        url = reverse("admin:service_detail", kwargs={"pk": service.pk})
        # A link (keyboard reachable, no tabindex games) whose accessible name starts with
        # the visible "View" and carries the service's number and name for screen readers.
        button = re.search(
            rf'<a href="{url}" class="btn[^"]*"[^>]*data-view-service>(.*?)</a>', html
        )
        assert button, f"no View button for #{service.pk}"
        assert button.group(1) == (
            f'View<span class="visually-hidden"> service #{service.pk} {service.name}</span>'
        )
        assert "tabindex" not in button.group(0)


def test_the_view_button_costs_no_query_whatever_the_page_size(client, admin_user, make_service):
    make_service(S.ACTIVE)
    make_service(S.ACTIVE)
    client.force_login(admin_user)
    few = list_queries(client)
    for _ in range(23):
        make_service(S.ACTIVE)

    many = list_queries(client)

    assert client.get(LIST).content.decode().count("data-view-service") == 25
    assert many == few
    assert many == 3  # a first page's pin (tests/services/test_admin_list.py)


# Badges -------------------------------------------------------------------------------


def badge(status: str) -> str:
    html = render_to_string(
        "components/status_badge.html",
        {"status": status, "label": S(status).label, "badge": STATUS_BADGES[status]},
    )
    found = re.search(r'class="([^"]+)"', html)
    assert found
    return found.group(1)


def test_cancelled_and_terminated_badges_look_different():
    assert badge(S.CANCELLED) != badge(S.TERMINATED)


def test_every_status_has_a_badge_of_its_own():
    classes = [badge(status) for status in S.values]
    assert len(set(classes)) == len(classes), dict(zip(S.values, classes, strict=True))


# One date format per locale -----------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_list_the_details_and_the_client_page_write_a_moment_alike(
    client, admin_user, customer, make_service, settings, language
):
    settings.TIME_ZONE = "UTC"
    service = make_service(S.ACTIVE, expires_at=MOMENT, created_at=MOMENT)
    # The client area speaks the customer's language, the administration the browser's.
    customer.language = language
    customer.save()
    with translation.override(language):
        day = date_format(MOMENT, "DATE_FORMAT")
        day_and_time = date_format(MOMENT, "DATETIME_FORMAT")
    header = {"HTTP_ACCEPT_LANGUAGE": language}

    client.force_login(admin_user)
    listed = client.get(LIST, **header).content.decode()
    detailed = client.get(reverse("admin:service_detail", args=[service.pk]), **header)
    client.force_login(customer.user)
    seen = client.get(reverse("client:service_detail", args=[service.pk]), **header)

    assert day_and_time.startswith(day)
    assert day in listed
    assert day_and_time in detailed.content.decode()
    assert day in seen.content.decode()
    for html in (listed, detailed.content.decode(), seen.content.decode()):
        assert "2031-07-30" not in html  # no ISO date beside the locale's
        assert "p.m." not in html
    assert "21:12" in day_and_time  # the 24-hour clock, in English too


def test_the_history_writes_changed_dates_in_the_same_format(client, admin_user, make_service):
    service = make_service(S.ACTIVE, expires_at=MOMENT - dt.timedelta(days=1))
    update(service.pk, actor=admin_user, source="admin", changes={"expires_at": MOMENT})
    client.force_login(admin_user)

    html = client.get(reverse("admin:service_detail", args=[service.pk])).content.decode()

    history = html.split('id="service-history"')[1]
    assert date_format(timezone.localtime(MOMENT), "DATETIME_FORMAT") in history
    assert "2031-07-30" not in history


# The bulk confirmation names what it ends ---------------------------------------------


@pytest.mark.parametrize(
    ("action", "changing", "refused"),
    [
        ("terminate", S.ACTIVE, S.TERMINATED),
        ("cancel", S.ACTIVE, S.TERMINATED),
        ("delete", S.CANCELLED, S.ACTIVE),
    ],
)
def test_the_confirmation_of_an_ending_action_lists_the_services_concerned(
    client, admin_user, make_service, action, changing, refused
):
    services = [make_service(changing, name=f"Server {n:02}") for n in range(NAMED_ON_CONFIRM + 3)]
    skipped = make_service(refused, name="Not this one")
    client.force_login(admin_user)

    response = client.post(CONFIRM, {"action": action, "ids": [s.pk for s in [*services, skipped]]})

    html = response.content.decode()
    named = html.split('id="bulk-named"')[1].split("</section>")[0]
    rows = re.findall(r'<tr data-service="(\d+)">', named)
    assert rows == [str(s.pk) for s in services[:NAMED_ON_CONFIRM]]
    for shown in ("Server 00", "Server 49", "Bob Owner", "bob@example.com"):
        assert shown in named
    assert f'data-status="{changing}"' in named
    assert "Server 50" not in named
    assert "Not this one" not in named  # skipped: not among the services that change
    assert 'id="bulk-named-more">and 3 more services</p>' in named


def test_the_list_of_the_confirmation_is_one_query_not_one_per_service(
    client, admin_user, make_service
):
    few = [make_service(S.ACTIVE) for _ in range(2)]
    client.force_login(admin_user)

    def queries(ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(CONFIRM, {"action": "terminate", "ids": ids})
        assert response.content.decode().count("<tr data-service=") == len(ids)
        return len(captured)

    with_few = queries([s.pk for s in few])
    many = few + [make_service(S.ACTIVE) for _ in range(30)]
    with_many = queries([s.pk for s in many])
    without_list = client.post(CONFIRM, {"action": "suspend", "ids": [s.pk for s in many]})

    assert with_many == with_few
    assert 'id="bulk-named"' not in without_list.content.decode()  # counts are enough there


@pytest.mark.parametrize(
    ("more", "said"), [(1, "and 1 more service<"), (2, "and 2 more services<")]
)
def test_how_many_more_is_pluralised(client, admin_user, make_service, more, said):
    services = [make_service(S.ACTIVE) for _ in range(NAMED_ON_CONFIRM + more)]
    client.force_login(admin_user)

    html = client.post(CONFIRM, {"action": "terminate", "ids": [s.pk for s in services]})

    assert said in html.content.decode()


# Plurals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("renewals", "said"), [(1, "renewed 1 time, more"), (2, "renewed 2 times, more")]
)
def test_the_renewal_count_is_pluralised(make_service, admin_user, renewals, said):
    service = make_service(S.ACTIVE, renewal_count=renewals)

    with pytest.raises(LifecycleError) as refused:
        update(service.pk, actor=admin_user, source="admin", changes={"max_renewals": 0})

    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("grace", "said"), [(1, "more than 1 day ago"), (2, "more than 2 days ago")]
)
def test_the_grace_period_is_pluralised(make_service, settings, grace, said):
    settings.SERVICE_RENEWAL_GRACE_DAYS = grace
    service = make_service(S.EXPIRED, expires_at=timezone.now() - dt.timedelta(days=10))

    assert decide(service, "renew").message.endswith(said)


@pytest.mark.parametrize(
    ("failed", "said"),
    [(1, "1 failed service is queued again."), (2, "2 failed services are queued again.")],
)
def test_the_retry_message_is_pluralised(
    client, admin_user, make_service, monkeypatch, failed, said
):
    monkeypatch.setattr(tasks.run_bulk_operation, "delay", lambda pk: None)
    operation = BulkOperation.objects.create(action="suspend", created_by=admin_user)
    for _ in range(failed):
        service = make_service(S.ACTIVE)
        BulkOperationItem.objects.create(
            operation=operation,
            service=service,
            service_ref=service.pk,
            service_name=service.name,
            state=BulkItemState.FAILED,
        )
    client.force_login(admin_user)

    response = client.post(reverse("admin:bulk_retry", args=[operation.pk]), follow=True)

    assert said in [str(m) for m in response.context["messages"]]
