"""The modules' HTTP client against a real HTTP server on 127.0.0.1: answers returned,
failures mapped to retryable or not with the panel's words and its Retry-After, timeouts
and refused connections, and one pool of connections per client."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from delivery.http import PanelClient, PanelError, error_detail, retry_after_seconds
from delivery.models import ModuleCall
from delivery.modules.base import ModuleError
from tests.factories import FakeServerFactory

API_KEY = "ptla_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"


@pytest.fixture
def server(db):
    return FakeServerFactory(name="panel-1")


@pytest.fixture
def client(server, panel):
    with PanelClient(
        server,
        base_url=panel.base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        secrets=[API_KEY],
    ) as panel_client:
        yield panel_client


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Answers.


def test_a_2xx_answer_is_returned_with_the_request_as_sent(client, panel):
    panel.answer("GET", "/api/application/servers", body={"data": [{"id": 7}]})

    response = client.get("/api/application/servers", params={"filter[external_id]": "abc"})

    assert response.status_code == 200
    assert response.json() == {"data": [{"id": 7}]}
    received = panel.requests[0]
    assert received.path == "/api/application/servers?filter%5Bexternal_id%5D=abc"
    assert received.headers["User-Agent"] == "ClientXCMS"
    assert received.headers["Authorization"] == f"Bearer {API_KEY}"
    assert received.headers["Accept"] == "application/json"


def test_json_sends_a_body_and_reads_the_answer(client, panel):
    panel.answer("POST", "/api/application/users", 201, {"attributes": {"id": 3}})

    answer = client.json("POST", "api/application/users", json={"email": "bob@example.com"})

    assert answer == {"attributes": {"id": 3}}
    assert panel.requests[0].json() == {"email": "bob@example.com"}
    assert panel.requests[0].headers["Content-Type"] == "application/json"


def test_json_of_a_204_is_an_empty_dict(client, panel):
    panel.answer("POST", "/api/application/servers/7/suspend", 204)

    assert client.json("POST", "/api/application/servers/7/suspend") == {}


def test_every_verb_has_its_shortcut(client, panel):
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        panel.answer(method, "/thing", 200, {"method": method})

    answers = [
        client.get("/thing"),
        client.post("/thing"),
        client.patch("/thing"),
        client.put("/thing"),
        client.delete("/thing"),
    ]

    assert [r.json()["method"] for r in answers] == ["GET", "POST", "PATCH", "PUT", "DELETE"]
    assert [r.method for r in panel.requests] == ["GET", "POST", "PATCH", "PUT", "DELETE"]


def test_a_base_url_with_a_path_keeps_it(server, panel):
    panel.answer("GET", "/panel/api/ping", body={"ok": True})

    with PanelClient(server, base_url=f"{panel.base_url}/panel/", headers={}) as client:
        assert client.json("GET", "/api/ping") == {"ok": True}


def test_one_client_reuses_its_connection(client, panel):
    panel.answer("GET", "/a", body={})
    panel.answer("GET", "/b", body={})

    client.get("/a")
    client.get("/b")

    assert len({received.client_port for received in panel.requests}) == 1


def test_a_2xx_that_is_not_json_is_an_error_for_json(client, panel):
    panel.answer("GET", "/html", 200, "<html>Maintenance</html>")

    with pytest.raises(PanelError) as caught:
        client.json("GET", "/html")

    assert caught.value.message == "The panel answered 200 with something that is not JSON."
    assert caught.value.retryable is False
    assert caught.value.body == "<html>Maintenance</html>"


# Failed answers: 4xx are not retryable, 5xx and 429 are.


def test_a_404_is_not_retryable_and_says_what_the_panel_said(client, panel):
    with pytest.raises(PanelError) as caught:
        client.get("/api/application/servers/999")

    error = caught.value
    assert isinstance(error, ModuleError)
    assert error.http_status == 404
    assert error.retryable is False
    assert error.retry_after is None
    assert error.message == (
        "The panel answered 404 Not Found. The requested resource could not be found on the server."
    )
    assert str(error) == error.message
    assert error.body["errors"][0]["code"] == "NotFoundHttpException"


def test_a_422_gives_the_first_validation_error(client, panel):
    panel.answer(
        "POST",
        "/api/application/servers",
        422,
        {
            "errors": [
                {
                    "code": "ValidationException",
                    "status": "422",
                    "detail": "The limits.memory field is required.",
                },
                {
                    "code": "ValidationException",
                    "status": "422",
                    "detail": "The selected egg is invalid.",
                },
            ]
        },
    )

    with pytest.raises(PanelError) as caught:
        client.post("/api/application/servers", json={"name": "mc"})

    assert caught.value.http_status == 422
    assert caught.value.retryable is False
    assert caught.value.message == (
        "The panel answered 422 Unprocessable Entity. The limits.memory field is required."
    )


def test_describe_error_writes_the_message_when_given(server, panel):
    panel.answer("GET", "/x", 409, {"errors": [{"detail": "Server is busy installing."}]})

    def describe(response: httpx.Response) -> str:
        detail = response.json()["errors"][0]["detail"]
        return f"Pterodactyl refused ({response.status_code}): {detail}"

    with (
        PanelClient(server, base_url=panel.base_url, headers={}, describe_error=describe) as c,
        pytest.raises(PanelError) as caught,
    ):
        c.get("/x")

    assert caught.value.message == "Pterodactyl refused (409): Server is busy installing."
    assert caught.value.retryable is False


def test_a_500_is_retryable(client, panel):
    panel.answer("GET", "/boom", 500, "Internal error")

    with pytest.raises(PanelError) as caught:
        client.get("/boom")

    assert caught.value.http_status == 500
    assert caught.value.retryable is True
    assert caught.value.retry_after is None
    assert caught.value.message == "The panel answered 500 Internal Server Error."
    assert caught.value.body == "Internal error"


def test_a_503_is_retryable_after_the_panels_retry_after(client, panel):
    panel.answer(
        "GET", "/down", 503, {"message": "Down for maintenance."}, headers={"Retry-After": "120"}
    )

    with pytest.raises(PanelError) as caught:
        client.get("/down")

    assert caught.value.http_status == 503
    assert caught.value.retryable is True
    assert caught.value.retry_after == 120.0
    assert (
        caught.value.message == "The panel answered 503 Service Unavailable. Down for maintenance."
    )


def test_a_429_is_retryable_after_the_panels_retry_after(client, panel):
    panel.answer(
        "GET",
        "/busy",
        429,
        {
            "errors": [
                {
                    "code": "TooManyRequestsHttpException",
                    "status": "429",
                    "detail": "Too Many Attempts.",
                }
            ]
        },
        headers={"Retry-After": "7"},
    )

    with pytest.raises(PanelError) as caught:
        client.get("/busy")

    assert caught.value.http_status == 429
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.message == "The panel answered 429 Too Many Requests. Too Many Attempts."


def test_a_redirect_is_not_followed(client, panel):
    panel.answer("GET", "/old", 301, headers={"Location": "https://elsewhere.example/"})

    with pytest.raises(PanelError) as caught:
        client.get("/old")

    assert caught.value.http_status == 301
    assert caught.value.retryable is False
    assert len(panel.requests) == 1


# No answer: timeouts and refused connections are retryable.


def test_a_read_timeout_is_retryable(client, panel, settings, server):
    settings.DELIVERY_READ_TIMEOUT = 0.2
    panel.answer("GET", "/slow", body={}, delay=1.5)

    with (
        PanelClient(server, base_url=panel.base_url, headers={}) as slow_client,
        pytest.raises(PanelError) as caught,
    ):
        slow_client.get("/slow")

    assert caught.value.retryable is True
    assert caught.value.http_status is None
    assert caught.value.message == "The panel did not answer within 0.2 seconds."


def test_a_refused_connection_is_retryable(server):
    port = refused_port()

    with (
        PanelClient(server, base_url=f"http://127.0.0.1:{port}", headers={}) as client,
        pytest.raises(PanelError) as caught,
    ):
        client.get("/api/application/servers")

    assert caught.value.retryable is True
    assert caught.value.http_status is None
    assert caught.value.message.startswith(f"Could not connect to 127.0.0.1:{port}: ")
    call = ModuleCall.objects.get()
    assert (call.status, call.retryable, call.error) == (None, True, caught.value.message)


def test_the_timeouts_come_from_the_settings(server, settings):
    settings.DELIVERY_CONNECT_TIMEOUT = 2.5
    settings.DELIVERY_READ_TIMEOUT = 12

    with PanelClient(server, base_url="http://127.0.0.1:9", headers={}) as client:
        timeout = client._client.timeout

    assert (timeout.connect, timeout.read) == (2.5, 12.0)


def test_an_absolute_url_goes_only_to_the_same_panel(client, panel):
    panel.answer("GET", "/api/application/servers", body={"data": []})

    assert client.json("GET", f"{panel.base_url}/api/application/servers?page=2") == {"data": []}
    with pytest.raises(PanelError) as caught:
        client.get("https://attacker.example/api/application/servers")

    assert caught.value.retryable is False
    assert "attacker.example" in caught.value.message
    assert len(panel.requests) == 1


# Helpers.


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert retry_after_seconds("30") == 30.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now)
        == 90.0
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now)
        == 0.0
    )
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"errors": [{"detail": "The selected egg is invalid."}]}, "The selected egg is invalid."),
        (
            {
                "data": None,
                "message": "Parameter verification failed.\n",
                "errors": {"newid": "property is missing"},
            },
            "Parameter verification failed. newid: property is missing",
        ),
        (
            {"message": "The given data was invalid.", "errors": {"email": ["Taken."]}},
            "The given data was invalid. email: Taken.",
        ),
        ({"error": {"message": "No such VM"}}, "No such VM"),
        ({"message": "Unauthenticated."}, "Unauthenticated."),
        ({"detail": "Not found."}, "Not found."),
        ("plain text", ""),
        ({"data": []}, ""),
    ],
)
def test_error_detail_knows_the_usual_shapes(body, detail):
    assert error_detail(body) == detail
