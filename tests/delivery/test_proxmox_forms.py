"""The Proxmox VE module's forms: the API token (write-only, checked), the product's VM, and
the choices the product page reads from a server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from delivery.forms import ServerForm
from delivery.models import Server
from delivery.modules.proxmox.forms import NodeCatalogue, ProxmoxProductForm
from delivery.registry import get_module

module = get_module("proxmox")
SECRET = "2b1f0c9e-4a3d-4f5e-9c7b-1a2b3c4d5e6f"
TOKEN = {"token_id": "billing@pve!prov", "token_secret": SECRET, "verify_tls": "yes"}
VM = {"template": 9000, "cores": 2, "memory": 2048, "disk": 20, "bridge": "vmbr0"}


def test_the_module_is_registered_with_import():
    assert (module.key, module.label, module.supports_import) == ("proxmox", "Proxmox VE", True)


def test_the_token_id_must_be_user_realm_and_token_name():
    assert module.clean_server_credentials(TOKEN)["token_id"] == "billing@pve!prov"
    for wrong in ("billing@pve", "billing!prov", "billing@pve!prov=secret", "bill ing@pve!x"):
        with pytest.raises(ValidationError, match="user@realm!tokenid"):
            module.clean_server_credentials({**TOKEN, "token_id": wrong})
    with pytest.raises(ValidationError, match="no spaces"):
        module.clean_server_credentials({**TOKEN, "token_secret": "abc def"})


def test_a_new_servers_form_lists_the_privileges_the_token_needs(db):
    html = str(ServerForm(initial={"module": "proxmox"}).settings_form)

    for privilege in ("VM.Audit", "VM.Clone", "VM.Allocate", "VM.Config.Cloudinit", "SDN.Use"):
        assert privilege in html
    assert "port 8006" in html


def test_a_stored_token_is_never_shown_again(db):
    server = Server.objects.create(
        name="pve", module="proxmox", hostname="pve.example.com", port=8006, credentials=TOKEN
    )

    html = str(ServerForm(instance=server).settings_form)

    assert SECRET not in html
    assert "billing@pve!prov" not in html  # every free-text credential is write-only
    assert html.count('type="password"') == 2
    assert '<option value="yes" selected>' in html


def test_a_stored_token_is_kept_when_the_form_leaves_it_empty(db):
    server = Server.objects.create(
        name="pve", module="proxmox", hostname="pve.example.com", port=8006, credentials=TOKEN
    )
    form = ServerForm(
        data={
            "name": "pve",
            "module": "proxmox",
            "hostname": "pve.example.com",
            "port": "8006",
            "status": "active",
            "credentials-token_id": "",
            "credentials-token_secret": "",
            "credentials-verify_tls": "no",
        },
        instance=server,
    )

    assert form.is_valid(), form.errors
    saved = form.save()
    saved.refresh_from_db()
    assert saved.credentials == {**TOKEN, "verify_tls": "no"}


def test_the_product_configuration_is_validated():
    cleaned = module.clean_product_config(
        {**VM, "ssh_keys": " ssh-ed25519 AAAAC3Nz bob@laptop \n\n"}
    )
    assert cleaned["node"] == ""  # the least loaded node
    assert cleaned["ssh_keys"] == "ssh-ed25519 AAAAC3Nz bob@laptop"
    with pytest.raises(ValidationError, match="not an SSH public key"):
        module.clean_product_config({**VM, "ssh_keys": "hello"})
    with pytest.raises(ValidationError, match="storage id"):
        module.clean_product_config({**VM, "full_clone": True, "storage": "local lvm"})
    with pytest.raises(ValidationError, match="full clone only"):
        module.clean_product_config({**VM, "storage": "local-lvm"})
    with pytest.raises(ValidationError, match="bridge"):
        module.clean_product_config({**VM, "bridge": "vmbr0;rm"})
    with pytest.raises(ValidationError, match="at least 8"):
        module.clean_product_config({**VM, "ci_password": "short"})
    with pytest.raises(ValidationError, match="template"):
        module.clean_product_config({**VM, "template": 5})


def test_the_catalogue_offers_the_nodes_and_templates():
    catalogue = NodeCatalogue(
        nodes=["pve1", "pve2"], templates=[(9000, "debian12 (9000) on pve1")], source="pve"
    )
    form = ProxmoxProductForm(catalogue=catalogue)
    html = str(form)

    assert '<option value="" selected>The least loaded node</option>' in html
    assert '<option value="pve2">pve2</option>' in html
    assert '<option value="9000">debian12 (9000) on pve1</option>' in html
    bound = ProxmoxProductForm(data={**VM, "node": "pve9"}, catalogue=catalogue)
    assert not bound.is_valid()
    assert "node" in bound.errors


def test_no_server_means_no_choices_and_an_unreachable_one_says_why(db):
    assert module.product_form_kwargs() == {}
    Server.objects.create(
        name="pve", module="proxmox", hostname="127.0.0.1", port=9, credentials=TOKEN
    )

    kwargs = module.product_form_kwargs()

    assert kwargs["catalogue_error"].startswith("pve could not list its templates")
    form = ProxmoxProductForm(**kwargs)
    assert "Type the VMID." in form.fields["template"].help_text
