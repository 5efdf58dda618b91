"""The one HTTP client of delivery modules (issue 12; DESIGN.md, "Delivery modules").

Every module that talks to a panel over HTTP does it through a ``PanelClient``, so that
all of them share the same behaviour:

* bounded waits: ``DELIVERY_CONNECT_TIMEOUT`` to connect, ``DELIVERY_READ_TIMEOUT`` for
  each read of the answer, so a panel that hangs cannot hold a worker for ever;
* one mapping of failures to ``ModuleError``: a ``PanelError`` says whether trying again
  may succeed (5xx, 429, timeouts and connection errors: yes; other 4xx: no) and how
  long the panel asked to be left alone (``Retry-After``), which the lifecycle's retries
  and the bulk actions' back-off read;
* every call recorded in the module call log (``delivery.calllog``), secrets redacted.

One ``httpx.Client`` per ``PanelClient`` keeps connections to the panel open between
calls (a module making several calls for one operation pays for TLS once). Redirects
are not followed: a panel that redirects is misconfigured (http to https), and
following would send the API key wherever the redirect points.
"""

from __future__ import annotations

import email.utils
import functools
import http
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from . import calllog
from .models import Server
from .modules.base import ModuleError

USER_AGENT = "ClientXCMS"
#: Header names whose values are credentials: their values are redacted from the log even
#: when the module forgot to list them in ``secrets``.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "key", "token", "secret", "auth", "pass")
_DETAIL_LIMIT = 500


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and verification mode, shared by every client.

    Building one loads the CA bundle, about 36 ms of CPU: paid by each operation of a
    bulk of thousands, it, not the panel, set the pace. A context is safe to share.
    """
    return httpx.create_ssl_context(verify=verify)


class PanelError(ModuleError):
    """A call to a panel that failed: no answer, or an answer that is not a 2xx.

    ``http_status`` is the HTTP status (None when no answer came), ``retry_after`` the seconds
    the panel asked to wait (``Retry-After``), ``body`` its answer, parsed when JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.http_status = status
        self.retry_after = retry_after
        self.body = body


def _seconds(value: float) -> str:
    """5.0 → "5", 0.25 → "0.25": how a timeout reads in a sentence."""
    return f"{value:g}"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The seconds of a ``Retry-After`` header: a number, or an HTTP date from now."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinities
        return None
    return max(0.0, seconds)


