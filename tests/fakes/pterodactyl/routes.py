"""The fake panel's routes (``routes/api-application.php``, ``routes/api-client.php``)."""

from __future__ import annotations

import random
import re
import time
import traceback
from collections.abc import Callable
from typing import Any

from tests.fakes.pterodactyl.state import (
    NO_DAEMON,
    READ,
    UNAUTHORIZED,
    UNEXPECTED,
    WRITE,
    ApiError,
    ApiKey,
    FakePterodactyl,
    Invalid,
    Request,
    item,
    not_found,
)

Answer = tuple[int, Any]
USERNAME = re.compile(r"^[a-z0-9]([\w.-]+)[a-z0-9]$")
IMAGE = r"^~?[\w./\-:@ ]*$"
PORT_RANGE = re.compile(r"^(\d{4,5})-(\d{4,5})$")
TRANSFERRING = "Cannot toggle suspension status on a server that is currently being transferred."
NO_NODE = "No nodes satisfying the requirements specified for automatic deployment could be found."
NO_ALLOCATION = "No allocations satisfying the requirements for automatic deployment were found."
OWNS_SERVERS = (
    "Cannot delete a user with active servers attached to their account. Please delete their "
    "servers before continuing."
)


def dispatch(fake: FakePterodactyl, req: Request) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body or None, headers): the panel's answer to ``req``."""
    try:
        key = fake.authenticate(req)
        allowed = [method for method, pattern, _, _ in ROUTES if re.fullmatch(pattern, req.path)]
        for method, pattern, resource, handler in ROUTES:
            match = re.fullmatch(pattern, req.path)
            if match is None or method != req.method:
                continue
            bit = READ if method == "GET" else WRITE
            if resource is not None and key.kind == "application" and not key.acl[resource] & bit:
                raise ApiError(403, "AccessDeniedHttpException", UNAUTHORIZED)
            with fake.lock:
                status, body = handler(fake, req, key, *match.groups())
            return status, body, {}
        if allowed:
            raise ApiError(
                405,
                "MethodNotAllowedHttpException",
                f"The {req.method} method is not supported for this route. "
                f"Supported methods: {', '.join(allowed)}.",
            )
        raise not_found()
    except ApiError as exc:
        return exc.status, {"errors": exc.errors}, exc.headers
    except Exception:  # a bug of the fake: the panel's generic 500, the traceback on stderr
        traceback.print_exc()
        error = {"code": "ErrorException", "status": "500", "detail": UNEXPECTED}
        return 500, {"errors": [error]}, {}


# Users -------------------------------------------------------------------------------------


