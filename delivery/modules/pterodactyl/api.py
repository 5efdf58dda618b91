"""The calls the Pterodactyl module makes, through ``PanelClient``, and the panel's envelope.

Two clients, one per key: the application key for ``/api/application`` (users, servers,
eggs) and the client key for ``/api/client`` (power, live figures). Each turns the panel's
errors into sentences that say what to fix ("bad API key", "wrong key kind", the 422's
details); ``PanelClient`` decides what is retryable (5xx, 429, timeouts) and logs the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any

import httpx
from django.utils.translation import gettext

from delivery.http import PanelClient, PanelError, parse_body
from delivery.models import Server
from delivery.modules.base import ModuleError

ACCEPT = "application/vnd.pterodactyl.v1+json"
APPLICATION, CLIENT = "application", "client"
#: Lists are read page by page up to this many pages (100 items each).
MAX_PAGES = 50
PER_PAGE = 100

_APP_KEY_ON_CLIENT = "application API key on an endpoint that requires a client API key"
_NOT_ADMIN = "This account does not have permission to access the API."
_UNAUTHORIZED = "This action is unauthorized."


def panel_url(server: Server) -> str:
    """``scheme://hostname[:port]`` of the server; a hostname given as a URL is taken whole."""
    host = server.hostname.strip().rstrip("/")
    if "://" in host:
        return host
    scheme = (server.credentials or {}).get("scheme") or "https"
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = f":{server.port}" if server.port and server.port != default else ""
    return f"{scheme}://{host}{port}"


def _details(response: httpx.Response) -> list[str]:
    body = parse_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        " ".join(error["detail"].split())
        for error in errors
        if isinstance(error, dict) and isinstance(error.get("detail"), str)
    ]


def describe_error(kind: str) -> Callable[[httpx.Response], str]:
    """The message of a failed answer to the ``kind`` API, in words staff can act on."""

    def describe(response: httpx.Response) -> str:
        status, details = response.status_code, _details(response)
        detail = " ".join(details)
        if status == 401:
            return (
                f"The panel refused the {kind} API key (bad API key): check it on the "
                "server's credentials, or create a new one on the panel."
            )
        if status == 403 and _APP_KEY_ON_CLIENT in detail:
            return (
                "Wrong key kind: the client API key is an application key (ptla_). Create a "
                "client key (ptlc_) under Account > API Credentials of an administrator."
            )
        if status == 403 and _NOT_ADMIN in detail:
            return (
                f"The {kind} API key belongs to a panel account that is not an administrator: "
                "the application API refuses it."
            )
        if status == 403 and _UNAUTHORIZED in detail:
            return (
                "The application API key lacks a permission this needs: give it read and "
                "write on servers and users, and read on nodes, allocations, locations, nests "
                "and eggs."
            )
        if 300 <= status < 400:
            where = response.headers.get("Location", "elsewhere")
            return (
                f"The panel redirected the call to {where}: check its address and protocol "
                "(http or https)."
            )
        if status == 422:
            return f"The panel refused the request: {detail or 'invalid data'}"
        if status == 429:
            wait = response.headers.get("Retry-After")
            later = f" It asks to wait {wait} seconds." if wait else ""
            return f"The panel is limiting the rate of requests (429).{later}"
        if status >= 500:
            reason = detail or response.reason_phrase or "no detail"
            return f"The panel failed ({status}): {reason}"
        if detail:
            return f"The panel answered {status}: {detail}"
        return ""

    return describe


def attributes(payload: Any, kind: str) -> dict[str, Any]:
    """The ``attributes`` of a Fractal item of ``kind`` (``{"object": kind, ...}``)."""
    if (
        not isinstance(payload, dict)
        or payload.get("object") != kind
        or not isinstance(payload.get("attributes"), dict)
    ):
        raise ModuleError(
            gettext(
                "The panel's answer is not a Pterodactyl %(kind)s: is the address that of a "
                "Pterodactyl panel?"
            )
            % {"kind": kind}
        )
    return payload["attributes"]


