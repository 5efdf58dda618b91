"""The Proxmox VE module against the fake node, outside the lifecycle: test connection,
import, the chains run again where they stopped, and the error mapping of each call."""

from __future__ import annotations

import pytest

from delivery.models import ModuleCall
from delivery.modules.base import ModuleError
from delivery.modules.proxmox import jobs
from delivery.registry import get_module
from tests.delivery.proxmox_vps import *  # noqa: F403 - the fixtures
from tests.delivery.proxmox_vps import marked_vms, vps_config

module = get_module("proxmox")


def test_test_connection_counts_the_nodes(pve, pve_server):
    result = module.test_connection(pve_server)

    assert result.message == "API token accepted: 2 node(s), 2 online (pve1, pve2)."


def test_test_connection_with_a_wrong_secret_says_the_token_was_refused(pve, pve_server):
    pve_server.credentials = {**pve_server.credentials, "token_secret": "f" * 36}

    with pytest.raises(ModuleError) as raised:
        module.test_connection(pve_server)

    assert not raised.value.retryable
    assert "the API token was refused" in raised.value.message
    assert pve.token_secret not in raised.value.message
    [row] = ModuleCall.objects.all()
    assert row.status == 401
    assert "f" * 36 not in row.url + row.error


def test_list_importable_lists_the_vms_of_every_node_but_templates(pve, pve_server):
    pve.add_vm(101, "web-legacy", running=True, tags="legacy")
    pve.add_vm(102, "mail-old", node="pve2")

    resources = module.list_importable(pve_server)

    assert [(r.id, r.label) for r in resources] == [
        ("101", "web-legacy (101) on pve1"),
        ("102", "mail-old (102) on pve2"),
    ]
    assert resources[0].details == {
        "name": "web-legacy",
        "vmid": 101,
        "node": "pve1",
        "status": "running",
        "tags": "legacy",
    }


def test_import_links_a_vm_and_refuses_templates_and_unknown_ids(pve, service):
    pve.add_vm(102, "mail-old", node="pve2")

    result = module.import_existing(service, "102")

    assert result.external_id == "102"
    assert result.data == {"node": "pve2", "vmid": 102, "name": "mail-old"}
    # Tagged as a created VM is: the module can tell later that VMID 102 is still it.
    assert jobs.vm_tag(str(service.uuid)) in jobs.split_tags(pve.vm(102).config["tags"])
    with pytest.raises(ModuleError, match="is a template"):
        module.import_existing(service, "9000")
    with pytest.raises(ModuleError, match="No online node has VM 555"):
        module.import_existing(service, "555")
    with pytest.raises(ModuleError, match="not a VMID"):
        module.import_existing(service, "12a")


def test_create_sends_booleans_as_numbers_and_the_ssh_keys_url_encoded(pve, service):
    module.create(service)

    [clone] = pve.received("POST", "/nodes/pve1/qemu/9000/clone")
    assert clone.params["full"] in (1, "1")
    assert clone.params["name"] == jobs.vm_name(str(service.uuid))
    [config] = pve.received("POST", "/nodes/pve1/qemu/*/config")
    assert config.params["onboot"] in (1, "1")
    assert config.params["sshkeys"].startswith("ssh-ed25519%20AAAA")
    [vm] = marked_vms(pve, service)
    assert vm.config["ciuser"] == "bob"


def test_create_again_finds_the_vm_and_makes_no_second(pve, service):
    first = module.create(service)

    again = module.create(service)

    assert again.external_id == first.external_id
    assert len(marked_vms(pve, service)) == 1
    assert len(pve.tasks_of("qmclone")) == 1
    assert len(pve.tasks_of("qmstart")) == 1  # started once: the second run found it running


def test_least_loaded_picks_the_quieter_node_holding_the_template(pve, service):
    pve.add_vm(9001, "debian-12-cloud", node="pve2", template=True)

    result = module.create(service)

    assert result.data["node"] == "pve2"  # pve1 uses 24 GiB of 64, pve2 6 GiB
    [clone] = pve.received("POST", "/nodes/*/qemu/*/clone")
    assert clone.path == "/nodes/pve2/qemu/9001/clone"


def test_a_missing_template_is_an_error_that_names_it(pve, service):
    service.product.module_config = vps_config(template=9100)

    with pytest.raises(ModuleError, match="No online node has template 9100"):
        module.create(service)


def test_follow_resumes_after_the_task_the_job_names(pve, service):
    pve.hang_task("qmclone")
    waiting = module.create(service)
    assert waiting.waiting
    assert waiting.data["job"]["step"] == "clone"
    service.module_data = waiting.data
    service.external_id = waiting.external_id

    assert module.follow(service, "deliver").waiting  # the clone still runs
    pve.end_task(pve.tasks_of("qmclone")[0].upid)
    done = module.follow(service, "deliver")

    assert not done.waiting
    assert done.data["job"] is None
    assert pve.vm(int(done.external_id)).running


def test_a_start_that_ends_in_error_is_a_module_error_with_its_status(pve, service):
    pve.fail_task("qmstart", "start failed: QEMU exited with code 1")

    with pytest.raises(ModuleError) as raised:
        module.create(service)

    assert raised.value.message == (
        "The qmstart task on node pve1 failed: start failed: QEMU exited with code 1"
    )


def test_suspend_and_terminate_are_idempotent(pve, active_service):
    module.suspend(active_service)
    module.suspend(active_service)
    vm = pve.vm(123)
    assert (vm.running, vm.tags.count("suspended")) == (False, 1)

    module.terminate(active_service)
    assert pve.vm(123) is None
    again = module.terminate(active_service)
    assert again.message == "No VM on the node: nothing to delete."


def test_on_renew_calls_nothing(pve, active_service):
    module.on_renew(active_service)
    assert pve.requests == []


def test_a_vm_already_linked_to_another_service_is_not_imported(pve, service):
    pve.add_vm(102, "mail-old", node="pve2", tags="cxcms-0000-another-service")

    with pytest.raises(ModuleError, match="already linked to another service"):
        module.import_existing(service, "102")


def test_a_vmid_reused_by_another_vm_is_never_touched(pve, active_service):
    """VM 123 was deleted by hand and its VMID given to someone else's VM: terminating
    the service deletes nothing, suspending it stops nothing."""
    del pve.vms[123]
    pve.add_vm(123, "someone-else", running=True)

    with pytest.raises(ModuleError, match="no VM on the node to suspend"):
        module.suspend(active_service)
    result = module.terminate(active_service)

    assert result.message == "No VM on the node: nothing to delete."
    assert pve.vm(123).running
    assert pve.vm(123).config["name"] == "someone-else"
