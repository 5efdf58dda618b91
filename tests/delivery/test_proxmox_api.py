"""The Proxmox VE module's HTTP layer and helpers, against a scripted panel: the address,
task ids, how each failure is mapped (401, the 500 of a missing VM, other 5xx, timeouts,
connection errors), and the small parsers of a VM's configuration."""

from __future__ import annotations

import pytest

from delivery.http import PanelError
from delivery.models import ModuleCall, Server
from delivery.modules.base import ModuleError
from delivery.modules.proxmox import jobs
from delivery.modules.proxmox.api import ProxmoxApi, TaskStatus, api_url, parse_upid

SECRET = "2b1f0c9e-4a3d-4f5e-9c7b-1a2b3c4d5e6f"
UPID = "UPID:pve1:0001A2B3:00C0FFEE:66F0A1B2:qmclone:9000:billing@pve!prov:"
MISSING = "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n"


@pytest.fixture
def pve_server(db, panel):
    return Server.objects.create(
        name="pve",
        module="proxmox",
        hostname=panel.base_url,
        credentials={"token_id": "billing@pve!prov", "token_secret": SECRET, "verify_tls": "yes"},
    )


def test_the_api_address_defaults_to_port_8006_and_takes_a_url_whole():
    def url(hostname, port):
        return api_url(Server(hostname=hostname, port=port))

    assert url("pve.example.com", 8006) == "https://pve.example.com:8006/api2/json"
    assert url("pve.example.com", None) == "https://pve.example.com:8006/api2/json"
    assert url("2001:db8::1", 8006) == "https://[2001:db8::1]:8006/api2/json"
    assert url("https://pve.example.com:8006/api2/json", 443) == (
        "https://pve.example.com:8006/api2/json"
    )


def test_a_upid_is_decoded_and_anything_else_refused():
    upid = parse_upid(UPID)
    assert (upid.node, upid.type, upid.id, upid.user) == (
        "pve1",
        "qmclone",
        "9000",
        "billing@pve!prov",
    )
    for wrong in ("UPID:pve1:0001A2B3:00C0FFEE:66F0A1B2:qmclone:9000:billing@pve!prov", "", None):
        with pytest.raises(ModuleError, match="task id"):
            parse_upid(wrong)


@pytest.mark.parametrize(
    ("exitstatus", "succeeded"),
    [("OK", True), ("WARNINGS: 2", True), ("clone failed: no space", False), ("", False)],
)
def test_a_task_succeeds_when_it_stops_with_ok_or_warnings(exitstatus, succeeded):
    status = TaskStatus(parse_upid(UPID), running=False, exitstatus=exitstatus)
    assert status.succeeded is succeeded
    assert TaskStatus(parse_upid(UPID), running=True).succeeded is False


def test_a_failed_task_is_an_error_with_its_exit_status():
    error = TaskStatus(
        parse_upid(UPID), running=False, exitstatus="clone failed: no space"
    ).failure()
    assert error.message == "The qmclone task on node pve1 failed: clone failed: no space"
    assert error.retryable is False


def test_the_token_is_sent_in_the_header_and_never_logged(panel, pve_server):
    panel.answer("GET", "/api2/json/nodes", body={"data": [{"node": "pve1", "status": "online"}]})

    with ProxmoxApi(pve_server) as api:
        assert api.nodes() == [{"node": "pve1", "status": "online"}]

    [request] = panel.requests
    assert request.headers["Authorization"] == f"PVEAPIToken=billing@pve!prov={SECRET}"
    [row] = ModuleCall.objects.all()
    assert SECRET not in f"{row.url}{row.request_body}{row.response_body}{row.error}"


def test_a_refused_token_is_not_retryable_and_says_so(panel, pve_server):
    panel.answer("GET", "/api2/json/nodes", status=401)

    with pytest.raises(PanelError) as raised, ProxmoxApi(pve_server) as api:
        api.nodes()

    assert raised.value.retryable is False
    assert "the API token was refused" in raised.value.message


def test_the_500_of_a_missing_vm_is_not_found_not_an_error(panel, pve_server):
    body = {"data": None, "message": MISSING}
    panel.answer("GET", "/api2/json/nodes/pve1/qemu/999/config", status=500, body=body)
    panel.answer("GET", "/api2/json/nodes/pve1/qemu/999/status/current", status=500, body=body)

    with ProxmoxApi(pve_server) as api:
        assert api.config("pve1", 999) is None
        assert api.status("pve1", 999) is None