def parse_body(response: httpx.Response) -> Any:
    """The answer as JSON when it is JSON, else its text."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return response.content.decode("utf-8", errors="replace")
    if text.lstrip()[:1] in ("{", "["):
        try:
            return response.json()
        except ValueError:
            pass
    return text


def error_detail(body: Any) -> str:
    """The first error message in a panel's answer, when its shape is a known one.

    Pterodactyl and JSON:API: ``{"errors": [{"detail": ...}]}``; Laravel and Proxmox:
    ``{"message": ...}`` (with ``{"errors": {field: ...}}``); others: ``{"error": ...}``,
    ``{"detail": ...}``. "" when there is none.
    """
    if not isinstance(body, dict):
        return ""
    found: Any = None
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        found = first.get("detail") or first.get("message") if isinstance(first, dict) else first
    elif isinstance(errors, dict) and errors:
        field, value = next(iter(errors.items()))
        value = value[0] if isinstance(value, list) and value else value
        found = f"{field}: {value}" if isinstance(value, str) else None
        message = body.get("message")
        if isinstance(message, str) and message.strip() and found:
            found = f"{message.strip().rstrip('.')}. {found}"
    if not found:
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail")
        found = error or body.get("message") or body.get("detail")
    if not isinstance(found, str):
        return ""
    found = " ".join(found.split())
    return found if len(found) <= _DETAIL_LIMIT else found[: _DETAIL_LIMIT - 1] + "…"


def _cause_chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class PanelClient:
    """Calls one panel (``base_url``) for one server, with its credentials in ``headers``.

    ``secrets`` are values that must never reach the call log (the API keys, passwords
    sent in bodies); header values that look like credentials are added to them.
    ``describe_error(response)`` writes the message of a failed answer when the module
    knows its panel's errors better than ``error_detail``. ``verify`` is TLS
    certificate verification (off only for panels with self-signed certificates).
    """

    def __init__(
        self,
        server: Server,
        *,
        base_url: str,
        headers: Mapping[str, str],
        secrets: Iterable[str] = (),
        describe_error: Callable[[httpx.Response], str] | None = None,
        verify: bool = True,
    ) -> None:
        self.server = server
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or self.base_url
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        self.describe_error = describe_error
        self.secrets = [secret for secret in secrets if isinstance(secret, str) and secret]
        for name, value in headers.items():
            if any(word in name.lower() for word in _CREDENTIAL_HEADERS) and value:
                self.secrets.append(value)
                scheme, _, token = value.partition(" ")
                if token and scheme.isalpha():  # "Bearer <token>": the token alone too
                    self.secrets.append(token)
        self.connect_timeout = float(settings.DELIVERY_CONNECT_TIMEOUT)
        self.read_timeout = float(settings.DELIVERY_READ_TIMEOUT)
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
            verify=_tls_context(verify),
            follow_redirects=False,
        )

    # Lifetime: one pool of connections per client, closed with it.
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PanelClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the headers: they hold the API key.
        return f"<PanelClient {self.base_url} for {self.server!r}>"

    # Calls.
    def url_for(self, path: str) -> str:
        """``path`` joined to the base URL; an absolute URL (a panel's own "next page"
        link) only when it points at the same panel, so the key goes nowhere else."""
        if "://" in path:
            wanted, given = urlsplit(self.base_url), urlsplit(path)
            if (given.scheme, given.netloc) != (wanted.scheme, wanted.netloc):
                raise PanelError(
                    f"Refused to send the panel's credentials to another address ({given.netloc})."
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        operation: str = "",
    ) -> httpx.Response:
        """Send one request; the 2xx answer, or ``PanelError``. Recorded either way.

        ``operation`` names this call in the log, after the operation of the
        ``calling`` block around it ("suspend: find server").
        """
        method = method.upper()
        try:
            request = self._client.build_request(
                method, self.url_for(path), params=params, json=json
            )
        except httpx.InvalidURL as exc:
            raise PanelError(f"The panel address is not a valid URL: {exc}") from exc
        response: httpx.Response | None = None
        error: PanelError | None = None
        started = time.perf_counter()
        try:
            response = self._client.send(request)
        except httpx.TimeoutException as exc:
            error = self._timeout_error(exc)
        except httpx.TransportError as exc:
            error = self._transport_error(exc)
        duration_ms = round((time.perf_counter() - started) * 1000)
        if response is not None and not response.is_success:
            error = self._answer_error(response)
        if error is not None:
            error.message = calllog.scrub(error.message, self.secrets)
            error.args = (error.message,)
        calllog.record(
            server=self.server,
            module=self.server.module,
            method=method,
            url=str(request.url),
            request_body=request.content,
            response_body=response.content if response is not None else None,
            status=response.status_code if response is not None else None,
            duration_ms=duration_ms,
            error=error.message if error is not None else "",
            retryable=error.retryable if error is not None else False,
            operation=operation,
            secrets=self.secrets,
        )
        if error is not None:
            raise error
        assert response is not None  # no error means an answer came
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request(...)`` and its answer's JSON; ``{}`` for an empty answer (204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content.strip():
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise PanelError(
                f"The panel answered {response.status_code} with something that is not JSON.",
                status=response.status_code,
                body=parse_body(response),
            ) from exc

    # Failures.
    def _timeout_error(self, exc: httpx.TimeoutException) -> PanelError:
        if isinstance(exc, httpx.ConnectTimeout):
            message = (
                f"Could not connect to {self.host}: no answer within "
                f"{_seconds(self.connect_timeout)} seconds."
            )
        elif isinstance(exc, httpx.PoolTimeout):
            message = f"No connection to {self.host} was free in time."
        else:
            message = f"The panel did not answer within {_seconds(self.read_timeout)} seconds."
        return PanelError(message, retryable=True)

    def _transport_error(self, exc: httpx.TransportError) -> PanelError:
        reason = str(exc) or type(exc).__name__
        if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _cause_chain(exc)):
            # A certificate that does not verify will not verify on the next attempt.
            return PanelError(
                f"The certificate of {self.host} could not be verified: {reason}", retryable=False
            )
        if isinstance(exc, httpx.UnsupportedProtocol):
            return PanelError(f"The panel address is not a valid URL: {reason}")
        if isinstance(exc, httpx.ConnectError):
            return PanelError(f"Could not connect to {self.host}: {reason}", retryable=True)
        return PanelError(f"The connection to {self.host} failed: {reason}", retryable=True)

    def _answer_error(self, response: httpx.Response) -> PanelError:
        status = response.status_code
        body = parse_body(response)
        message = ""
        if self.describe_error is not None:
            try:
                message = self.describe_error(response)
            except Exception:  # noqa: BLE001 - a module's helper failing is no reason to lose the error
                message = ""
        if not message:
            # The panel's own phrase first: Proxmox words its errors there.
            phrase = " ".join(response.reason_phrase.split())[:_DETAIL_LIMIT]
            if not phrase:
                try:
                    phrase = http.HTTPStatus(status).phrase
                except ValueError:
                    phrase = "an error"
            message = f"The panel answered {status} {phrase}."
            if detail := error_detail(body):
                message = f"{message} {detail}"
        return PanelError(
            message,
            status=status,
            retryable=status >= 500 or status == 429,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            body=body,
        )
