"""The Pterodactyl module's forms: a server's credentials, and a product's game server.

The panel's address is the server's own hostname and port (``api.panel_url``), with the
scheme chosen here: a credential field would be a write-only password input (see
``delivery.forms.ServerForm``), and an address is no secret that staff should retype.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .api import PanelCatalogue

#: Environment variable names as eggs declare them.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: ``StoreServerRequest``'s rule for ``docker_image``.
DOCKER_IMAGE = re.compile(r"^~?[\w./\-:@ ]*$")
#: A port or a range of ports of ``deploy.port_range`` (a range spans at most 1000 ports).
PORT_SPEC = re.compile(r"^(\d{4,5})(?:-(\d{4,5}))?$")
MAX_RANGE = 1000


def _key_field(label: Any, help_text: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=255, strip=True, help_text=help_text)


def _no_spaces(value: str, label: str) -> str:
    if any(char.isspace() for char in value):
        raise ValidationError(
            gettext("The %(key)s has no spaces: paste it again.") % {"key": label}
        )
    return value


class PterodactylServerForm(forms.Form):
    """How to reach a panel; its address is the server's hostname and port."""

    scheme = forms.ChoiceField(
        label=_("Protocol"),
        choices=[("https", "HTTPS"), ("http", _("HTTP (a panel on a private network)"))],
        initial="https",
        help_text=_(
            "The panel's address is https://hostname:port (the port left out when "
            "it is the protocol's own)."
        ),
    )
    application_key = _key_field(
        _("Application API key"),
        _(
            "Starts with ptla_: Admin > Application API. Read and write on servers and users, "
            "read on nodes, allocations, locations, nests and eggs."
        ),
    )
    client_key = _key_field(
        _("Client API key"),
        _(
            "Starts with ptlc_: Account > API Credentials of an administrator account, so that "
            "power actions and resource figures work on every customer's server."
        ),
    )
    skip_tls_verify = forms.BooleanField(
        label=_("Accept a self-signed certificate"),
        required=False,
        help_text=_("Only for a panel whose certificate no authority signed."),
    )

    def clean_application_key(self) -> str:
        return _no_spaces(self.cleaned_data["application_key"], gettext("application API key"))

    def clean_client_key(self) -> str:
        key = _no_spaces(self.cleaned_data["client_key"], gettext("client API key"))
        if key.startswith("ptla_"):
            raise ValidationError(
                gettext(
                    "This is an application key (ptla_): the client API refuses it. Create a "
                    "client key (ptlc_) under Account > API Credentials of an administrator."
                )
            )
        return key