def test_another_500_is_retryable_with_the_nodes_words(panel, pve_server):
    body = {"data": None, "message": "VM is locked (backup)\n"}
    panel.answer("GET", "/api2/json/nodes/pve1/qemu/123/config", status=500, body=body)

    with pytest.raises(PanelError) as raised, ProxmoxApi(pve_server) as api:
        api.config("pve1", 123)

    assert raised.value.retryable is True
    assert raised.value.message == "Proxmox VE answered 500: VM is locked (backup)"


def test_a_parameter_error_names_the_parameter(panel, pve_server):
    body = {
        "data": None,
        "errors": {"newid": "property is missing and it is not optional"},
        "message": "Parameter verification failed.\n",
    }
    panel.answer("POST", "/api2/json/nodes/pve1/qemu/9000/clone", status=400, body=body)

    with pytest.raises(PanelError) as raised, ProxmoxApi(pve_server) as api:
        api.clone("pve1", 9000, {"name": "x"})

    assert raised.value.retryable is False
    assert "newid: property is missing" in raised.value.message


def test_a_timeout_and_a_refused_connection_are_retryable(panel, pve_server, settings):
    settings.DELIVERY_READ_TIMEOUT = 0.3
    panel.answer("GET", "/api2/json/nodes", body={"data": []}, delay=1.0)

    with pytest.raises(PanelError) as timed_out, ProxmoxApi(pve_server) as api:
        api.nodes()
    pve_server.hostname = "http://127.0.0.1:9"
    with pytest.raises(PanelError) as refused, ProxmoxApi(pve_server) as api:
        api.nodes()

    assert timed_out.value.retryable
    assert "did not answer" in timed_out.value.message
    assert refused.value.retryable
    assert "Could not connect" in refused.value.message


def test_an_answer_without_the_envelope_is_not_proxmox(panel, pve_server):
    panel.answer("GET", "/api2/json/nodes", body={"nodes": []})

    with (
        pytest.raises(ModuleError, match="not a Proxmox VE API answer"),
        ProxmoxApi(pve_server) as api,
    ):
        api.nodes()


def test_a_server_without_a_token_is_refused_before_any_call(db):
    server = Server(name="pve", module="proxmox", hostname="pve", credentials={})
    with pytest.raises(ModuleError, match="no API token"):
        ProxmoxApi(server)


# The parsers of a VM's configuration ---------------------------------------------------------


def test_the_boot_disk_is_found_by_the_boot_order_and_cd_roms_are_skipped():
    config = {
        "boot": "order=ide2;virtio0;net0",
        "ide2": "local-lvm:vm-1-cloudinit,media=cdrom",
        "virtio0": "local-lvm:vm-1-disk-0,size=10G",
        "scsi0": "local-lvm:vm-1-disk-1,size=2G",
    }
    assert jobs.boot_disk(config) == "virtio0"
    assert jobs.boot_disk({"scsi0": "local:vm-1-disk-0,size=8G"}) == "scsi0"
    assert jobs.boot_disk({"ide2": "none,media=cdrom"}) is None


def test_disk_sizes_are_read_in_every_unit():
    assert jobs.disk_bytes("local-lvm:vm-1-disk-0,size=20G") == 20 * 1024**3
    assert jobs.disk_bytes("local:vm-1-disk-0,iothread=1,size=10240M,ssd=1") == 10 * 1024**3
    assert jobs.disk_bytes("local:vm-1-disk-0,size=1.5T") == int(1.5 * 1024**4)
    assert jobs.disk_bytes("local:vm-1-disk-0") == 0


def test_the_bridge_is_changed_keeping_the_model_and_mac():
    net = "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1"
    assert jobs.with_bridge(net, "vmbr1") == "virtio=BC:24:11:AA:BB:CC,firewall=1,bridge=vmbr1"
    assert jobs.with_bridge(None, "vmbr1") == "virtio,bridge=vmbr1"


def test_tags_are_added_once_and_removed():
    assert jobs.with_tag("web;prod", "suspended", True) == "web;prod;suspended"
    assert jobs.with_tag("web;suspended", "suspended", True) == "web;suspended"
    assert jobs.with_tag("web suspended,x", "suspended", False) == "web;x"


def test_a_job_survives_its_trip_through_json():
    job = jobs.Job("deliver", node="pve1", vmid=123, step="clone", upid=UPID)
    assert jobs.Job.from_data(job.as_data()) == job
    assert jobs.Job.from_data(None) is None
    assert jobs.Job.from_data({"action": ""}) is None
