"""The Pterodactyl module: game servers on a Pterodactyl panel (delivery-apis.md, Part A).

A service is one server of the panel, owned by the panel user with the customer's e-mail
(found, or created: the panel then mails them a link to set their password). The server
is created with the service's uuid as its ``external_id``, so a create retried after a lost
answer finds it instead of making a second one. The service's ``external_id`` is the
panel's server id; ``module_data`` keeps its identifier (the client API's handle) and its
address.

The panel installs a new server after answering: ``create`` reports ``waiting`` while the
server is ``installing``, and ``follow`` tells the lifecycle when the install ended.

Tabs: Overview (state, address, CPU, memory, disk, uptime, a link to the panel), Power
(start, stop, restart, kill), Reinstall, and for staff the raw server details. Their
figures and actions go through the client API key, whose administrator account reaches
every customer's server.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, cast

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from clientxcms.redaction import redact
from delivery.calllog import calling
from delivery.choices import ServerStatus
from delivery.http import PanelError
from delivery.models import Server
from delivery.modules.base import (
    Audience,
    DeliveryModule,
    ImportableResource,
    ModuleError,
    ModuleResult,
    Tab,
    TabAction,
)

from .api import PterodactylApi
from .forms import PterodactylProductForm, PterodactylServerForm

FAILED = ("install_failed", "reinstall_failed")
#: What staff need to press the Power and Reinstall buttons; customers need to own the service.
CHANGE = "services.change_service"
STATE_BADGES = {
    "running": "success",
    "starting": "info",
    "stopping": "warning",
    "offline": "secondary",
    "installing": "info",
    "suspended": "warning",
    "install failed": "danger",
    "transferring": "info",
}
#: Marks the texts of the tabs kept at module level: translated when a page shows them.
_ = cast(Callable[[str], str], gettext_lazy)
POWER_DONE = {
    "start": _("The server is starting."),
    "stop": _("The server is stopping."),
    "restart": _("The server is restarting."),
    "kill": _("The server was killed."),
}
#: The power buttons' labels, by signal.
POWER_LABELS = {
    "start": _("Start"),
    "restart": _("Restart"),
    "stop": _("Stop"),
    "kill": _("Kill"),
}
KILL_CONFIRM = _(
    "Kill stops the server at once, without letting it save: what the game did not save yet "
    "is lost. Use Stop unless the server no longer answers."
)
REINSTALL_CONFIRM = _(
    "Reinstalling stops the server and runs its egg's install script again: the files the "
    "script writes are replaced. Keep a backup of what matters first."
)
#: What the state line says of each state (a state the panel adds shows as it names it).
STATE_LABELS = {
    "running": pgettext_lazy("power state", "Running"),
    "starting": _("Starting"),
    "stopping": _("Stopping"),
    "offline": _("Offline"),
    "installing": _("Installing"),
    "suspended": _("Suspended"),
    "install failed": _("Install failed"),
    "transferring": _("Transferring"),
}
MIB = 1024 * 1024


def username_for(email: str, customer_id: int) -> str:
    """A panel username from the e-mail's local part, unique by the customer id.

    The panel's rule: lowercase, starting and ending with a letter or digit, letters,
    digits, dots, dashes and underscores in between.
    """
    base = re.sub(r"[^a-z0-9_.-]+", "", email.split("@")[0].lower()).strip("._-")[:40]
    return f"{base or 'customer'}-{customer_id}"


def ports(port_range: str) -> list[str]:
    """ "25565-25600, 27015" → ["25565-25600", "27015"]: ``deploy.port_range``."""
    return [part.strip() for part in port_range.split(",") if part.strip()]


def address_of(allocations: list[dict[str, Any]], default_id: Any) -> dict[str, Any]:
    """``ip`` (its alias when it has one), ``port`` and ``address`` of the default allocation."""
    chosen = next((a for a in allocations if a.get("id") == default_id), None)
    chosen = chosen or next((a for a in allocations if a.get("is_default")), None)
    chosen = chosen or (allocations[0] if allocations else None)
    if chosen is None:
        return {}
    ip = chosen.get("alias") or chosen.get("ip_alias") or chosen.get("ip")
    return {"ip": ip, "port": chosen.get("port"), "address": f"{ip}:{chosen.get('port')}"}


def related(attributes: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The attributes of the items included as ``relationships.<name>``."""
    relation = (attributes.get("relationships") or {}).get(name) or {}
    return [entry.get("attributes") or {} for entry in relation.get("data") or []]