def list_users(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    allowed = ("email", "uuid", "username", "external_id")
    rows = fake.filtered(req, list(fake.users.values()), allowed)
    return 200, fake.paginate(req, rows, lambda user: item("user", user))


def view_user(fake: FakePterodactyl, req: Request, key: ApiKey, user_id: str) -> Answer:
    return 200, item("user", fake.bound(fake.users, user_id))


def view_external_user(fake: FakePterodactyl, req: Request, key: ApiKey, external: str) -> Answer:
    user = next((u for u in fake.users.values() if u["external_id"] == external), None)
    if user is None:
        raise not_found()
    return 200, item("user", user)


def create_user(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    """StoreUserRequest: e-mail and username unique (case-insensitively), names required."""
    data, invalid = req.data(), Invalid()
    users = list(fake.users.values())
    external = invalid.check(
        data, "external_id", "nullable|string|max:191", "Third Party Identifier"
    )
    if external and any(u["external_id"] == external for u in users):
        invalid.add("external_id", "unique", "The Third Party Identifier has already been taken.")
    for name in ("email", "username"):
        value = invalid.check(data, name, f"required|{'email' if name == 'email' else 'string'}")
        if value and any(str(u[name]).lower() == str(value).lower() for u in users):
            invalid.add(name, "unique", f"The {name} has already been taken.")
        elif value and name == "username" and not USERNAME.match(str(value).lower()):
            invalid.add(
                name,
                "p_username",
                "The username must start and end with alpha-numeric characters and contain "
                "only letters, numbers, dashes, underscores, and periods.",
            )
    invalid.check(data, "first_name", "required|string|max:191")
    invalid.check(data, "last_name", "required|string|max:191")
    invalid.raise_if_any()
    user = fake.add_user(
        data["email"],
        data["username"],
        data["first_name"],
        data["last_name"],
        root_admin=bool(data.get("root_admin")),
        external_id=data.get("external_id"),
    )
    resource = f"{fake.base_url}/api/application/users/{user['id']}"
    return 201, {**item("user", user), "meta": {"resource": resource}}


def delete_user(fake: FakePterodactyl, req: Request, key: ApiKey, user_id: str) -> Answer:
    user = fake.bound(fake.users, user_id)
    if any(s["user"] == user["id"] for s in fake.servers.values()):
        raise ApiError(400, "DisplayException", OWNS_SERVERS)
    del fake.users[user["id"]]
    return 204, None


# Servers -----------------------------------------------------------------------------------


def list_servers(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    allowed = ("uuid", "uuidShort", "name", "description", "image", "external_id")
    rows = fake.filtered(req, list(fake.servers.values()), allowed)
    return 200, fake.paginate(req, rows, lambda s: fake.server_item(s, req.includes()))


def view_server(fake: FakePterodactyl, req: Request, key: ApiKey, server_id: str) -> Answer:
    server = fake.bound(fake.servers, server_id)
    fake.observe(server)
    return 200, fake.server_item(server, req.includes())


def view_external_server(fake: FakePterodactyl, req: Request, key: ApiKey, external: str) -> Answer:
    """An exact match, unlike ``filter[external_id]``."""
    server = next((s for s in fake.servers.values() if s["external_id"] == external), None)
    if server is None:
        raise not_found()
    fake.observe(server)
    return 200, fake.server_item(server, req.includes())


SERVER_RULES = [
    ("name", "required|string|max:191"),
    ("docker_image", f"required|string|max:191|regex:/{IMAGE}/"),
    ("startup", "required|string"),
    ("environment", "present|array"),
    ("limits", "required|array"),
    ("limits.memory", "required|numeric|min:0"),
    ("limits.swap", "required|numeric|min:-1"),
    ("limits.disk", "required|numeric|min:0"),
    ("limits.io", "required|numeric|between:10,1000"),
    ("limits.cpu", "required|numeric|min:0"),
    ("limits.threads", "nullable|regex:/^[0-9-,]+$/"),
    ("feature_limits", "required|array"),
    ("feature_limits.databases", "present|nullable|integer|min:0"),
    ("feature_limits.backups", "present|nullable|integer|min:0"),
    ("feature_limits.allocations", "nullable|integer|min:0"),
    ("external_id", "nullable|string|between:1,191"),
    ("description", "nullable|string"),
]


def _existing(invalid: Invalid, data: dict, name: str, table: dict[int, Any]) -> Any:
    """``required|integer|exists``: the row, or None with the error added."""
    value = invalid.check(data, name, "required|integer")
    if value is not None and not invalid.has(name) and value not in table:
        invalid.add(name, "exists", f"The selected {name} is invalid.")
        return None
    return table.get(value) if isinstance(value, int) else None


def create_server(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    """StoreServerRequest, then the egg's variables, then deployment, then Wings."""
    data, invalid = req.data(), Invalid()
    _existing(invalid, data, "user", fake.users)
    egg = _existing(invalid, data, "egg", fake.eggs)
    for name, rules in SERVER_RULES:
        parent = name.split(".")[0]
        if "." not in name or isinstance(data.get(parent), dict):
            invalid.check(data, name, rules)
    external = data.get("external_id")
    if external and any(s["external_id"] == external for s in fake.servers.values()):
        invalid.add("external_id", "unique", "The external id has already been taken.")
    allocation = None
    if "deploy" in data:
        invalid.check(data, "deploy.locations", "present|array")
        invalid.check(data, "deploy.dedicated_ip", "required")
        invalid.check(data, "deploy.port_range", "present|array")
    else:
        default = invalid.check(data, "allocation.default", "required|integer")
        allocation = fake.allocations.get(default) if isinstance(default, int) else None
        taken = allocation is None or allocation["server_id"] is not None
        if default is not None and not invalid.has("allocation.default") and taken:
            invalid.add(
                "allocation.default", "exists", "The selected allocation.default is invalid."
            )
    invalid.raise_if_any()
    environment = data["environment"] if isinstance(data["environment"], dict) else {}
    for variable in egg["_variables"]:  # VariableValidatorService, at admin level
        path = f"environment.{variable['env_variable']}"
        name = f"{variable['name']} variable"
        invalid.check({"environment": environment}, path, variable["rules"], name)
    invalid.raise_if_any()
    if allocation is None:
        allocation = _deploy(fake, data)
    if fake.wings_down:  # the row was written, Wings failed: the server is force-deleted
        raise ApiError(504, "DaemonConnectionException", NO_DAEMON)
    return 201, fake.server_item(fake.new_server(data, allocation), req.includes())


def _deploy(fake: FakePterodactyl, data: dict[str, Any]) -> dict[str, Any]:
    """FindViableNodesService then AllocationSelectionService, or their 400s."""
    deploy = data["deploy"]
    locations = [int(x) for x in deploy.get("locations") or []]
    memory, disk = float(data["limits"]["memory"]), float(data["limits"]["disk"])
    viable = []
    for node in fake.nodes.values():
        used = fake.node_item(node)["attributes"]["allocated_resources"]
        fits = used["memory"] + memory <= node["memory"] * (1 + node["memory_overallocate"] / 100)
        fits = fits and used["disk"] + disk <= node["disk"] * (1 + node["disk_overallocate"] / 100)
        if node["public"] and (not locations or node["location_id"] in locations) and fits:
            viable.append(node["id"])
    if not viable:
        raise ApiError(400, "NoViableNodeException", NO_NODE)
    ports: set[int] = set()
    for spec in deploy.get("port_range") or []:
        if (match := PORT_RANGE.match(str(spec))) is not None:
            ports.update(range(int(match[1]), int(match[2]) + 1))
        elif str(spec).isdigit():
            ports.add(int(spec))
    busy = {(a["node_id"], a["ip"]) for a in fake.allocations.values() if a["server_id"]}
    free = [
        a
        for a in fake.allocations.values()
        if a["server_id"] is None
        and a["node_id"] in viable
        and (not ports or a["port"] in ports)
        and not (deploy.get("dedicated_ip") and (a["node_id"], a["ip"]) in busy)
    ]
    if not free:
        raise ApiError(400, "NoViableAllocationException", NO_ALLOCATION)
    return random.choice(free)


def update_details(fake: FakePterodactyl, req: Request, key: ApiKey, server_id: str) -> Answer:
    """``external_id`` and ``description`` are written as given: omitted means cleared."""
    server, data, invalid = fake.bound(fake.servers, server_id), req.data(), Invalid()
    invalid.check(data, "name", "required|string|max:191")
    _existing(invalid, data, "user", fake.users)
    external = data.get("external_id")
    others = [s for s in fake.servers.values() if s is not server]
    if external and any(s["external_id"] == external for s in others):
        invalid.add("external_id", "unique", "The external id has already been taken.")
    invalid.raise_if_any()
    server.update(
        name=data["name"],
        user=int(data["user"]),
        external_id=external,
        description=data.get("description") or "",
    )
    return 200, fake.server_item(server, req.includes())


def suspension(
    fake: FakePterodactyl, req: Request, key: ApiKey, server_id: str, action: str
) -> Answer:
    """SuspensionService: idempotent, 409 during a transfer, rolled back when Wings fails."""
    server = fake.bound(fake.servers, server_id)
    suspend = action == "suspend"
    if (server["status"] == "suspended") == suspend:
        return 204, None
    if server["_transferring"]:
        raise ApiError(409, "ConflictHttpException", TRANSFERRING)
    if fake.wings_down:
        raise ApiError(504, "DaemonConnectionException", NO_DAEMON)
    server["status"] = "suspended" if suspend else None
    if suspend:
        server["_power"] = "offline"
    else:  # unsuspending writes null over whatever was there, "installing" included
        server["_installing"] = False
    return 204, None


def reinstall(fake: FakePterodactyl, req: Request, key: ApiKey, server_id: str) -> Answer:
    server = fake.bound(fake.servers, server_id)
    if fake.wings_down:
        raise ApiError(504, "DaemonConnectionException", NO_DAEMON)
    fake.begin_install(server, reinstall=True)
    return 204, None


def delete_server(
    fake: FakePterodactyl, req: Request, key: ApiKey, server_id: str, force: str | None
) -> Answer:
    """Wings first (a failure aborts unless forced), then the row; its allocations are freed."""
    server = fake.bound(fake.servers, server_id)
    if fake.wings_down and force != "/force":
        raise ApiError(504, "DaemonConnectionException", NO_DAEMON)
    for allocation in fake.owned_allocations(server):
        allocation["server_id"] = None
    del fake.servers[server["id"]]
    return 204, None


# Nodes, allocations, locations, nests, eggs -----------------------------------------------


def list_nodes(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    allowed = ("uuid", "name", "fqdn", "daemon_token_id")
    rows = fake.filtered(req, list(fake.nodes.values()), allowed)
    return 200, fake.paginate(req, rows, fake.node_item)


def view_node(fake: FakePterodactyl, req: Request, key: ApiKey, node_id: str) -> Answer:
    return 200, fake.node_item(fake.bound(fake.nodes, node_id))


def list_allocations(fake: FakePterodactyl, req: Request, key: ApiKey, node_id: str) -> Answer:
    """``filter[server_id]`` with a non-numeric value: the unassigned allocations only."""
    node = fake.bound(fake.nodes, node_id)
    rows = [a for a in fake.allocations.values() if a["node_id"] == node["id"]]
    for name, value in req.filters().items():
        if name == "server_id":
            wanted = int(value) if value.isdigit() else None
            rows = [a for a in rows if a["server_id"] == wanted]
        elif name in ("ip", "port"):
            rows = [a for a in rows if str(a[name]) == value]
        elif name == "ip_alias":
            rows = [a for a in rows if value.lower() in str(a["alias"] or "").lower()]
        else:
            fake.filtered(req, [], ("ip", "port", "ip_alias", "server_id"))  # raises its 400
    return 200, fake.paginate(req, rows, fake.allocation_item)


def list_locations(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    rows = fake.filtered(req, list(fake.locations.values()), ("short", "long"))
    return 200, fake.paginate(req, rows, lambda location: item("location", location))


def view_location(fake: FakePterodactyl, req: Request, key: ApiKey, location_id: str) -> Answer:
    return 200, item("location", fake.bound(fake.locations, location_id))


def list_nests(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    return 200, fake.paginate(req, list(fake.nests.values()), lambda nest: item("nest", nest))


def view_nest(fake: FakePterodactyl, req: Request, key: ApiKey, nest_id: str) -> Answer:
    return 200, item("nest", fake.bound(fake.nests, nest_id))


def list_eggs(fake: FakePterodactyl, req: Request, key: ApiKey, nest_id: str) -> Answer:
    """``$nest->eggs``: not paginated, no ``meta``."""
    nest = fake.bound(fake.nests, nest_id)
    eggs = [e for e in fake.eggs.values() if e["nest"] == nest["id"]]
    return 200, {"object": "list", "data": [fake.egg_item(e, req.includes()) for e in eggs]}


def view_egg(fake: FakePterodactyl, req: Request, key: ApiKey, nest_id: str, egg_id: str) -> Answer:
    nest, egg = fake.bound(fake.nests, nest_id), fake.bound(fake.eggs, egg_id)
    if egg["nest"] != nest["id"]:
        raise not_found()
    return 200, fake.egg_item(egg, req.includes())


# Client API --------------------------------------------------------------------------------


def client_list(fake: FakePterodactyl, req: Request, key: ApiKey) -> Answer:
    """``?type=admin`` / ``admin-all`` list others' servers for root admins, none otherwise."""
    kind, admin = req.param("type") or "", fake.users[key.user_id]["root_admin"]
    servers = list(fake.servers.values())
    if kind == "admin-all":
        rows = servers if admin else []
    elif kind == "admin":
        rows = [s for s in servers if s["user"] != key.user_id] if admin else []
    else:
        rows = [s for s in servers if s["user"] == key.user_id]
    return 200, fake.paginate(req, rows, lambda s: fake.client_server_item(s, key), cap=100)


def client_view(fake: FakePterodactyl, req: Request, key: ApiKey, identifier: str) -> Answer:
    """Allowed whatever the server's state, unlike every other client route."""
    server = fake.client_bound(key, identifier, check_state=False)
    return 200, fake.client_server_item(server, key)


def client_resources(fake: FakePterodactyl, req: Request, key: ApiKey, identifier: str) -> Answer:
    """Wings' stats (``StatsTransformer``): made-up figures while running, zeros otherwise."""
    server = fake.client_bound(key, identifier)
    running = server["_power"] == "running"
    memory = int(server["limits"]["memory"] * 0.4 * 1024 * 1024)
    uptime = int((time.monotonic() - server["_booted"]) * 1000)
    return 200, item(
        "stats",
        {
            "current_state": server["_power"],
            "is_suspended": server["status"] == "suspended",
            "resources": {
                "memory_bytes": memory if running else 0,
                "cpu_absolute": 12.5 if running else 0,
                "disk_bytes": 512 * 1024 * 1024,
                "network_rx_bytes": 1024 if running else 0,
                "network_tx_bytes": 2048 if running else 0,
                "uptime": uptime if running else 0,
            },
        },
    )


def client_power(fake: FakePterodactyl, req: Request, key: ApiKey, identifier: str) -> Answer:
    """SendPowerRequest: ``signal`` (trimmed) in start, stop, restart, kill; then Wings."""
    server = fake.client_bound(key, identifier)
    data, invalid = dict(req.data()), Invalid()
    if isinstance(data.get("signal"), str):
        data["signal"] = data["signal"].strip()
    invalid.check(data, "signal", "required|string|in:start,stop,restart,kill")
    invalid.raise_if_any()
    if fake.wings_down:
        raise ApiError(504, "DaemonConnectionException", NO_DAEMON)
    signal = data["signal"]
    if signal == "restart" or (signal == "start" and server["_power"] != "running"):
        server["_booted"] = time.monotonic()
    server["_power"] = "running" if signal in ("start", "restart") else "offline"
    return 204, None


APP = "/api/application"
ROUTES: list[tuple[str, str, str | None, Callable[..., Answer]]] = [
    ("GET", f"{APP}/users", "users", list_users),
    ("GET", f"{APP}/users/external/([^/]+)", "users", view_external_user),
    ("GET", f"{APP}/users/([^/]+)", "users", view_user),
    ("POST", f"{APP}/users", "users", create_user),
    ("DELETE", f"{APP}/users/([^/]+)", "users", delete_user),
    ("GET", f"{APP}/servers", "servers", list_servers),
    ("GET", f"{APP}/servers/external/([^/]+)", "servers", view_external_server),
    ("GET", f"{APP}/servers/([^/]+)", "servers", view_server),
    ("POST", f"{APP}/servers", "servers", create_server),
    ("PATCH", f"{APP}/servers/([^/]+)/details", "servers", update_details),
    ("POST", f"{APP}/servers/([^/]+)/(suspend|unsuspend)", "servers", suspension),
    ("POST", f"{APP}/servers/([^/]+)/reinstall", "servers", reinstall),
    ("DELETE", f"{APP}/servers/([^/]+)(/force)?", "servers", delete_server),
    ("GET", f"{APP}/nodes", "nodes", list_nodes),
    ("GET", f"{APP}/nodes/([^/]+)", "nodes", view_node),
    ("GET", f"{APP}/nodes/([^/]+)/allocations", "allocations", list_allocations),
    ("GET", f"{APP}/locations", "locations", list_locations),
    ("GET", f"{APP}/locations/([^/]+)", "locations", view_location),
    ("GET", f"{APP}/nests", "nests", list_nests),
    ("GET", f"{APP}/nests/([^/]+)", "nests", view_nest),
    ("GET", f"{APP}/nests/([^/]+)/eggs", "eggs", list_eggs),
    ("GET", f"{APP}/nests/([^/]+)/eggs/([^/]+)", "eggs", view_egg),
    ("GET", "/api/client", None, client_list),
    ("GET", "/api/client/servers/([^/]+)", None, client_view),
    ("GET", "/api/client/servers/([^/]+)/resources", None, client_resources),
    ("POST", "/api/client/servers/([^/]+)/power", None, client_power),
]
