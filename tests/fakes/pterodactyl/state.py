"""The fake panel's state and the panel's ways: errors, validation, transformers, auth."""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.serving import FaultRule

# A 16-character identifier (its prefix included) then a 32-character secret (ApiKey.php).
APPLICATION_KEY = "ptla_fakeapp0001" + "Zk9yVGVzdHNPbmx5QXBwbGljYXRpb24x"
CLIENT_KEY = "ptlc_fakeclt0001" + "Zk9yVGVzdHNPbmx5Q2xpZW50S2V5MDAx"
READ, WRITE = 1, 2
RESOURCES = ("servers", "nodes", "allocations", "users", "locations", "nests", "eggs")

NOT_FOUND = "The requested resource could not be found on the server."
UNAUTHORIZED = "This action is unauthorized."
NOT_ADMIN = "This account does not have permission to access the API."
APP_KEY_ON_CLIENT = (
    "You are attempting to use an application API key on an endpoint that requires a "
    "client API key."
)
NO_ACCESS = "The requested resource does not exist on this server."
UNEXPECTED = "An unexpected error was encountered while processing this request, please try again."
NO_DAEMON = "Could not establish a connection to the machine running this server. Please try again."
CONFLICTS = {
    "suspended": "This server is currently suspended and the functionality requested is "
    "unavailable.",
    "installing": "This server has not yet completed its installation process, please try "
    "again later.",
    "transferring": "This server is currently being transferred to a new machine, please "
    "try again later.",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def now() -> str:
    """A timestamp as the panel formats it (``toAtomString``, UTC)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def item(name: str, attributes: Any) -> dict[str, Any]:
    return {"object": name, "attributes": attributes}


def as_int(value: str | None, default: int) -> int:
    return int(value) if value and value.lstrip("-").isdigit() else default


class ApiError(Exception):
    """An answer in the panel's error format (``app/Exceptions/Handler.php``)."""

    def __init__(
        self, status: int, code: str, *details: str, meta: list[dict] | None = None
    ) -> None:
        super().__init__(details[0] if details else code)
        self.status = status
        self.headers: dict[str, str] = {}
        self.errors = [
            {"code": code, "status": str(status), "detail": detail}
            | ({"meta": meta[i]} if meta else {})
            for i, detail in enumerate(details)
        ]


def not_found(detail: str = NOT_FOUND) -> ApiError:
    return ApiError(404, "NotFoundHttpException", detail)


def _fails(kind: str, arg: str, value: Any) -> bool:
    """Whether a non-empty ``value`` fails Laravel's rule ``kind:arg``."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return not isinstance(value, str)
    if kind == "array":
        return not isinstance(value, dict | list)
    if kind == "integer":
        return not (isinstance(value, int) and not isinstance(value, bool))
    if kind == "numeric":
        return not number
    if kind == "boolean":
        return not isinstance(value, bool | int)
    if kind == "email":
        return not EMAIL.match(str(value))
    if kind == "min":
        return number and value < float(arg)
    if kind == "max":
        return len(str(value)) > int(arg)
    if kind == "between":
        low, high = (float(x) for x in arg.split(","))
        size = value if number else len(str(value))
        return not low <= size <= high
    if kind == "regex":
        return not re.search(arg.strip("/"), str(value))
    if kind == "in":
        return str(value) not in arg.split(",")
    return False


MESSAGES = {
    "string": "The {attr} must be a string.",
    "array": "The {attr} must be an array.",
    "integer": "The {attr} must be an integer.",
    "numeric": "The {attr} must be a number.",
    "boolean": "The {attr} field must be true or false.",
    "email": "The {attr} must be a valid email address.",
    "min": "The {attr} must be at least {arg}.",
    "max": "The {attr} may not be greater than {arg} characters.",
    "between": "The {attr} must be between {arg}.",
    "regex": "The {attr} format is invalid.",
    "in": "The selected {attr} is invalid.",
}


class Invalid:
    """The 422 of a form request: one entry per failed rule, ``meta.source_field``/``rule``.

    A field shows its first failure only; an attribute reads as Laravel shows it (the
    dotted path, underscores as spaces) unless a name is given.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []

    def add(self, source: str, rule: str, detail: str) -> None:
        self.errors.append((source, rule, detail))

    def has(self, source: str) -> bool:
        return any(error[0] == source for error in self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(
                422,
                "ValidationException",
                *(detail for _, _, detail in self.errors),
                meta=[{"source_field": s, "rule": r} for s, r, _ in self.errors],
            )

    def check(self, data: dict, path: str, rules: str, name: str | None = None) -> Any:
        attr = name or path.replace("_", " ")
        value: Any = data
        present = True
        for part in path.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                present, value = False, None
        rule_list = rules.split("|")
        if "present" in rule_list and not present:
            self.add(path, "present", f"The {attr} field must be present.")
            return None
        if value is None or value == "" or value == [] or value == {}:
            if "required" in rule_list:
                self.add(path, "required", f"The {attr} field is required.")
            return value
        for rule in rule_list:
            kind, _, arg = rule.partition(":")
            if _fails(kind, arg, value):
                shown = arg.replace(",", " and ")
                self.add(path, kind, MESSAGES[kind].format(attr=attr, arg=shown))
                return None
        return value


@dataclass
class ApiKey:
    token: str
    kind: str  # "application" (ptla_) or "client" (ptlc_)
    user_id: int
    acl: dict[str, int]


@dataclass
class Fault(FaultRule):
    """A fault of the game panel: ``status`` comes with ``retry_after`` as ``Retry-After``
    and ``body`` as its JSON; a ``hang`` ends in a 504."""

    retry_after: int | None = None
    body: Any = None


@dataclass
class Received:
    """A request as the fake received it (``token``: the bearer token sent)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    token: str


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def filters(self) -> dict[str, str]:
        return {
            key[7:-1]: values[0]
            for key, values in self.query.items()
            if key.startswith("filter[") and key.endswith("]")
        }

    def includes(self) -> set[str]:
        return {part.strip() for part in (self.param("include") or "").split(",") if part.strip()}

    def data(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class FakePterodactyl:
    """The panel's state, its keys, the requests it received and the faults to inject."""

    base_url: str = ""
    application_key: str = APPLICATION_KEY
    client_key: str = CLIENT_KEY
    #: A server stops installing once read this many times (None: never by reads) ...
    install_reads: int | None = 1
    #: ... or this many seconds after its install began (None: never by time).
    install_seconds: float | None = None
    #: Whether the installs that finish by themselves succeed.
    install_ok: bool = True
    #: Wings (the nodes' daemon) unreachable: creation, suspension, power fail with 504.
    wings_down: bool = False
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    allocations: dict[int, dict[str, Any]] = field(default_factory=dict)
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    nests: dict[int, dict[str, Any]] = field(default_factory=dict)
    eggs: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    #: The ids of what ``seed()`` built: location, node, nest, egg.
    ids: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _counters: dict[str, Iterator[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        admin = self.add_user("admin@panel.test", "admin", "Panel", "Admin", root_admin=True)
        self.keys[self.application_key] = ApiKey(
            self.application_key, "application", admin["id"], dict.fromkeys(RESOURCES, 3)
        )
        self.keys[self.client_key] = ApiKey(self.client_key, "client", admin["id"], {})

    def _next(self, kind: str) -> int:
        return next(self._counters.setdefault(kind, itertools.count(1)))

    # Building state -------------------------------------------------------------------

    def add_key(self, kind: str, *, user_id: int = 1, acl: dict[str, int] | None = None) -> str:
        """A new key of ``kind`` for ``user_id``; ``acl`` maps resources to READ|WRITE bits."""
        prefix = "ptla_" if kind == "application" else "ptlc_"
        token = (prefix + uuid.uuid4().hex)[:16] + uuid.uuid4().hex
        bits = {**dict.fromkeys(RESOURCES, READ | WRITE), **(acl or {})}
        self.keys[token] = ApiKey(token, kind, user_id, bits)
        return token

    def add_user(
        self,
        email: str,
        username: str,
        first_name: str = "First",
        last_name: str = "Last",
        *,
        root_admin: bool = False,
        external_id: str | None = None,
    ) -> dict[str, Any]:
        user_id, stamp = self._next("user"), now()
        self.users[user_id] = {
            "id": user_id,
            "external_id": external_id,
            "uuid": str(uuid.uuid4()),
            "username": username.lower(),
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "language": "en",
            "root_admin": root_admin,
            "2fa": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
        return self.users[user_id]

    def add_location(self, short: str, long: str) -> dict[str, Any]:
        location_id, stamp = self._next("location"), now()
        self.locations[location_id] = {
            "id": location_id,
            "short": short,
            "long": long,
            "updated_at": stamp,
            "created_at": stamp,
        }
        return self.locations[location_id]

    def add_node(
        self,
        location_id: int,
        name: str,
        *,
        ip: str,
        ports: range,
        memory: int = 65536,
        disk: int = 1024000,
        public: bool = True,
    ) -> dict[str, Any]:
        """A node of ``location_id`` with one free allocation per port of ``ports`` on ``ip``."""
        node_id, stamp = self._next("node"), now()
        self.nodes[node_id] = {
            "id": node_id,
            "uuid": str(uuid.uuid4()),
            "public": public,
            "name": name,
            "description": None,
            "location_id": location_id,
            "fqdn": f"{name}.panel.test",
            "scheme": "https",
            "behind_proxy": False,
            "maintenance_mode": False,
            "memory": memory,
            "memory_overallocate": 0,
            "disk": disk,
            "disk_overallocate": 0,
            "upload_size": 100,
            "daemon_listen": 8080,
            "daemon_sftp": 2022,
            "daemon_base": "/var/lib/pterodactyl/volumes",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for port in ports:
            allocation_id = self._next("allocation")
            self.allocations[allocation_id] = {
                "id": allocation_id,
                "node_id": node_id,
                "ip": ip,
                "alias": None,
                "port": port,
                "notes": None,
                "server_id": None,
            }
        return self.nodes[node_id]

    def add_nest(self, name: str) -> dict[str, Any]:
        nest_id, stamp = self._next("nest"), now()
        self.nests[nest_id] = {
            "id": nest_id,
            "uuid": str(uuid.uuid4()),
            "author": "support@pterodactyl.io",
            "name": name,
            "description": f"{name} servers.",
            "created_at": stamp,
            "updated_at": stamp,
        }
        return self.nests[nest_id]

    def add_egg(
        self,
        nest_id: int,
        name: str,
        *,
        images: dict[str, str],
        startup: str,
        variables: list[tuple[str, str, str, str]],
    ) -> dict[str, Any]:
        """``variables``: (name, env_variable, default_value, rules) of each egg variable."""
        egg_id, stamp = self._next("egg"), now()
        self.eggs[egg_id] = {
            "id": egg_id,
            "uuid": str(uuid.uuid4()),
            "name": name,
            "nest": nest_id,
            "author": "support@pterodactyl.io",
            "description": f"The {name} egg.",
            "docker_image": next(iter(images.values()), ""),
            "docker_images": images,
            "config": {"files": {}, "startup": {}, "stop": "stop", "logs": {}, "extends": None},
            "startup": startup,
            "script": {"privileged": True, "install": "#!/bin/ash\n", "entry": "ash"},
            "created_at": stamp,
            "updated_at": stamp,
            "_variables": [
                {
                    "id": self._next("variable"),
                    "egg_id": egg_id,
                    "name": var_name,
                    "description": f"The {var_name.lower()}.",
                    "env_variable": env,
                    "default_value": default,
                    "user_viewable": True,
                    "user_editable": True,
                    "rules": rules,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for var_name, env, default, rules in variables
            ],
        }
        return self.eggs[egg_id]

    def seed(self) -> dict[str, int]:
        """A location, a public node with 20 free ports, nest "Minecraft" and egg "Paper"."""
        location = self.add_location("fra", "Frankfurt")
        node = self.add_node(location["id"], "fra-1", ip="203.0.113.10", ports=range(25565, 25585))
        nest = self.add_nest("Minecraft")
        egg = self.add_egg(
            nest["id"],
            "Paper",
            images={"Java 21": "ghcr.io/pterodactyl/yolks:java_21"},
            startup="java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}}",
            variables=[
                ("Minecraft Version", "MINECRAFT_VERSION", "latest", "nullable|string|max:20"),
                (
                    "Server Jar File",
                    "SERVER_JARFILE",
                    "server.jar",
                    r"required|regex:/^([\w\d._-]+)(\.jar)$/",
                ),
                ("Build Number", "BUILD_NUMBER", "latest", "required|string|max:20"),
            ],
        )
        self.ids = {
            "location": location["id"],
            "node": node["id"],
            "nest": nest["id"],
            "egg": egg["id"],
        }
        return self.ids

    def add_server(self, name: str, owner_id: int, **extra: Any) -> dict[str, Any]:
        """An installed server made on the panel by hand (for import), on the seeded egg."""
        egg = self.eggs[self.ids["egg"]]
        free = next(a for a in self.allocations.values() if a["server_id"] is None)
        data = {
            "name": name,
            "user": owner_id,
            "egg": egg["id"],
            "external_id": None,
            "docker_image": egg["docker_image"],
            "startup": egg["startup"],
            "environment": {},
            "limits": {"memory": 2048, "swap": 0, "disk": 10240, "io": 500, "cpu": 100},
            "feature_limits": {"databases": 0, "backups": 0, "allocations": 1},
            **extra,
        }
        server = self.new_server(data, free)
        self.finish_install(server["id"])
        return server

    def seed_demo(self) -> dict[str, int]:
        """``seed()`` plus two running servers of two panel users, linked to nothing."""
        ids = self.seed()
        for email, username, server_name in [
            ("steve@example.com", "steve", "Survival world"),
            ("alex@example.com", "alex", "Creative build"),
        ]:
            owner = self.add_user(email, username, username.capitalize(), "Player")
            self.add_server(server_name, owner["id"]).update(
                _power="running", _booted=time.monotonic()
            )
        return ids

    # The install and suspension state machine -------------------------------------------

    def finish_install(self, server_id: int, *, ok: bool = True) -> None:
        """Wings' install callback: ``null`` or ``(re)install_failed``; suspended stays."""
        with self.lock:
            server = self.servers[server_id]
            if server["_installing"] and server["status"] != "suspended":
                failed = "reinstall_failed" if server["_reinstall"] else "install_failed"
                server["status"] = None if ok else failed
            server["_installing"] = False

    def observe(self, server: dict[str, Any]) -> None:
        """One read of ``server``: its install ends once enough reads or time have passed."""
        if not server["_installing"]:
            return
        by_reads = self.install_reads is not None and server["_reads"] >= self.install_reads
        elapsed = time.monotonic() - server["_install_began"]
        if by_reads or (self.install_seconds is not None and elapsed >= self.install_seconds):
            self.finish_install(server["id"], ok=self.install_ok)
        else:
            server["_reads"] += 1

    def begin_install(self, server: dict[str, Any], *, reinstall: bool) -> None:
        server.update(
            status="installing",
            _installing=True,
            _reads=0,
            _reinstall=reinstall,
            _install_began=time.monotonic(),
            _power="offline",
            _booted=0.0,
        )

    def new_server(self, data: dict[str, Any], allocation: dict[str, Any]) -> dict[str, Any]:
        """The server row of a valid creation request, installing, on ``allocation``."""
        server_id, server_uuid, stamp = self._next("server"), str(uuid.uuid4()), now()
        egg = self.eggs[int(data["egg"])]
        environment = data["environment"] if isinstance(data["environment"], dict) else {}
        variables = {variable["env_variable"] for variable in egg["_variables"]}
        limits = {"threads": None, "oom_disabled": True, **data["limits"]}
        server = {
            "id": server_id,
            "external_id": data.get("external_id"),
            "uuid": server_uuid,
            "identifier": server_uuid[:8],
            "name": data["name"],
            "description": data.get("description") or "",
            "status": "installing",
            "limits": {k: limits.get(k) for k in ("memory", "swap", "disk", "io", "cpu", "threads")}
            | {"oom_disabled": limits["oom_disabled"]},
            "feature_limits": {
                k: data["feature_limits"].get(k) or 0
                for k in ("databases", "allocations", "backups")
            },
            "user": int(data["user"]),
            "node": allocation["node_id"],
            "allocation": allocation["id"],
            "nest": egg["nest"],
            "egg": egg["id"],
            "startup": data["startup"],
            "image": data["docker_image"],
            "environment": {k: v for k, v in environment.items() if k in variables},
            "created_at": stamp,
            "updated_at": stamp,
            "_transferring": False,
        }
        self.begin_install(server, reinstall=False)
        allocation["server_id"] = server_id
        for extra_id in (data.get("allocation") or {}).get("additional") or []:
            self.allocations[int(extra_id)]["server_id"] = server_id
        self.servers[server_id] = server
        return server

    # Faults and what was received -------------------------------------------------------

    def inject(self, pattern: str, **kwargs: Any) -> Fault:
        """Add a fault (see ``Fault``) for the paths matching the glob ``pattern``."""
        fault = Fault(pattern, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def received(self, method: str, pattern: str) -> list[Received]:
        """The requests received with ``method`` on paths matching the glob ``pattern``."""
        return [
            r for r in self.requests if r.method == method and fnmatch.fnmatchcase(r.path, pattern)
        ]

    # Transformers -----------------------------------------------------------------------

    def allocation_item(self, allocation: dict[str, Any]) -> dict[str, Any]:
        return item(
            "allocation",
            {
                "id": allocation["id"],
                "ip": allocation["ip"],
                "alias": allocation["alias"],
                "port": allocation["port"],
                "notes": allocation["notes"],
                "assigned": allocation["server_id"] is not None,
            },
        )

    def environment(self, server: dict[str, Any]) -> dict[str, Any]:
        """Each egg variable's value or default, plus the panel's own (EnvironmentService)."""
        egg = self.eggs[server["egg"]]
        node = self.nodes[server["node"]]
        values = {
            v["env_variable"]: server["environment"].get(v["env_variable"], v["default_value"])
            for v in egg["_variables"]
        }
        return {
            **values,
            "STARTUP": server["startup"],
            "P_SERVER_LOCATION": self.locations[node["location_id"]]["short"],
            "P_SERVER_UUID": server["uuid"],
            "P_SERVER_ALLOCATION_LIMIT": server["feature_limits"]["allocations"],
        }

    def owned_allocations(self, server: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in self.allocations.values() if a["server_id"] == server["id"]]

    def server_item(self, server: dict[str, Any], includes: set[str]) -> dict[str, Any]:
        keys = ("id", "external_id", "uuid", "identifier", "name", "description", "status")
        attributes = {key: server[key] for key in keys} | {
            "suspended": server["status"] == "suspended",
            "limits": server["limits"],
            "feature_limits": server["feature_limits"],
            "user": server["user"],
            "node": server["node"],
            "allocation": server["allocation"],
            "nest": server["nest"],
            "egg": server["egg"],
            "container": {
                "startup_command": server["startup"],
                "image": server["image"],
                "installed": 0 if server["status"] in ("installing", "install_failed") else 1,
                "environment": self.environment(server),
            },
            "updated_at": server["updated_at"],
            "created_at": server["created_at"],
        }
        relationships: dict[str, Any] = {}
        if "allocations" in includes:
            owned = [self.allocation_item(a) for a in self.owned_allocations(server)]
            relationships["allocations"] = {"object": "list", "data": owned}
        if "user" in includes:
            relationships["user"] = item("user", self.users[server["user"]])
        if relationships:
            attributes["relationships"] = relationships
        return item("server", attributes)

    def egg_item(self, egg: dict[str, Any], includes: set[str]) -> dict[str, Any]:
        attributes = {k: v for k, v in egg.items() if not k.startswith("_")}
        if "variables" in includes:
            variables = [item("egg_variable", variable) for variable in egg["_variables"]]
            attributes["relationships"] = {"variables": {"object": "list", "data": variables}}
        return item("egg", attributes)

    def node_item(self, node: dict[str, Any]) -> dict[str, Any]:
        used = [s for s in self.servers.values() if s["node"] == node["id"]]
        allocated = {k: sum(s["limits"][k] for s in used) for k in ("memory", "disk")}
        return item("node", {**node, "allocated_resources": allocated})

    def client_server_item(self, server: dict[str, Any], key: ApiKey) -> dict[str, Any]:
        """The client API's view (``Api/Client/ServerTransformer``) with its default includes."""
        node = self.nodes[server["node"]]
        egg = self.eggs[server["egg"]]
        environment = self.environment(server)
        invocation = re.sub(
            r"{{(\w+)}}", lambda m: str(environment.get(m[1], m[0])), server["startup"]
        )
        allocations = [
            item(
                "allocation",
                {
                    "id": a["id"],
                    "ip": a["ip"],
                    "ip_alias": a["alias"],
                    "port": a["port"],
                    "notes": a["notes"],
                    "is_default": a["id"] == server["allocation"],
                },
            )
            for a in self.owned_allocations(server)
        ]
        variables = [
            item(
                "egg_variable",
                {
                    "name": v["name"],
                    "description": v["description"],
                    "env_variable": v["env_variable"],
                    "default_value": v["default_value"],
                    "server_value": server["environment"].get(v["env_variable"]),
                    "is_editable": v["user_editable"],
                    "rules": v["rules"],
                },
            )
            for v in egg["_variables"]
        ]
        return {
            "object": "server",
            "attributes": {
                "server_owner": server["user"] == key.user_id,
                "identifier": server["identifier"],
                "internal_id": server["id"],
                "uuid": server["uuid"],
                "name": server["name"],
                "node": node["name"],
                "is_node_under_maintenance": node["maintenance_mode"],
                "sftp_details": {"ip": node["fqdn"], "port": node["daemon_sftp"]},
                "description": server["description"],
                "limits": server["limits"],
                "invocation": invocation,
                "docker_image": server["image"],
                "egg_features": [],
                "feature_limits": server["feature_limits"],
                "status": server["status"],
                "is_suspended": server["status"] == "suspended",
                "is_installing": server["status"] in ("installing", "install_failed"),
                "is_transferring": server["_transferring"],
                "relationships": {
                    "allocations": {"object": "list", "data": allocations},
                    "variables": {"object": "list", "data": variables},
                },
            },
            "meta": {"is_server_owner": server["user"] == key.user_id, "user_permissions": ["*"]},
        }

    def paginate(
        self,
        req: Request,
        rows: list[Any],
        transform: Callable[[Any], dict],
        cap: int | None = None,
    ) -> dict[str, Any]:
        """A list with ``meta.pagination`` (league/fractal's ArraySerializer)."""
        per_page = max(as_int(req.param("per_page"), 50), 1)
        per_page = min(per_page, cap) if cap else per_page
        page = max(as_int(req.param("page"), 1), 1)
        pages = max(math.ceil(len(rows) / per_page), 1)
        shown = rows[(page - 1) * per_page : page * per_page]
        links = {}
        if page > 1:
            links["previous"] = f"{self.base_url}{req.path}?page={page - 1}"
        if page < pages:
            links["next"] = f"{self.base_url}{req.path}?page={page + 1}"
        pagination = {
            "total": len(rows),
            "count": len(shown),
            "per_page": per_page,
            "current_page": page,
            "total_pages": pages,
            "links": links,
        }
        return {
            "object": "list",
            "data": [transform(row) for row in shown],
            "meta": {"pagination": pagination},
        }

    # Authentication and binding ---------------------------------------------------------

    def authenticate(self, req: Request) -> ApiKey:
        """Sanctum, then the application API's root-admin gate or the client API's key kind."""
        authorization = req.headers.get("Authorization", "")
        key = self.keys.get(authorization.removeprefix("Bearer ").strip())
        if key is None or not authorization.startswith("Bearer "):
            error = ApiError(401, "AuthenticationException", "Unauthenticated.")
            accept = req.headers.get("Accept", "")
            if "/json" not in accept and "+json" not in accept:
                error.status, error.headers = 302, {"Location": f"{self.base_url}/auth/login"}
            raise error
        if req.path.startswith("/api/client"):
            if key.kind == "application":
                raise ApiError(403, "AccessDeniedHttpException", APP_KEY_ON_CLIENT)
        elif not self.users[key.user_id]["root_admin"]:
            raise ApiError(403, "AccessDeniedHttpException", NOT_ADMIN)
        return key

    def filtered(self, req: Request, rows: list[dict], allowed: tuple[str, ...]) -> list[dict]:
        """spatie/laravel-query-builder: partial (LIKE) matches; an unknown filter is a 400."""
        for name, value in req.filters().items():
            if name not in allowed:
                raise ApiError(
                    400,
                    "InvalidFilterQuery",
                    f"Requested filter(s) `{name}` are not allowed. "
                    f"Allowed filter(s) are `{', '.join(allowed)}`.",
                )
            column = "identifier" if name == "uuidShort" else name
            rows = [r for r in rows if value.lower() in str(r.get(column) or "").lower()]
        return rows

    @staticmethod
    def bound(table: dict[int, dict], value: str) -> dict[str, Any]:
        """Route-model binding: the row of a numeric id, or 404."""
        if not value.isdigit() or int(value) not in table:
            raise not_found()
        return table[int(value)]

    def client_bound(self, key: ApiKey, identifier: str, *, check_state: bool = True) -> dict:
        """The server of an 8-character identifier or a uuid, which the key's user may use
        (owner or root admin, else 404), in a state that allows the route (else 409)."""
        column = "identifier" if len(identifier) == 8 else "uuid"
        server = next((s for s in self.servers.values() if s[column] == identifier), None)
        if server is None:
            raise not_found()
        if server["user"] != key.user_id and not self.users[key.user_id]["root_admin"]:
            raise not_found(NO_ACCESS)
        self.observe(server)
        if check_state:
            if server["status"] == "suspended":
                reason = "suspended"
            elif server["status"] in ("installing", "install_failed"):
                reason = "installing"
            elif server["_transferring"]:
                reason = "transferring"
            else:
                return server
            raise ApiError(409, "ServerStateConflictException", CONFLICTS[reason])
        return server