class PterodactylProductForm(forms.Form):
    """What a product's game server is: its egg, where it goes, and its limits.

    Ids are the panel's own (Admin > Nests, Locations, Nodes). The egg's variables get
    their defaults at creation; ``environment`` overrides some of them. On the staff page
    the eggs and locations are choices read from a panel (``catalogue``), the nest then
    following from the egg; a stored configuration is checked with the ids alone.
    """

    def __init__(
        self,
        *args: Any,
        catalogue: PanelCatalogue | None = None,
        catalogue_error: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue
        if catalogue is None:
            if catalogue_error:
                self.fields["egg"].help_text = gettext("%(error)s Type the ids.") % {
                    "error": catalogue_error
                }
            return
        nests: dict[str, list[tuple[int, str]]] = {}
        for egg, _nest, label in catalogue.eggs:
            nest_name, _, egg_name = label.partition(" › ")
            nests.setdefault(nest_name, []).append((egg, egg_name or label))
        self.fields["egg"] = forms.TypedChoiceField(
            label=gettext("Egg"),
            coerce=int,
            choices=[("", gettext("Choose an egg")), *nests.items()],
            help_text=gettext("As %(source)s lists them.") % {"source": catalogue.source},
        )
        self.fields["nest"].required = False
        self.fields["nest"].widget = forms.HiddenInput()
        self.fields["location"] = forms.TypedChoiceField(
            label=gettext("Location"),
            coerce=int,
            empty_value=None,
            required=False,
            choices=[("", gettext("None: a node below")), *catalogue.locations],
            help_text=gettext(
                "The panel picks a node of this location with room, and a free port."
            ),
        )

    nest = forms.IntegerField(label=_("Nest id"), min_value=1)
    egg = forms.IntegerField(label=_("Egg id"), min_value=1)
    location = forms.IntegerField(
        label=_("Location id"),
        min_value=1,
        required=False,
        help_text=_("The panel picks a node of this location with room, and a free port."),
    )
    node = forms.IntegerField(
        label=_("Node id"),
        min_value=1,
        required=False,
        help_text=_("Instead of a location: a free port of this node."),
    )
    port_range = forms.CharField(
        label=_("Ports"),
        required=False,
        help_text=_(
            "With a location: ports or ranges to pick from, e.g. 25565-25600, 27015. Empty for any."
        ),
    )
    dedicated_ip = forms.BooleanField(
        label=_("Dedicated IP"), required=False, help_text=_("With a location: an IP of its own.")
    )
    memory = forms.IntegerField(label=_("Memory (MiB)"), min_value=0, help_text=_("0: unlimited."))
    swap = forms.IntegerField(
        label=_("Swap (MiB)"), min_value=-1, initial=0, help_text=_("-1: unlimited, 0: none.")
    )
    disk = forms.IntegerField(label=_("Disk (MiB)"), min_value=0, help_text=_("0: unlimited."))
    cpu = forms.IntegerField(
        label=_("CPU (%)"), min_value=0, initial=100, help_text=_("100 per core; 0: unlimited.")
    )
    io = forms.IntegerField(label=_("Block I/O weight"), min_value=10, max_value=1000, initial=500)
    databases = forms.IntegerField(label=_("Databases"), min_value=0, initial=0)
    backups = forms.IntegerField(label=_("Backups"), min_value=0, initial=0)
    allocations = forms.IntegerField(label=_("Ports (allocations)"), min_value=0, initial=1)
    environment = forms.JSONField(
        label=_("Environment"),
        required=False,
        help_text=_(
            'Egg variables to set, as a JSON object: {"MINECRAFT_VERSION": "1.21"}. '
            "The others keep the egg's defaults."
        ),
    )
    startup = forms.CharField(
        label=_("Startup command"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Empty for the egg's own."),
    )
    docker_image = forms.CharField(
        label=_("Docker image"),
        required=False,
        max_length=191,
        help_text=_("Empty for the egg's own."),
    )

    def clean_environment(self) -> dict[str, Any]:
        value = self.cleaned_data.get("environment")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError(
                gettext('Give a JSON object, e.g. {"MINECRAFT_VERSION": "latest"}.')
            )
        for name, setting in value.items():
            if not ENV_NAME.match(name):
                raise ValidationError(
                    gettext("%(name)s is not a variable name.") % {"name": repr(name)}
                )
            if setting is not None and not isinstance(setting, str | int | float | bool):
                raise ValidationError(
                    gettext("The value of %(name)s must be text or a number.") % {"name": name}
                )
        return value

    def clean_port_range(self) -> str:
        """The ports as staff typed them, tidied: kept as text so the form shows them again."""
        specs = [part.strip() for part in self.cleaned_data["port_range"].split(",")]
        specs = [spec for spec in specs if spec]
        for spec in specs:
            match = PORT_SPEC.match(spec)
            not_a_port = gettext("%(spec)s is not a port (1024-65535) or a range of them.") % {
                "spec": repr(spec)
            }
            if match is None:
                raise ValidationError(not_a_port)
            low, high = int(match[1]), int(match[2] or match[1])
            if not 1024 <= low <= high <= 65535:
                raise ValidationError(not_a_port)
            if high - low > MAX_RANGE:
                raise ValidationError(
                    gettext("%(spec)s spans more than %(count)s ports.")
                    % {"spec": repr(spec), "count": MAX_RANGE}
                )
        return ", ".join(specs)

    def clean_docker_image(self) -> str:
        image = self.cleaned_data["docker_image"]
        if image and not DOCKER_IMAGE.match(image):
            raise ValidationError(gettext("This is not a Docker image name."))
        return image

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.catalogue is not None and cleaned.get("egg") is not None:
            cleaned["nest"] = next(
                nest for egg, nest, _ in self.catalogue.eggs if egg == cleaned["egg"]
            )
        location, node = cleaned.get("location"), cleaned.get("node")
        if "location" in cleaned and "node" in cleaned:
            if location is None and node is None:
                raise ValidationError(
                    gettext("Give a location (the panel places the server) or a node.")
                )
            if location is not None and node is not None:
                raise ValidationError(gettext("Give a location or a node, not both."))
        return cleaned
