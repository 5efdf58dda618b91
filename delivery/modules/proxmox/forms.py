"""The Proxmox VE module's forms: a server's API token, and a product's virtual machine.

The node's address is the server's own hostname and port (``api.api_url``): the API listens
on port 8006. Every free-text credential becomes a write-only password input
(``delivery.forms.ServerForm``) and the whole is encrypted at rest (``EncryptedJSONField``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .api import DEFAULT_PORT, PRIVILEGES

#: B.2: the token id is ``user@realm!tokenid``.
TOKEN_ID = re.compile(r"^[^\s@!:=]+@[A-Za-z][A-Za-z0-9.\-_]*![A-Za-z][A-Za-z0-9.\-_]*$")
#: PVE's ``pve-storage-id`` and ``pve-node`` formats, and a Linux bridge name.
STORAGE_ID = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.IGNORECASE)
NODE_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
BRIDGE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.\-]{0,14}$")
#: cloud-init's user: a Linux user name.
CI_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SSH_KEY = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+(\s.*)?$")


class ProxmoxServerForm(forms.Form):
    """How to reach a node: an API token of a user with the privileges the module needs."""

    token_id = forms.CharField(
        label=_("API token id"),
        max_length=255,
        help_text=_("user@realm!tokenid, from Datacenter > Permissions > API Tokens."),
    )
    token_secret = forms.CharField(
        label=_("API token secret"),
        max_length=255,
        help_text=format_lazy(
            _(
                "Shown once when the token is made. The API listens on port {port}: "
                "give it as the server's port. With privilege separation, give the token (on "
                "/vms, /storage and /sdn, or /) at least: {privileges}."
            ),
            port=DEFAULT_PORT,
            privileges=PRIVILEGES,
        ),
    )
    verify_tls = forms.ChoiceField(
        label=_("Verify the TLS certificate"),
        choices=[("yes", _("Yes")), ("no", _("No: the node's own self-signed certificate"))],
        initial="yes",
        help_text=_(
            "A node keeps the self-signed certificate it was installed with unless "
            "one was uploaded or obtained with ACME."
        ),
    )

    def clean_token_id(self) -> str:
        value = self.cleaned_data["token_id"].strip()
        if value and not TOKEN_ID.match(value):  # empty: the stored one is kept
            raise ValidationError(
                gettext("Give the token id as user@realm!tokenid, e.g. billing@pve!provisioning.")
            )
        return value

    def clean_token_secret(self) -> str:
        value = self.cleaned_data["token_secret"].strip()
        if any(char.isspace() for char in value) or "=" in value:
            raise ValidationError(gettext("The token secret has no spaces: paste it again."))
        return value


@dataclass(frozen=True)
class NodeCatalogue:
    """What a Proxmox VE server offers a product: its nodes, and its templates
    (VMID, "name (VMID) on node"), read from the first active server."""

    nodes: list[str]
    templates: list[tuple[int, str]]
    source: str = ""


class ProxmoxProductForm(forms.Form):
    """What a product's virtual machine is: the template it is cloned from, where, its size,
    and how cloud-init lets the customer in.

    On the staff page the nodes and templates are choices read from a server
    (``catalogue``); a stored configuration is checked with the values alone.
    """

    def __init__(
        self,
        *args: Any,
        catalogue: NodeCatalogue | None = None,
        catalogue_error: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if catalogue is None:
            if catalogue_error:
                self.fields["template"].help_text = gettext("%(error)s Type the VMID.") % {
                    "error": catalogue_error
                }
            return
        self.fields["node"] = forms.ChoiceField(
            label=gettext("Node"),
            required=False,
            choices=[("", gettext("The least loaded node")), *((n, n) for n in catalogue.nodes)],
            help_text=gettext("As %(source)s lists them.") % {"source": catalogue.source},
        )
        self.fields["template"] = forms.TypedChoiceField(
            label=gettext("Template"),
            coerce=int,
            choices=[("", gettext("Choose a template")), *catalogue.templates],
            help_text=gettext("The templates of %(source)s.") % {"source": catalogue.source},
        )

    node = forms.CharField(
        label=_("Node"),
        required=False,
        max_length=64,
        help_text=_(
            "The node the VM goes to; empty for the least loaded node (its memory in "
            "use). Another node than the template's needs the disks on shared storage."
        ),
    )
    template = forms.IntegerField(
        label=_("Template VMID"),
        min_value=100,
        max_value=999_999_999,
        help_text=_("The VM cloned."),
    )
    full_clone = forms.BooleanField(
        label=_("Full clone"),
        required=False,
        initial=True,
        help_text=_(
            "A copy of the template's disks; unticked, a linked clone (faster, but it "
            "depends on the template)."
        ),
    )
    storage = forms.CharField(
        label=_("Storage"),
        required=False,
        max_length=64,
        help_text=_("Where a full clone's disks go, e.g. local-lvm; empty for the template's."),
    )
    cores = forms.IntegerField(label=_("CPU cores"), min_value=1, max_value=512, initial=1)
    memory = forms.IntegerField(label=_("Memory (MiB)"), min_value=16, initial=1024)
    disk = forms.IntegerField(
        label=_("Disk (GiB)"),
        min_value=1,
        max_value=65536,
        initial=20,
        help_text=_("The boot disk is grown to this size when the template's is smaller."),
    )
    bridge = forms.CharField(label=_("Network bridge"), max_length=15, initial="vmbr0")
    ci_user = forms.CharField(
        label=_("Cloud-init user"),
        required=False,
        max_length=32,
        help_text=_(
            "The user cloud-init makes; empty for the image's default (debian, ubuntu...)."
        ),
    )
    ssh_keys = forms.CharField(
        label=_("SSH public keys"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: they may log in as the cloud-init user."),
    )
    ci_password = forms.CharField(
        label=_("Cloud-init password"),
        required=False,
        max_length=128,
        help_text=_("For the cloud-init user; SSH keys are safer. The node stores it hashed."),
    )

    def clean_node(self) -> str:
        value = (self.cleaned_data.get("node") or "").strip()
        if value and not NODE_NAME.match(value):
            raise ValidationError(gettext("This is not a node name."))
        return value

    def clean_storage(self) -> str:
        value = self.cleaned_data["storage"].strip()
        if value and not STORAGE_ID.match(value):
            raise ValidationError(gettext("This is not a storage id (e.g. local-lvm)."))
        return value

    def clean_bridge(self) -> str:
        value = self.cleaned_data["bridge"].strip()
        if not BRIDGE.match(value):
            raise ValidationError(gettext("This is not a bridge name (e.g. vmbr0)."))
        return value

    def clean_ci_user(self) -> str:
        value = self.cleaned_data["ci_user"].strip()
        if value and not CI_USER.match(value):
            raise ValidationError(gettext("A user name is lowercase letters, digits, _ and -."))
        return value

    def clean_ssh_keys(self) -> str:
        keys = [line.strip() for line in self.cleaned_data["ssh_keys"].splitlines()]
        keys = [key for key in keys if key]
        for key in keys:
            if not SSH_KEY.match(key):
                raise ValidationError(
                    gettext("%(key)s… is not an SSH public key.") % {"key": key[:30]}
                )
        return "\n".join(keys)

    def clean_ci_password(self) -> str:
        value = self.cleaned_data["ci_password"]
        if value and len(value) < 8:
            raise ValidationError(gettext("Give at least 8 characters."))
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("storage") and not cleaned.get("full_clone"):
            raise ValidationError(
                gettext("A storage applies to a full clone only: tick Full clone.")
            )
        return cleaned