def list_attributes(payload: Any, kind: str) -> list[dict[str, Any]]:
    """The ``attributes`` of each item of a Fractal list."""
    if not isinstance(payload, dict) or payload.get("object") != "list":
        raise ModuleError(gettext("The panel's answer is not a Pterodactyl list."))
    return [attributes(entry, kind) for entry in payload.get("data") or []]


def is_missing(exc: PanelError) -> bool:
    return exc.http_status == 404


@dataclass(frozen=True)
class PanelCatalogue:
    """What a panel offers a product: (egg id, nest id, "Nest › Egg"), (location id, name)."""

    eggs: list[tuple[int, int, str]]
    locations: list[tuple[int, str]]
    source: str = ""


class PterodactylApi:
    """One server's panel. Use it as a context manager: its connections are closed after."""

    def __init__(self, server: Server) -> None:
        credentials = server.credentials or {}
        self.panel_server = server
        self.url = panel_url(server)
        self.application_key = str(credentials.get("application_key") or "")
        self.client_key = str(credentials.get("client_key") or "")
        if not self.application_key or not self.client_key:
            raise ModuleError(
                gettext("Server %(server)s has no API keys: edit its credentials.")
                % {"server": server}
            )
        self.verify = not credentials.get("skip_tls_verify")

    def _panel(self, kind: str, key: str) -> PanelClient:
        return PanelClient(
            self.panel_server,
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}", "Accept": ACCEPT},
            secrets=[self.application_key, self.client_key],
            describe_error=describe_error(kind),
            verify=self.verify,
        )

    @cached_property
    def application(self) -> PanelClient:
        return self._panel(APPLICATION, self.application_key)

    @cached_property
    def client(self) -> PanelClient:
        return self._panel(CLIENT, self.client_key)

    def close(self) -> None:
        for name in ("application", "client"):
            if name in self.__dict__:
                self.__dict__[name].close()

    def __enter__(self) -> PterodactylApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Application API --------------------------------------------------------------------

    def _pages(self, path: str, kind: str, params: dict[str, Any], operation: str) -> list[dict]:
        """Every item of a paginated list, page by page."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            payload = self.application.json(
                "GET",
                path,
                params={**params, "per_page": PER_PAGE, "page": page},
                operation=operation,
            )
            found += list_attributes(payload, kind)
            pagination = (payload.get("meta") or {}).get("pagination") or {}
            if page >= int(pagination.get("total_pages") or 1):
                break
        return found

    def count_servers(self) -> int:
        """How many servers the panel has, from the pagination of a one-item page."""
        payload = self.application.json(
            "GET", "/api/application/servers", params={"per_page": 1}, operation="test"
        )
        list_attributes(payload, "server")
        return int(((payload.get("meta") or {}).get("pagination") or {}).get("total") or 0)

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """The panel user with this e-mail: the filter is a partial match, so compare."""
        users = self._pages("/api/application/users", "user", {"filter[email]": email}, "find user")
        wanted = email.strip().lower()
        return next((u for u in users if str(u.get("email", "")).lower() == wanted), None)

    def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = self.application.json(
            "POST", "/api/application/users", json=body, operation="create user"
        )
        return attributes(payload, "user")

    def server(self, server_id: str, *, operation: str) -> dict[str, Any] | None:
        """The server of this panel id with its allocations, None when the panel has none."""
        try:
            payload = self.application.json(
                "GET",
                f"/api/application/servers/{server_id}",
                params={"include": "allocations"},
                operation=operation,
            )
        except PanelError as exc:
            if is_missing(exc):
                return None
            raise
        return attributes(payload, "server")

    def server_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        """The server made for this service (an exact match), None when there is none."""
        try:
            payload = self.application.json(
                "GET",
                f"/api/application/servers/external/{external_id}",
                params={"include": "allocations"},
                operation="find server",
            )
        except PanelError as exc:
            if is_missing(exc):
                return None
            raise
        return attributes(payload, "server")

    def servers(self) -> list[dict[str, Any]]:
        """Every server of the panel, with its owner (``relationships.user``)."""
        return self._pages("/api/application/servers", "server", {"include": "user"}, "list")

    def catalogue(self) -> PanelCatalogue:
        """The panel's eggs (by nest) and locations, for the product form's choices."""
        eggs: list[tuple[int, int, str]] = []
        for nest in self._pages("/api/application/nests", "nest", {}, "list nests"):
            path = f"/api/application/nests/{nest['id']}/eggs"
            for egg in self._pages(path, "egg", {}, "list eggs"):
                eggs.append((int(egg["id"]), int(nest["id"]), f"{nest['name']} › {egg['name']}"))
        locations = [
            (int(found["id"]), " — ".join(p for p in (found.get("short"), found.get("long")) if p))
            for found in self._pages("/api/application/locations", "location", {}, "list locations")
        ]
        return PanelCatalogue(eggs=eggs, locations=locations)

    def egg(self, nest: int, egg: int) -> dict[str, Any]:
        try:
            payload = self.application.json(
                "GET",
                f"/api/application/nests/{nest}/eggs/{egg}",
                params={"include": "variables"},
                operation="read egg",
            )
        except PanelError as exc:
            if is_missing(exc):
                raise ModuleError(
                    gettext(
                        "The panel has no egg %(egg)s in nest %(nest)s: correct the product's "
                        "configuration."
                    )
                    % {"egg": egg, "nest": nest}
                ) from exc
            raise
        return attributes(payload, "egg")

    def free_allocation(self, node: int) -> dict[str, Any]:
        try:
            payload = self.application.json(
                "GET",
                f"/api/application/nodes/{node}/allocations",
                params={"filter[server_id]": "none", "per_page": 1},
                operation="find allocation",
            )
        except PanelError as exc:
            if is_missing(exc):
                raise ModuleError(
                    gettext("The panel has no node %(node)s.") % {"node": node}
                ) from exc
            raise
        free = list_attributes(payload, "allocation")
        if not free:
            raise ModuleError(
                gettext("Node %(node)s of the panel has no free allocation (port) left.")
                % {"node": node}
            )
        return free[0]

    def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = self.application.json(
            "POST", "/api/application/servers", json=body, operation="create server"
        )
        return attributes(payload, "server")

    def server_action(self, server_id: str, action: str) -> bool:
        """POST ``suspend``/``unsuspend``/``reinstall``; False when the server is gone."""
        try:
            self.application.post(
                f"/api/application/servers/{server_id}/{action}", operation=action
            )
        except PanelError as exc:
            if is_missing(exc):
                return False
            raise
        return True

    def delete_server(self, server_id: str) -> bool:
        """Delete the server; False when it was already gone."""
        try:
            self.application.delete(f"/api/application/servers/{server_id}", operation="delete")
        except PanelError as exc:
            if is_missing(exc):
                return False
            raise
        return True

    # Client API -------------------------------------------------------------------------

    def client_server(self, identifier: str) -> dict[str, Any]:
        payload = self.client.json(
            "GET", f"/api/client/servers/{identifier}", operation="read server"
        )
        return attributes(payload, "server")

    def resources(self, identifier: str) -> dict[str, Any]:
        payload = self.client.json(
            "GET", f"/api/client/servers/{identifier}/resources", operation="read resources"
        )
        return attributes(payload, "stats")

    def power(self, identifier: str, signal: str) -> None:
        self.client.post(
            f"/api/client/servers/{identifier}/power",
            json={"signal": signal},
            operation=f"power {signal}",
        )

    def client_sees_every_server(self) -> int:
        """How many servers the client key's account reaches as an administrator."""
        payload = self.client.json(
            "GET", "/api/client", params={"type": "admin-all", "per_page": 1}, operation="test"
        )
        list_attributes(payload, "server")
        return int(((payload.get("meta") or {}).get("pagination") or {}).get("total") or 0)