def server_data(attributes: dict[str, Any]) -> dict[str, Any]:
    """What a service keeps of its server: ids to address it by, and its address."""
    return {
        "server_id": attributes.get("id"),
        "identifier": attributes.get("identifier"),
        "uuid": attributes.get("uuid"),
        "user_id": attributes.get("user"),
        "node": attributes.get("node"),
        **address_of(related(attributes, "allocations"), attributes.get("allocation")),
    }


def percent(used: float, limit: float) -> int | None:
    """``used`` of ``limit`` as a whole percent (0..100), None without a limit."""
    if not limit:
        return None
    return max(0, min(100, round(used * 100 / limit)))


def duration(milliseconds: int) -> str:
    """3725000 → "1 h 2 min": an uptime as people read it."""
    seconds = int(milliseconds // 1000)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return gettext("%(minutes)s min") % {"minutes": minutes}
    return gettext("%(seconds)s s") % {"seconds": seconds}


def conflict_detail(exc: PanelError) -> str:
    errors = exc.body.get("errors") if isinstance(exc.body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or exc.message)
    return exc.message


class PterodactylModule(DeliveryModule):
    key = "pterodactyl"
    needs_product = _(
        "A Pterodactyl server is made from a product's configuration (egg, memory, ...): "
        "this custom service has none. Import an existing server instead."
    )
    label = "Pterodactyl"
    server_form = PterodactylServerForm
    product_form = PterodactylProductForm
    supports_import = True
    reference_keys = ("address",)

    def product_form_kwargs(self) -> dict[str, Any]:
        """The eggs and locations of the first active Pterodactyl server, for the product
        form's choices; when none answers, the form asks for the ids and says why."""
        server = Server.objects.filter(module=self.key, status=ServerStatus.ACTIVE).first()
        if server is None:
            return {}
        try:
            with calling(operation="product form"), PterodactylApi(server) as api:
                catalogue = api.catalogue()
        except ModuleError as exc:
            return {
                "catalogue_error": gettext("%(server)s could not list its eggs: %(error)s")
                % {"server": server, "error": exc.message}
            }
        return {"catalogue": replace(catalogue, source=str(server))}

    # Helpers ----------------------------------------------------------------------------

    @staticmethod
    def _api(service: Any) -> PterodactylApi:
        if service.server is None:
            raise ModuleError(gettext("The service has no server: choose the panel it is on."))
        return PterodactylApi(service.server)

    @staticmethod
    def _server_id(api: PterodactylApi, service: Any) -> str | None:
        """The panel id of the service's server: stored, or found by the service's uuid."""
        data = service.module_data if isinstance(service.module_data, dict) else {}
        for value in (service.external_id, data.get("server_id")):
            if str(value or "").strip().isdigit():
                return str(value).strip()
        found = api.server_by_external_id(str(service.uuid))
        return str(found["id"]) if found is not None else None

    def _identifier(self, api: PterodactylApi, service: Any) -> str:
        """The 8-character identifier the client API addresses the server by."""
        data = service.module_data if isinstance(service.module_data, dict) else {}
        if data.get("identifier"):
            return str(data["identifier"])
        server_id = self._server_id(api, service)
        found = api.server(server_id, operation="find server") if server_id else None
        if found is None:
            raise ModuleError(gettext("This service has no server on the panel."))
        return str(found["identifier"])

    @staticmethod
    def _outcome(attributes: dict[str, Any], message: str) -> ModuleResult:
        """The result for a server as the panel has it: waiting while it installs, an
        error when its install failed (trying again installs nothing: staff must look)."""
        status = attributes.get("status")
        name = f"{attributes.get('name')} ({attributes.get('identifier')})"
        if status in FAILED:
            raise ModuleError(
                gettext(
                    "The panel could not install server %(name)s (%(status)s): "
                    "read its install log on the panel, then reinstall or delete it."
                )
                % {"name": name, "status": status.replace("_", " ")},
                retryable=False,
            )
        waiting = status == "installing"
        return ModuleResult(
            external_id=str(attributes["id"]),
            data=server_data(attributes),
            message=gettext("%(message)s The panel is installing it.") % {"message": message}
            if waiting
            else message,
            waiting=waiting,
        )

    # Operations -------------------------------------------------------------------------

    def create(self, service: Any) -> ModuleResult:
        config = self.service_product_config(service)
        with self._api(service) as api:
            existing = api.server_by_external_id(str(service.uuid))
            if existing is not None:  # an earlier attempt made it; its answer was lost
                name = f"{existing['name']} ({existing['identifier']})"
                return self._outcome(
                    existing,
                    gettext("Found server %(name)s, made by an earlier try.") % {"name": name},
                )
            user = self._panel_user(api, service)
            egg = api.egg(config["nest"], config["egg"])
            body = self._server_body(service, config, egg, user["id"])
            if config.get("node"):
                body["allocation"] = {"default": api.free_allocation(config["node"])["id"]}
            else:
                body["deploy"] = {
                    "locations": [config["location"]],
                    "dedicated_ip": bool(config.get("dedicated_ip")),
                    "port_range": ports(config.get("port_range") or ""),
                }
            created = api.create_server(body)
            # The creation answer has the allocation's id only: one read gets its address.
            server = api.server(str(created["id"]), operation="read server") or created
        name = f"{server['name']} ({server['identifier']})"
        return self._outcome(
            server,
            gettext("Created server %(name)s for %(email)s.")
            % {"name": name, "email": user["email"]},
        )

    @staticmethod
    def _panel_user(api: PterodactylApi, service: Any) -> dict[str, Any]:
        """The panel user with the customer's e-mail, created when there is none."""
        customer = service.customer
        email = customer.user.email
        found = api.user_by_email(email)
        if found is not None:
            return found
        body = {
            "email": email,
            "username": username_for(email, customer.pk),
            "first_name": (customer.first_name or "Customer")[:191],
            "last_name": (customer.last_name or f"#{customer.pk}")[:191],
        }
        for attempt in range(2):
            try:
                return api.create_user(body)
            except PanelError as exc:
                if exc.http_status != 422:
                    raise
                found = api.user_by_email(email)  # made meanwhile, by a lost answer's call
                if found is not None:
                    return found
                if attempt or "has already been taken" not in exc.message:
                    raise
                body["username"] = f"{body['username']}-{secrets.token_hex(3)}"
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _server_body(
        service: Any, config: dict[str, Any], egg: dict[str, Any], user_id: int
    ) -> dict[str, Any]:
        """``POST /servers``: the egg's variable defaults under the product's environment."""
        defaults = {
            variable["env_variable"]: variable.get("default_value")
            for variable in related(egg, "variables")
            if variable.get("env_variable")
        }
        return {
            "external_id": str(service.uuid),
            "name": (service.name or f"Service {service.pk}")[:191],
            "description": f"ClientXCMS service #{service.pk}",
            "user": user_id,
            "egg": config["egg"],
            "docker_image": config.get("docker_image") or egg.get("docker_image") or "",
            "startup": config.get("startup") or egg.get("startup") or "",
            "environment": {**defaults, **(config.get("environment") or {})},
            "limits": {key: config[key] for key in ("memory", "swap", "disk", "io", "cpu")},
            "feature_limits": {key: config[key] for key in ("databases", "backups", "allocations")},
            "start_on_completion": True,
        }

    def follow(self, service: Any, action: str) -> ModuleResult:
        with self._api(service) as api:
            server_id = self._server_id(api, service)
            server = api.server(server_id, operation="follow") if server_id else None
        if server is None:
            raise ModuleError(
                gettext("The server is no longer on the panel: it was deleted while it installed."),
                retryable=False,
            )
        return self._outcome(
            server, gettext("Server %(name)s is installed.") % {"name": server["name"]}
        )

    def _toggle(self, service: Any, action: str) -> ModuleResult:
        with self._api(service) as api:
            server_id = self._server_id(api, service)
            if server_id is None:
                if action == "suspend":
                    raise ModuleError(gettext("There is no server on the panel to suspend."))
                raise ModuleError(gettext("There is no server on the panel to unsuspend."))
            if not api.server_action(server_id, action):
                raise ModuleError(
                    gettext("Server %(id)s is no longer on the panel.") % {"id": server_id}
                )
        if action == "suspend":
            done = gettext("Server %(id)s suspended on the panel.")
        else:
            done = gettext("Server %(id)s unsuspended on the panel.")
        return ModuleResult(message=done % {"id": server_id})

    def suspend(self, service: Any) -> ModuleResult:
        return self._toggle(service, "suspend")

    def unsuspend(self, service: Any) -> ModuleResult:
        return self._toggle(service, "unsuspend")

    def terminate(self, service: Any) -> ModuleResult:
        with self._api(service) as api:
            server_id = self._server_id(api, service)
            if server_id is None:
                return ModuleResult(message=gettext("No server on the panel: nothing to delete."))
            if not api.delete_server(server_id):
                return ModuleResult(
                    message=gettext("Server %(id)s was already gone from the panel.")
                    % {"id": server_id}
                )
        return ModuleResult(
            message=gettext("Server %(id)s deleted from the panel.") % {"id": server_id}
        )

    def test_connection(self, server: Server) -> ModuleResult:
        """Both keys: the application key reads the servers, the client key reaches them."""
        with PterodactylApi(server) as api:
            total = api.count_servers()
            reached = api.client_sees_every_server()
        if total and not reached:
            raise ModuleError(
                gettext(
                    "The client API key works, but its account is not a panel administrator: "
                    "power actions and figures would fail on customers' servers."
                )
            )
        return ModuleResult(
            message=gettext(
                "Application API key: %(total)s servers on the panel. "
                "Client API key: accepted, reaching %(reached)s of them."
            )
            % {"total": total, "reached": reached}
        )

    # Import -----------------------------------------------------------------------------

    def list_importable(self, server: Server) -> list[ImportableResource]:
        with PterodactylApi(server) as api:
            servers = api.servers()
        resources = []
        for found in servers:
            owner = (found.get("relationships") or {}).get("user") or {}
            email = (owner.get("attributes") or {}).get("email") or f"user {found.get('user')}"
            resources.append(
                ImportableResource(
                    id=str(found["id"]),
                    label=f"{found.get('name')} ({found.get('identifier')}) — {email}",
                    details={
                        "identifier": found.get("identifier"),
                        # The panel says null for an installed server that is not suspended.
                        "status": found.get("status") or "installed",
                        "owner": email,
                        **(
                            {"external_id": found["external_id"]}
                            if found.get("external_id")
                            else {}
                        ),
                    },
                )
            )
        return resources

    def import_existing(self, service: Any, resource_id: str) -> ModuleResult:
        server_id = str(resource_id).strip()
        if not server_id.isdigit():
            raise ModuleError(
                gettext("%(id)s is not the id of a Pterodactyl server.") % {"id": repr(server_id)}
            )
        with self._api(service) as api:
            found = api.server(server_id, operation="import")
        if found is None:
            raise ModuleError(gettext("The panel has no server %(id)s.") % {"id": server_id})
        name = f"{found['name']} ({found['identifier']})"
        return self._outcome(found, gettext("Linked to server %(name)s.") % {"name": name})

    # Tabs -------------------------------------------------------------------------------

    def tabs(self, service: Any, audience: Audience) -> list[Tab]:
        power = tuple(
            TabAction(
                key=signal,
                label=str(POWER_LABELS[signal]),
                run=partial(self._power, signal=signal),
                confirm=str(KILL_CONFIRM) if signal == "kill" else "",
                permission=CHANGE,
                style=style,
            )
            for signal, style in [
                ("start", "success"),
                ("restart", "primary"),
                ("stop", "secondary"),
                ("kill", "danger"),
            ]
        )
        tabs = [
            Tab(
                key="overview",
                label=gettext("Overview"),
                template="delivery/pterodactyl/overview.html",
                order=10,
                context=self._overview,
            ),
            Tab(
                key="power",
                label=gettext("Power"),
                template="delivery/pterodactyl/power.html",
                order=20,
                context=self._overview,
                actions=power,
            ),
            Tab(
                key="reinstall",
                label=gettext("Reinstall"),
                template="delivery/pterodactyl/reinstall.html",
                order=30,
                actions=(
                    TabAction(
                        key="reinstall",
                        label=gettext("Reinstall"),
                        run=self._reinstall,
                        confirm=str(REINSTALL_CONFIRM),
                        permission=CHANGE,
                        style="danger",
                    ),
                ),
            ),
        ]
        if audience == Audience.STAFF:
            tabs.append(
                Tab(
                    key="details",
                    label=gettext("Details"),
                    template="delivery/pterodactyl/details.html",
                    order=90,
                    audiences=frozenset({Audience.STAFF}),
                    context=self._details,
                )
            )
        return tabs

    def _power(self, service: Any, *, signal: str) -> ModuleResult:
        with self._api(service) as api:
            api.power(self._identifier(api, service), signal)
        return ModuleResult(message=str(POWER_DONE[signal]))

    def _reinstall(self, service: Any) -> ModuleResult:
        with self._api(service) as api:
            server_id = self._server_id(api, service)
            if server_id is None or not api.server_action(server_id, "reinstall"):
                raise ModuleError(gettext("This service has no server on the panel to reinstall."))
        return ModuleResult(message=gettext("The panel is reinstalling the server."))

    def _overview(self, service: Any) -> dict[str, Any]:
        """The server's state and use of its limits, from the client API."""
        with self._api(service) as api:
            identifier = self._identifier(api, service)
            view = api.client_server(identifier)
            try:
                stats: dict[str, Any] = api.resources(identifier)
                unavailable = ""
            except PanelError as exc:
                if exc.http_status != 409:  # suspended, installing: no figures, and why
                    raise
                stats, unavailable = {}, conflict_detail(exc)
            panel_link = f"{api.url}/server/{identifier}"
        if view.get("is_suspended"):
            state = "suspended"
        elif view.get("is_installing"):
            state = "install failed" if view.get("status") == "install_failed" else "installing"
        elif view.get("is_transferring"):
            state = "transferring"
        else:
            state = str(stats.get("current_state") or "offline")
        limits = view.get("limits") or {}
        used = stats.get("resources") or {}
        memory_mib = round((used.get("memory_bytes") or 0) / MIB)
        disk_mib = round((used.get("disk_bytes") or 0) / MIB)
        cpu = round(float(used.get("cpu_absolute") or 0), 1)
        return {
            "name": view.get("name"),
            "identifier": identifier,
            "state": state,
            "state_label": str(STATE_LABELS.get(state) or state.capitalize()),
            "state_badge": STATE_BADGES.get(state, "secondary"),
            "running": state == "running",
            "unavailable": unavailable,
            "has_figures": bool(stats),
            "address": address_of(related(view, "allocations"), None).get("address", ""),
            "cpu": cpu,
            "cpu_limit": limits.get("cpu") or 0,
            "cpu_percent": percent(cpu, limits.get("cpu") or 0),
            "memory_mib": memory_mib,
            "memory_limit": limits.get("memory") or 0,
            "memory_percent": percent(memory_mib, limits.get("memory") or 0),
            "disk_mib": disk_mib,
            "disk_limit": limits.get("disk") or 0,
            "disk_percent": percent(disk_mib, limits.get("disk") or 0),
            "uptime": duration(used.get("uptime") or 0) if state == "running" else "",
            "panel_link": panel_link,
        }

    def _details(self, service: Any) -> dict[str, Any]:
        """The server's attributes as the application API has them, secrets hidden."""
        with self._api(service) as api:
            server_id = self._server_id(api, service)
            found = api.server(server_id, operation="details") if server_id else None
        if found is None:
            raise ModuleError(gettext("This service has no server on the panel."))
        return {"raw": redact(json.dumps(found, indent=2, sort_keys=True))}
