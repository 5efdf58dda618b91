"""The module call log: every call recorded with what it was for and how it went, no
secret stored, old rows pruned, and the staff pages that show it (the call log with its
filters, and a service's latest calls on its page)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from automation import options, registry
from delivery import calllog
from delivery.automation import CALL_LOG_DAYS, call_log_days
from delivery.calllog import BODY_LIMIT, calling, calls_for_service, prune
from delivery.http import PanelClient, PanelError
from delivery.models import ModuleCall
from delivery.modules.base import Tab
from services.tabs import render_tab
from tests.factories import FakeServerFactory, ServerFactory, StaffFactory

API_KEY = "ptla_SECRETkey0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "Hunter2-correct-horse-battery"
TRACE = "header-marker-5f2c"
LOG_URL = "/admin/delivery/calls/"


@pytest.fixture
def server(db):
    return FakeServerFactory(name="panel-1")


@pytest.fixture
def api(server, panel):
    with PanelClient(
        server,
        base_url=panel.base_url,
        headers={"Authorization": f"Bearer {API_KEY}", "X-Trace": TRACE},
        secrets=[API_KEY],
    ) as client:
        yield client


def text_values(call: ModuleCall) -> dict[str, str]:
    """Every stored text column of a call, read back from the database."""
    call = ModuleCall.objects.get(pk=call.pk)
    return {
        f.attname: str(getattr(call, f.attname))
        for f in ModuleCall._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField)
    }


def make_call(**fields) -> ModuleCall:
    defaults = {
        "module": "test",
        "method": "GET",
        "url": "https://panel.example/api/x",
        "status": 200,
    }
    return ModuleCall.objects.create(**{**defaults, **fields})


# Recording.


def test_every_call_is_recorded_with_its_service_operation_and_outcome(api, panel, server):
    panel.answer("POST", "/api/application/servers/7/suspend", 204)
    panel.answer(
        "GET", "/api/application/servers/7", 500, {"errors": [{"detail": "Wings is down."}]}
    )

    with calling(service_id=42, operation="suspend"):
        api.post("/api/application/servers/7/suspend", operation="send")
        with pytest.raises(PanelError):
            api.get("/api/application/servers/7")

    ok, failed = ModuleCall.objects.order_by("id")
    assert (ok.server, ok.service_ref, ok.module, ok.operation) == (
        server,
        42,
        "test",
        "suspend: send",
    )
    assert (ok.method, ok.url) == ("POST", f"{panel.base_url}/api/application/servers/7/suspend")
    assert (ok.status, ok.error, ok.retryable) == (204, "", False)
    assert (failed.method, failed.status, failed.retryable) == ("GET", 500, True)
    assert failed.error == "The panel answered 500 Internal Server Error. Wings is down."
    assert failed.operation == "suspend"
    assert json.loads(failed.response_body) == {"errors": [{"detail": "Wings is down."}]}


def test_the_duration_is_measured(api, panel):
    panel.answer("GET", "/slow", body={}, delay=0.3)

    api.get("/slow")

    assert 300 <= ModuleCall.objects.get().duration_ms < 3000


def test_a_timeout_is_recorded_without_a_status(panel, server, settings):
    settings.DELIVERY_READ_TIMEOUT = 0.2
    panel.answer("GET", "/slow", body={}, delay=1.5)

    with (
        PanelClient(server, base_url=panel.base_url, headers={}) as client,
        calling(service_id=5, operation="terminate"),
        pytest.raises(PanelError),
    ):
        client.get("/slow")

    call = ModuleCall.objects.get()
    assert (call.service_ref, call.operation, call.status) == (5, "terminate", None)
    assert call.error == "The panel did not answer within 0.2 seconds."
    assert call.retryable is True
    assert call.duration_ms >= 200


def test_calls_outside_a_calling_block_have_no_service(api, panel):
    panel.answer("GET", "/ping", body={})

    api.get("/ping", operation="test connection")

    call = ModuleCall.objects.get()
    assert (call.service_ref, call.operation) == (None, "test connection")


def test_nested_blocks_keep_the_innermost_and_inherit_what_they_leave_out():
    with calling(service_id=1, operation="deliver"):
        with calling(operation="find user"):
            assert calllog.current() == calllog.CallContext(1, "find user")
        with calling(service_id=2, operation="tab overview"):
            assert calllog.current() == calllog.CallContext(2, "tab overview")
        assert calllog.current() == calllog.CallContext(1, "deliver")
    assert calllog.current() == calllog.CallContext(None, "")


def test_tab_rendering_tags_its_calls_with_the_service_and_tab(api, panel, make_service):
    service = make_service()
    panel.answer(
        "GET",
        "/api/client/servers/abc/resources",
        body={"attributes": {"current_state": "running"}},
    )
    tab = Tab(
        key="overview",
        label="Overview",
        template="fake_module/overview.html",
        context=lambda svc: {
            "power": api.json("GET", "/api/client/servers/abc/resources")["attributes"][
                "current_state"
            ]
        },
    )

    html, error = render_tab(tab, service, RequestFactory().get("/"))

    assert error == ""
    assert "running" in html
    call = ModuleCall.objects.get()
    assert (call.service_ref, call.operation) == (service.pk, "tab overview")


def test_json_bodies_are_stored_pretty_printed(api, panel):
    panel.answer("POST", "/api/application/users", 201, {"object": "user", "attributes": {"id": 9}})

    api.post("/api/application/users", json={"email": "bob@example.com", "first_name": "Bob"})

    call = ModuleCall.objects.get()
    assert call.request_body == json.dumps(
        {"email": "bob@example.com", "first_name": "Bob"}, indent=2
    )
    assert call.response_body == json.dumps({"object": "user", "attributes": {"id": 9}}, indent=2)


def test_long_bodies_are_truncated(api, panel):
    panel.answer("GET", "/big", 200, "x" * 50_000)

    api.get("/big")

    body = ModuleCall.objects.get().response_body
    assert body.startswith("x" * BODY_LIMIT)
    assert body.count("x") == BODY_LIMIT
    assert body.endswith("[cut: 50,000 characters in all]")


def test_no_secret_is_stored_in_any_column(api, panel):
    """The API key (sent in a header, listed in ``secrets``, echoed by the panel in its
    body, its error and in a URL) and a password (sent in the JSON body and echoed back
    under its key) appear in no stored column; nor does any request header."""
    panel.answer(
        "POST",
        "/api/application/users",
        422,
        {
            "errors": [{"detail": f"Key {API_KEY} may not create users."}],
            "received": {"user": {"email": "bob@example.com", "password": PASSWORD}},
            "meta": {"called_with": f"Bearer {API_KEY}"},
        },
    )
    panel.answer("GET", "/api/application/users", 200, f"echo: {API_KEY}")

    with calling(service_id=3, operation="deliver"):
        with pytest.raises(PanelError) as caught:
            api.post(
                "/api/application/users",
                json={
                    "email": "bob@example.com",
                    "password": PASSWORD,
                    "nested": [{"root_password": PASSWORD}],
                },
            )
        api.get("/api/application/users", params={"api_key": API_KEY, "q": "bob"})

    assert API_KEY not in caught.value.message  # the error the lifecycle records, too
    calls = list(ModuleCall.objects.order_by("id"))
    assert len(calls) == 2
    for call in calls:
        for column, value in text_values(call).items():
            assert API_KEY not in value, column
            assert PASSWORD not in value, column
            assert TRACE not in value, column
            assert "Authorization" not in value, column
    post, get = calls
    assert "[REDACTED]" in post.request_body
    assert '"email": "bob@example.com"' in post.request_body  # the rest is kept
    assert "[REDACTED]" in post.response_body
    assert (
        post.error
        == "The panel answered 422 Unprocessable Entity. Key [REDACTED] may not create users."
    )
    assert get.url == f"{panel.base_url}/api/application/users?api_key=[REDACTED]&q=bob"
    assert get.response_body == "echo: [REDACTED]"


def test_a_log_that_cannot_be_written_does_not_break_the_call(api, panel, monkeypatch, caplog):
    panel.answer("GET", "/ping", body={"pong": True})

    def broken_save(*args, **kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(ModuleCall, "save", broken_save)
    with caplog.at_level(logging.ERROR, logger="delivery.calllog"):
        response = api.get("/ping")

    assert response.json() == {"pong": True}
    assert "Could not record a GET call to a test panel" in caplog.text
    assert ModuleCall.objects.count() == 0


def test_a_call_for_an_unsaved_server_is_recorded_without_it(panel, db):
    panel.answer("GET", "/ping", body={})
    unsaved = FakeServerFactory.build()

    with PanelClient(unsaved, base_url=panel.base_url, headers={}) as client:
        client.get("/ping", operation="test connection")

    call = ModuleCall.objects.get()
    assert (call.server, call.module) == (None, "test")


def test_deleting_a_server_keeps_its_calls(server):
    call = make_call(server=server)

    server.delete()

    call.refresh_from_db()
    assert call.server is None


# Reading back and pruning.


def test_calls_for_service_are_its_latest_newest_first(server):
    now = timezone.now()
    mine = [
        make_call(service_ref=7, created_at=now - timedelta(minutes=n), server=server)
        for n in range(25)
    ]
    make_call(service_ref=8)

    calls = calls_for_service(7)

    assert [c.pk for c in calls] == [c.pk for c in mine[:20]]
    assert [c.pk for c in calls_for_service(7, limit=3)] == [c.pk for c in mine[:3]]


def test_prune_deletes_only_rows_older_than_the_setting(settings, db, monkeypatch):
    settings.DELIVERY_CALL_LOG_DAYS = 30
    monkeypatch.setattr(calllog, "PRUNE_BATCH", 2)  # several batches
    now = timezone.now()
    old = [make_call(created_at=now - timedelta(days=31 + n)) for n in range(5)]
    kept = [make_call(created_at=now - timedelta(days=29)), make_call()]

    assert prune(now) == len(old)

    assert sorted(ModuleCall.objects.values_list("pk", flat=True)) == sorted(c.pk for c in kept)
    assert prune(now) == 0


def test_the_days_staff_set_replace_the_setting(settings, db):
    settings.DELIVERY_CALL_LOG_DAYS = 30
    now = timezone.now()
    make_call(created_at=now - timedelta(days=3))
    recent = make_call(created_at=now - timedelta(days=1))

    options.change(CALL_LOG_DAYS, 2, actor=None)

    assert call_log_days() == 2
    assert prune(now) == 1
    assert list(ModuleCall.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_daily_task_prunes_once(settings, db):
    settings.DELIVERY_CALL_LOG_DAYS = 10
    now = timezone.now()
    old = make_call(created_at=now - timedelta(days=11), module="fake", operation="suspend")
    kept = make_call(created_at=now - timedelta(days=9))
    task = registry.find("delivery.prune_calls")

    assert task.daily
    assert task.due(now).get() == old
    first = task.run(now)
    second = task.run(now)

    assert (first.counts(), second.counts()) == (
        {"done": 1, "skipped": 0, "failed": 0},
        {"done": 0, "skipped": 0, "failed": 0},
    )
    assert list(ModuleCall.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_dry_run_at_a_later_date_lists_what_will_be_pruned_then(settings, db):
    settings.DELIVERY_CALL_LOG_DAYS = 10
    now = timezone.now()
    call = make_call(created_at=now - timedelta(days=9), module="fake", operation="suspend")
    task = registry.find("delivery.prune_calls")

    assert not task.due(now).exists()
    [later] = task.due(now + timedelta(days=2))

    when = timezone.localtime(call.created_at).strftime("%Y-%m-%d %H:%M")
    assert task.describe(later) == f"Call #{call.pk} to a fake panel (suspend) of {when} deleted"
    assert ModuleCall.objects.filter(pk=call.pk).exists()  # nothing deleted


def test_the_page_says_how_long_calls_are_kept(client, support_user, db):
    options.change(CALL_LOG_DAYS, 45, actor=None)
    client.force_login(support_user)

    assert "Kept 45 days." in client.get(LOG_URL).text


# The staff page.


@pytest.fixture
def log(db):
    """Calls on two servers of two modules, over three days, one failed, two services."""
    now = timezone.now()
    paris = FakeServerFactory(name="paris")
    lyon = ServerFactory(name="lyon", module="manual")
    return {
        "ok": make_call(
            server=paris,
            service_ref=11,
            operation="suspend",
            url="https://paris.example/ok",
            created_at=now,
        ),
        "failed": make_call(
            server=paris,
            service_ref=12,
            operation="deliver",
            url="https://paris.example/failed",
            status=503,
            error="The panel answered 503 Service Unavailable.",
            retryable=True,
            response_body='{\n  "message": "Down"\n}',
            created_at=now - timedelta(days=1),
        ),
        "lyon": make_call(
            server=lyon,
            module="manual",
            url="https://lyon.example/old",
            created_at=now - timedelta(days=3),
        ),
    }


def shown(response) -> list[int]:
    return [call.pk for call in response.context["calls"]]


def test_the_log_lists_calls_newest_first_with_their_bodies(client, support_user, log):
    client.force_login(support_user)

    response = client.get(LOG_URL)

    assert response.status_code == 200
    assert shown(response) == [log["ok"].pk, log["failed"].pk, log["lyon"].pk]
    text = response.text
    assert '<h1 class="h3 mb-1">Module calls</h1>' in text
    assert f'<tr data-call="{log["failed"].pk}" data-failed>' in text
    assert "<details>" in text
    assert "&quot;message&quot;: &quot;Down&quot;" in text  # the response body, escaped
    assert "The panel answered 503 Service Unavailable." in text
    assert f'href="/admin/services/{log["ok"].service_ref}/"' in text
    assert "Test panel" in text  # the module's label


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("server={paris}", ["ok", "failed"]),
        ("module=manual", ["lyon"]),
        ("failed=true", ["failed"]),
        ("failed=false", ["ok", "failed", "lyon"]),
        ("date_from={yesterday}", ["ok", "failed"]),
        ("date_to={two_days_ago}", ["lyon"]),
        ("date_from={yesterday}&date_to={yesterday}", ["failed"]),
        ("service=11", ["ok"]),
    ],
)
def test_each_filter_narrows_the_log(client, support_user, log, params, expected):
    client.force_login(support_user)
    today = timezone.localdate()
    values = {
        "paris": log["ok"].server_id,
        "yesterday": (today - timedelta(days=1)).isoformat(),
        "two_days_ago": (today - timedelta(days=2)).isoformat(),
    }

    response = client.get(f"{LOG_URL}?{params.format(**values)}")

    assert response.status_code == 200
    assert shown(response) == [log[name].pk for name in expected]


def test_a_reversed_date_range_is_refused_and_shows_nothing(client, support_user, log):
    client.force_login(support_user)

    response = client.get(f"{LOG_URL}?date_from=2026-05-02&date_to=2026-05-01")

    assert shown(response) == []
    assert "The date range ends before it starts." in response.text
    assert "Correct the filters to see the calls." in response.text


def test_a_filter_that_matches_nothing_says_so(client, support_user, log):
    client.force_login(support_user)

    response = client.get(f"{LOG_URL}?service=999")

    assert shown(response) == []
    assert "No module call matches these filters." in response.text


def test_an_empty_log_says_so(client, support_user, db):
    client.force_login(support_user)

    response = client.get(LOG_URL)

    assert (
        "No module calls yet: they appear here once a delivery module calls its panel."
        in response.text
    )


def test_pages_are_walked_by_keyset_cursor(client, support_user, db, monkeypatch):
    from delivery.views import ModuleCallListView

    monkeypatch.setattr(ModuleCallListView, "per_page", 2)
    now = timezone.now()
    same_moment = now - timedelta(hours=1)
    calls = [make_call(created_at=now - timedelta(minutes=n)) for n in range(3)]
    calls += [make_call(created_at=same_moment) for _ in range(2)]  # ties broken by id
    expected = [c.pk for c in sorted(calls, key=lambda c: (c.created_at, c.pk), reverse=True)]
    client.force_login(support_user)

    first = client.get(LOG_URL)
    page = first.context["page"]
    second = client.get(LOG_URL, {"cursor": page.next_cursor})
    third = client.get(LOG_URL, {"cursor": second.context["page"].next_cursor})
    back = client.get(LOG_URL, {"cursor": third.context["page"].previous_cursor})

    assert shown(first) + shown(second) + shown(third) == expected
    assert (page.number, page.has_previous, page.has_next) == (1, False, True)
    assert third.context["page"].number == 3
    assert third.context["page"].has_next is False
    assert shown(back) == shown(second)
    assert back.context["page"].number == 2


def test_a_broken_cursor_gives_the_first_page(client, support_user, log):
    client.force_login(support_user)

    response = client.get(LOG_URL, {"cursor": "n.99999999999999999999.x.1"}, follow=True)

    assert response.status_code == 200
    assert shown(response) == [log["ok"].pk, log["failed"].pk, log["lyon"].pk]
    assert "That page link is no longer valid" in response.text


def test_the_log_needs_the_view_modulecall_permission(client, log):
    servers_only = StaffFactory(email="ops@example.com")
    servers_only.user_permissions.set(Permission.objects.filter(codename="view_server"))
    client.force_login(servers_only)

    assert client.get(LOG_URL).status_code == 403
    assert "Module calls" not in client.get(reverse("admin:server_list")).text

    servers_only.user_permissions.add(Permission.objects.get(codename="view_modulecall"))
    assert client.get(LOG_URL).status_code == 200
    assert f'href="{LOG_URL}"' in client.get(reverse("admin:server_list")).text


def test_staff_without_permission_customers_and_visitors_are_kept_out(
    client, plain_staff, customer, log
):
    assert client.get(LOG_URL).status_code == 302  # to the staff login page

    client.force_login(plain_staff)
    assert client.get(LOG_URL).status_code == 403

    client.force_login(customer.user)
    response = client.get(LOG_URL)
    assert response.status_code == 403
    assert "paris.example" not in response.text


# The service's page.


def test_the_service_page_shows_its_latest_calls(client, support_user, make_service):
    service = make_service()
    other = make_service()
    mine = make_call(
        service_ref=service.pk,
        operation="suspend",
        url="https://panel.example/mine",
        server=service.server,
    )
    make_call(service_ref=other.pk, url="https://panel.example/theirs")
    client.force_login(support_user)

    response = client.get(reverse("admin:service_detail", args=[service.pk]))

    assert response.status_code == 200
    assert [call.pk for call in response.context["module_calls"]] == [mine.pk]
    text = response.text
    assert 'id="service-module-calls"' in text
    assert "https://panel.example/mine" in text
    assert "https://panel.example/theirs" not in text
    assert f'href="{LOG_URL}?service={service.pk}"' in text


def test_the_service_page_says_when_no_call_was_made(client, support_user, make_service):
    service = make_service()
    client.force_login(support_user)

    response = client.get(reverse("admin:service_detail", args=[service.pk]))

    assert "No call to a panel was made for this service." in response.text


def test_the_service_page_hides_the_calls_without_the_permission(client, make_service):
    service = make_service()
    make_call(service_ref=service.pk, url="https://panel.example/mine")
    viewer = StaffFactory(email="viewer@example.com")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_service"))
    client.force_login(viewer)

    response = client.get(reverse("admin:service_detail", args=[service.pk]))

    assert response.status_code == 200
    assert response.context["module_calls"] is None
    assert 'id="service-module-calls"' not in response.text
    assert "https://panel.example/mine" not in response.text
