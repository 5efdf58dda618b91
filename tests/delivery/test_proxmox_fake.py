"""The fake Proxmox VE speaks PVE's protocol (delivery-apis.md B.8): transport, API tokens,
the envelope and its errors, UPIDs and tasks, the VM state machine, the lists, and the
faults it injects. The Proxmox module's tests rely on all of it."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import httpx
import pytest

from tests.fakes import proxmox
from tests.fakes.proxmox import AUTH_FAILED, NO_TICKET, TOKEN_ID, TOKEN_SECRET

UPID = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)
MISSING_999 = "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"


@pytest.fixture
def fake():
    """Tasks end when a test says so (``finished()``), or by time in the tests of timing."""
    with proxmox.serve(task_seconds=60) as cluster:
        yield cluster


def call(fake, method, path, token=TOKEN_ID, secret=TOKEN_SECRET, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers.setdefault("Authorization", f"PVEAPIToken={token}={secret}")
    return httpx.request(method, fake.api_url + path, headers=headers, timeout=5, **kwargs)


def data(response):
    assert response.status_code == 200, (response.status_code, response.reason_phrase)
    return response.json()["data"]


def task(fake, upid, node="pve1"):
    return data(call(fake, "GET", f"/nodes/{node}/tasks/{quote(upid, safe='')}/status"))


def finished(fake, upid, node="pve1"):
    fake.finish_tasks()
    status = task(fake, upid, node)
    assert status["status"] == "stopped"
    return status


def clone(fake, newid=123, **params):
    return data(call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": newid, **params}))


def running_vm(fake, vmid=101, **config):
    return fake.add_vm(vmid, f"vm-{vmid}", running=True, **config)


def ssh_key(comment="me@laptop"):
    """An ed25519 public key line whose blob names its type, as ssh-keygen checks."""
    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + bytes(range(32))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def assert_error(response, status, message, errors=None):
    """PVE's error: the message as reason phrase and, with a newline, in the body."""
    assert response.status_code == status
    assert response.reason_phrase == message
    body = {"data": None, "message": f"{message}\n"}
    if errors is not None:
        body["errors"] = errors
    assert response.json() == body


# Transport (B.1) -----------------------------------------------------------------------------


def test_only_the_api2_json_prefix_is_served(fake):
    for path in ["/nodes", "/api2/extjs/nodes", "/api2"]:
        response = httpx.get(fake.base_url + path, headers={"Authorization": fake.authorization})

        assert_error(response, 501, "no such uri")


def test_an_unknown_method_or_path_is_501_not_implemented(fake):
    assert_error(
        call(fake, "GET", "/nodes/pve1/foo"), 501, "Method 'GET /nodes/pve1/foo' not implemented"
    )
    assert_error(call(fake, "POST", "/nodes"), 501, "Method 'POST /nodes' not implemented")


def test_answers_carry_pves_content_type_and_server(fake):
    response = call(fake, "GET", "/nodes")

    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Server"] == "pve-api-daemon/3.0"


def test_form_json_and_query_parameters_are_all_read(fake):
    form = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"cores": "4", "onboot": "1"})
    as_json = call(
        fake, "PUT", "/nodes/pve1/qemu/9000/config", json={"memory": 4096, "protection": True}
    )
    query = call(fake, "GET", "/nodes/pve1/qemu", params={"full": "1"})

    assert data(form) is None
    assert data(as_json) is None
    config = fake.vm(9000).config
    assert (config["cores"], config["onboot"], config["memory"], config["protection"]) == (
        4,
        1,
        "4096",
        1,
    )
    assert data(query)[0]["qmpstatus"] == "stopped"


def test_form_booleans_are_only_1_or_0(fake):
    for value in ["true", "True", "yes"]:
        response = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"onboot": value})

        assert_error(
            response,
            400,
            "Parameter verification failed.",
            {"onboot": f"type check ('boolean') failed - got '{value}'"},
        )


def test_unknown_and_missing_parameters_are_400_with_an_errors_map(fake):
    response = call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"name": "x", "size": "1"})

    assert_error(
        response,
        400,
        "Parameter verification failed.",
        {"size": UNKNOWN, "newid": "property is missing and it is not optional"},
    )
    assert fake.vm_summary()[0]["vmid"] == 9000
    assert len(fake.vm_summary()) == 1


def test_path_parameters_are_checked_like_the_others(fake):
    response = call(fake, "GET", "/nodes/pve1/qemu/abc/config")

    assert response.status_code == 400
    assert response.json()["errors"] == {"vmid": "type check ('integer') failed - got 'abc'"}


# Authentication (B.2) --------------------------------------------------------------------------


def test_a_missing_token_is_401_no_ticket_with_an_empty_body(fake):
    response = call(fake, "GET", "/nodes", token=None)

    assert response.status_code == 401
    assert response.reason_phrase == NO_TICKET
    assert response.content == b""


@pytest.mark.parametrize(
    ("token", "secret"),
    [(TOKEN_ID, "wrong"), ("other@pve!billing", TOKEN_SECRET), ("clientxcms@pve", TOKEN_SECRET)],
)
def test_a_bad_token_is_401_authentication_failed_with_an_empty_body(fake, token, secret):
    response = call(fake, "GET", "/nodes", token=token, secret=secret)

    assert response.status_code == 401
    assert response.reason_phrase == AUTH_FAILED
    assert response.content == b""


def test_an_expired_token_or_a_disabled_user_fails(fake):
    fake.add_token("old@pve!tk", "s1", expire=int(time.time()) - 1)
    fake.add_token("off@pve!tk", "s2", enabled=False)

    assert call(fake, "GET", "/nodes", token="old@pve!tk", secret="s1").status_code == 401
    assert call(fake, "GET", "/nodes", token="off@pve!tk", secret="s2").status_code == 401


def test_the_token_may_follow_a_space_and_be_uri_escaped(fake):
    header = f"PVEAPIToken {quote(f'{TOKEN_ID}={TOKEN_SECRET}')}"

    assert call(fake, "GET", "/nodes", headers={"Authorization": header}).status_code == 200


def test_401s_are_delayed_as_configured():
    with proxmox.serve(unauthorized_delay=0.2) as slow:
        started = time.monotonic()
        assert call(slow, "GET", "/nodes", secret="wrong").status_code == 401
        assert time.monotonic() - started >= 0.2


def test_a_missing_privilege_is_403_before_the_parameters_are_checked(fake):
    fake.add_token("audit@pve!ro", "s", privileges={"VM.Audit"})

    response = call(
        fake,
        "POST",
        "/nodes/pve1/qemu/9000/status/start",
        token="audit@pve!ro",
        secret="s",
        data={"bogus": "1"},
    )

    assert_error(response, 403, "Permission check failed (/vms/9000, VM.PowerMgmt)")
    assert (
        call(
            fake, "GET", "/nodes/pve1/qemu/9000/config", token="audit@pve!ro", secret="s"
        ).status_code
        == 200
    )


def test_a_token_cannot_set_or_delete_lock(fake):
    for body in [{"lock": "backup"}, {"delete": "lock"}]:
        response = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data=body)

        assert_error(response, 500, "only root can set 'lock' config")
    assert "lock" not in fake.vm(9000).config


def test_root_only_options_are_refused_to_a_token(fake):
    response = call(fake, "DELETE", "/nodes/pve1/qemu/9000", params={"skiplock": "1"})

    assert_error(
        response,
        400,
        "Parameter verification failed.",
        {"skiplock": "Only root may use this option."},
    )


# Envelope and errors (B.3) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nodes/pve1/qemu/999/config"),
        ("GET", "/nodes/pve1/qemu/999/status/current"),
        ("DELETE", "/nodes/pve1/qemu/999"),
        ("PUT", "/nodes/pve1/qemu/999/config"),
    ],
)
def test_a_missing_vm_is_a_500_naming_its_config_file(fake, method, path):
    response = call(fake, method, path, data={"cores": "2"} if method == "PUT" else None)

    assert_error(response, 500, MISSING_999)


def test_a_vm_is_looked_up_on_the_node_of_the_path(fake):
    response = call(fake, "GET", "/nodes/pve2/qemu/9000/config")

    assert_error(
        response, 500, "Configuration file 'nodes/pve2/qemu-server/9000.conf' does not exist"
    )


def test_a_missing_source_vm_fails_the_clone_synchronously(fake):
    response = call(fake, "POST", "/nodes/pve1/qemu/999/clone", data={"newid": 123})

    assert_error(response, 500, MISSING_999)
    assert fake.tasks == {}


# Lists (B.4, B.8 item 6) --------------------------------------------------------------------------


def test_nodes_have_their_stats_and_running_vms_add_their_memory(fake):
    before = {n["node"]: n for n in data(call(fake, "GET", "/nodes"))}
    running_vm(fake, 101, node="pve2", memory=8192)
    after = {n["node"]: n for n in data(call(fake, "GET", "/nodes"))}

    assert set(before["pve1"]) == {
        "id",
        "node",
        "type",
        "status",
        "uptime",
        "cpu",
        "mem",
        "disk",
        "level",
        "maxcpu",
        "maxmem",
        "maxdisk",
        "ssl_fingerprint",
    }
    assert before["pve1"]["id"] == "node/pve1"
    assert before["pve1"]["status"] == "online"
    assert min(before.values(), key=lambda n: n["mem"] / n["maxmem"])["node"] == "pve2"
    assert after["pve2"]["mem"] == before["pve2"]["mem"] + 8192 * 1024**2 * 3 // 8


def test_node_stats_need_sys_audit_and_an_online_node(fake):
    fake.add_token("vm@pve!ro", "s", privileges={"VM.Audit"})
    fake.nodes["pve2"].status = "offline"

    hidden = data(call(fake, "GET", "/nodes", token="vm@pve!ro", secret="s"))
    offline = data(call(fake, "GET", "/nodes"))[1]

    assert "mem" not in hidden[0]
    assert offline["status"] == "offline"
    assert "mem" not in offline


def test_vm_lists_have_integer_ids_and_mark_only_templates(fake):
    running_vm(fake, 101, tags="web")
    clone(fake, 123)

    vms = {vm["vmid"]: vm for vm in data(call(fake, "GET", "/nodes/pve1/qemu"))}

    assert set(vms) == {101, 123, 9000}
    assert vms[9000]["template"] == 1
    assert "template" not in vms[101]
    assert "template" not in vms[123]
    assert (vms[101]["status"], vms[9000]["status"]) == ("running", "stopped")
    assert vms[101]["pid"] > 0
    assert "pid" not in vms[9000]
    assert vms[101]["tags"] == "web"
    assert "tags" not in vms[9000]
    assert vms[123]["lock"] == "clone"
    assert "lock" not in vms[101]
    assert data(call(fake, "GET", "/nodes/pve2/qemu")) == []


def test_an_unknown_node_fails_its_hostname_lookup(fake):
    response = call(fake, "GET", "/nodes/pve9/qemu")

    assert response.status_code == 500
    assert response.reason_phrase.startswith("hostname lookup 'pve9' failed")


def test_cluster_resources_say_where_each_vm_is(fake):
    fake.add_vm(102, "db", node="pve2")

    vms = data(call(fake, "GET", "/cluster/resources", params={"type": "vm"}))

    assert [(vm["id"], vm["vmid"], vm["node"], vm["type"]) for vm in vms] == [
        ("qemu/102", 102, "pve2", "qemu"),
        ("qemu/9000", 9000, "pve1", "qemu"),
    ]
    bad = call(fake, "GET", "/cluster/resources", params={"type": "vms"})
    assert bad.json()["errors"] == {
        "type": "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'"
    }


def test_next_id_is_the_lowest_free_one_as_a_string(fake):
    fake.add_vm(100, "first")

    assert data(call(fake, "GET", "/cluster/nextid")) == "101"
    assert data(call(fake, "GET", "/cluster/nextid", params={"vmid": 500})) == "500"
    taken = call(fake, "GET", "/cluster/nextid", params={"vmid": 100})
    assert_error(taken, 400, "Parameter verification failed.", {"vmid": "VM 100 already exists"})


# UPIDs and tasks (B.4 "Tasks", B.5) ---------------------------------------------------------------


def test_a_clone_answers_a_upid_naming_the_source_vm_and_the_token(fake):
    upid = clone(fake, 123, name="vps-123", full=1, storage="local-lvm")

    match = UPID.match(upid)
    assert match is not None
    node, pid, pstart, starttime, kind, task_id, user = match.group(1, 3, 4, 5, 6, 7, 8)
    assert (node, kind, task_id, user) == ("pve1", "qmclone", "9000", TOKEN_ID)
    assert upid.endswith(":")
    assert abs(int(starttime, 16) - time.time()) < 60
    status = task(fake, upid)
    assert (status["pid"], status["pstart"], status["starttime"]) == (
        int(pid, 16),
        int(pstart, 16),
        int(starttime, 16),
    )


def test_a_task_runs_then_stops_ok_with_user_and_token_split(fake):
    fake.task_seconds = 0.5
    upid = clone(fake)

    running = task(fake, upid)
    time.sleep(0.55)
    stopped = task(fake, upid)

    assert running == {
        "upid": upid,
        "node": "pve1",
        "pid": running["pid"],
        "pstart": running["pstart"],
        "starttime": running["starttime"],
        "type": "qmclone",
        "id": "9000",
        "user": "clientxcms@pve",
        "tokenid": "billing",
        "status": "running",
    }
    assert stopped == running | {"status": "stopped", "exitstatus": "OK"}


def test_task_durations_are_configurable_per_type():
    with proxmox.serve(task_seconds=0.01, task_seconds_by_type={"qmclone": 60}) as slow:
        upid = clone(slow)
        start = data(call(slow, "POST", "/nodes/pve1/qemu/9000/status/stop"))
        time.sleep(0.02)

        assert task(slow, upid)["status"] == "running"
        assert task(slow, start)["status"] == "stopped"


def test_a_task_log_is_numbered_from_1_and_ends_with_the_result(fake):
    upid = clone(fake, 123)
    finished(fake, upid)
    path = f"/nodes/pve1/tasks/{quote(upid, safe='')}/log"

    assert data(call(fake, "GET", path)) == [
        {"n": 1, "t": "creating a clone of VM 9000 with ID 123"},
        {"n": 2, "t": "TASK OK"},
    ]
    assert data(call(fake, "GET", path, params={"start": 1, "limit": 1})) == [
        {"n": 2, "t": "TASK OK"}
    ]


def test_an_empty_task_log_says_no_content(fake):
    upid = data(call(fake, "POST", "/nodes/pve1/qemu/9000/status/stop"))

    log = data(call(fake, "GET", f"/nodes/pve1/tasks/{quote(upid, safe='')}/log"))

    assert log == [{"n": 1, "t": "no content"}]


def test_a_bad_or_unknown_upid_is_a_400(fake):
    upid = clone(fake)
    unknown = upid.replace(":qmclone:", ":qmstart:")

    bad = call(fake, "GET", "/nodes/pve1/tasks/UPID:nonsense/status")
    missing = call(fake, "GET", f"/nodes/pve1/tasks/{quote(unknown, safe='')}/status")
    other_node = call(fake, "GET", f"/nodes/pve2/tasks/{quote(upid, safe='')}/status")

    assert bad.json()["errors"] == {"upid": "unable to parse worker upid"}
    assert missing.json()["errors"] == other_node.json()["errors"] == {"upid": "no such task"}


def test_a_token_reads_its_own_tasks_and_needs_sys_audit_for_others(fake):
    fake.add_token("other@pve!ro", "s", privileges={"VM.Audit"})
    upid = clone(fake)

    response = call(
        fake,
        "GET",
        f"/nodes/pve1/tasks/{quote(upid, safe='')}/status",
        token="other@pve!ro",
        secret="s",
    )

    assert_error(response, 403, "Permission check failed (/nodes/pve1, Sys.Audit)")


# Clone --------------------------------------------------------------------------------------------


def test_a_clone_holds_lock_clone_until_its_task_ends(fake):
    upid = clone(fake, 123, name="vps-123")

    during = data(call(fake, "GET", "/nodes/pve1/qemu/123/config"))
    finished(fake, upid)
    after = data(call(fake, "GET", "/nodes/pve1/qemu/123/config"))

    assert during["lock"] == "clone"
    assert "lock" not in after
    assert after["name"] == "vps-123"
    assert "template" not in after


def test_a_clone_gets_new_macs_a_new_uuid_and_its_own_volumes(fake):
    template = fake.vm(9000).config
    finished(fake, clone(fake, 123))
    linked = data(call(fake, "GET", "/nodes/pve1/qemu/123/config"))
    finished(fake, clone(fake, 124, full=1, storage="local-lvm"))
    full = data(call(fake, "GET", "/nodes/pve1/qemu/124/config"))

    assert linked["name"] == "Copy-of-VM-debian-12-cloud"
    assert linked["net0"] != template["net0"]
    assert re.fullmatch(r"virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0", linked["net0"])
    assert linked["smbios1"] != template["smbios1"]
    assert linked["scsi0"] == "local-lvm:base-9000-disk-0/vm-123-disk-0,size=10G"
    assert linked["ide2"] == "local-lvm:vm-123-cloudinit,media=cdrom"
    assert full["scsi0"] == "local-lvm:vm-124-disk-0,size=10G"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"storage": "local-lvm"}, "parameter 'storage' not allowed for linked clones"),
        ({"full": 1, "target": "pve2"}, "can't clone VM to node 'pve2' (VM uses local storage)"),
        ({"newid": 9000}, "unable to create VM 9000: config file already exists"),
        ({"full": 1, "storage": "nfs"}, "storage 'nfs' does not exist"),
        ({"pool": "nope"}, "pool 'nope' does not exist"),
    ],
)
def test_clone_refusals_before_the_fork_are_500s(fake, params, message):
    response = call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 123, **params})

    assert_error(response, 500, message)
    assert fake.tasks == {}
    assert [vm["vmid"] for vm in fake.vm_summary()] == [9000]


def test_a_clone_to_another_node_moves_the_vm_when_it_ends(fake):
    fake.add_storage("ceph", type="rbd", shared=True)
    fake.add_vm(9100, "shared-tmpl", template=True, storage="ceph")

    upid = data(
        call(fake, "POST", "/nodes/pve1/qemu/9100/clone", data={"newid": 130, "target": "pve2"})
    )
    during = fake.vm(130).node
    finished(fake, upid)

    assert (during, fake.vm(130).node) == ("pve1", "pve2")


def test_a_locked_source_cannot_be_cloned(fake):
    clone(fake, 123)

    response = call(fake, "POST", "/nodes/pve1/qemu/123/clone", data={"newid": 124})

    assert_error(response, 500, "VM is locked (clone)")


# Config -------------------------------------------------------------------------------------------


def test_config_types_follow_pve_and_the_password_is_masked(fake):
    call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"cipassword": "s3cret", "onboot": "1"})

    config = data(call(fake, "GET", "/nodes/pve1/qemu/9000/config"))

    assert (config["cores"], config["memory"], config["onboot"]) == (2, "2048", 1)
    assert config["cipassword"] == "**********"
    assert re.fullmatch(r"[0-9a-f]{40}", config["digest"])
    assert fake.vm(9000).config["cipassword"] == "s3cret"


def test_an_async_config_change_is_a_qmconfig_task_that_applies_it(fake):
    upid = data(
        call(fake, "POST", "/nodes/pve1/qemu/9000/config", data={"cores": "8", "ciuser": "ops"})
    )

    before = fake.vm(9000).config["cores"]
    status = finished(fake, upid)

    assert UPID.match(upid)[6] == "qmconfig"
    assert (before, fake.vm(9000).config["cores"], status["exitstatus"]) == (2, 8, "OK")
    assert data(call(fake, "GET", f"/nodes/pve1/tasks/{quote(upid, safe='')}/log"))[0] == {
        "n": 1,
        "t": "update VM 9000: -cores 8 -ciuser ops",
    }


def test_background_delay_answers_null_once_the_change_is_done(fake):
    fake.task_seconds = 0.05
    response = call(
        fake, "POST", "/nodes/pve1/qemu/9000/config", data={"cores": "3", "background_delay": "5"}
    )

    assert data(response) is None
    assert fake.vm(9000).config["cores"] == 3


def test_background_delay_turns_a_failed_change_into_a_500(fake):
    fake.task_seconds = 0.05
    fake.fail_task("qmconfig", "hotplug problem - out of memory")

    response = call(
        fake, "POST", "/nodes/pve1/qemu/9000/config", data={"cores": "3", "background_delay": "5"}
    )

    assert_error(response, 500, "failed to update VM 9000: hotplug problem - out of memory")
    assert fake.vm(9000).config["cores"] == 2


def test_sshkeys_must_be_url_encoded_inside_the_form(fake):
    key = ssh_key()
    encoded = quote(key, safe="")

    raw = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"sshkeys": key})
    good = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"sshkeys": encoded})
    bogus = call(
        fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"sshkeys": quote("ssh-ed25519 AAAA x")}
    )

    assert raw.json()["errors"] == {"sshkeys": f"invalid format - invalid urlencoded string: {key}"}
    assert data(good) is None
    assert (
        "sshkeys=ssh-ed25519%2520"
        in httpx.Request("PUT", "http://x", data={"sshkeys": encoded}).read().decode()
    )
    assert fake.vm(9000).config["sshkeys"] == encoded
    assert_error(bogus, 500, "SSH public key validation error")


def test_tags_are_stored_sorted_and_unique(fake):
    call(
        fake,
        "PUT",
        "/nodes/pve1/qemu/9000/config",
        data={"tags": "suspended,customer-381;suspended"},
    )

    assert fake.vm(9000).config["tags"] == "customer-381;suspended"
    assert fake.vm(9000).tags == ["customer-381", "suspended"]


def test_delete_removes_options_and_unknown_ones_are_400(fake):
    call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"protection": "1"})

    removed = call(
        fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"delete": "protection,ciuser"}
    )
    unknown = call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"delete": "foo"})

    assert data(removed) is None
    assert "protection" not in fake.vm(9000).config
    assert "ciuser" not in fake.vm(9000).config
    assert unknown.json()["errors"] == {"delete": "unknown option 'foo'"}


def test_nothing_to_change_a_stale_digest_and_a_lock_are_500s(fake):
    clone(fake, 123)

    assert_error(call(fake, "PUT", "/nodes/pve1/qemu/9000/config"), 500, "no options specified")
    assert_error(
        call(fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"cores": "1", "digest": "0" * 40}),
        500,
        "checksum mismatch (file change by other user?)",
    )
    assert_error(
        call(fake, "POST", "/nodes/pve1/qemu/123/config", data={"cores": "1"}),
        500,
        "VM is locked (clone)",
    )


def test_a_net_without_a_mac_gets_one(fake):
    call(
        fake, "PUT", "/nodes/pve1/qemu/9000/config", data={"net1": "virtio,bridge=vmbr0,firewall=1"}
    )

    assert re.fullmatch(
        r"virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0,firewall=1", fake.vm(9000).config["net1"]
    )


# Resize -------------------------------------------------------------------------------------------


def test_resize_grows_by_or_to_a_size_and_never_shrinks(fake):
    grow = data(
        call(fake, "PUT", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi0", "size": "+10G"})
    )
    grown = finished(fake, grow)
    to = finished(
        fake,
        data(
            call(fake, "PUT", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi0", "size": "30G"})
        ),
    )
    shrink = finished(
        fake,
        data(
            call(fake, "PUT", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi0", "size": "5G"})
        ),
    )
    missing = finished(
        fake,
        data(
            call(fake, "PUT", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi1", "size": "5G"})
        ),
    )

    assert (UPID.match(grow)[6], grown["exitstatus"], to["exitstatus"]) == ("resize", "OK", "OK")
    assert fake.vm(9000).config["scsi0"] == "local-lvm:base-9000-disk-0,size=30G"
    assert shrink["exitstatus"] == "shrinking disks is not supported"
    assert missing["exitstatus"] == "disk 'scsi1' does not exist"
    bad = call(fake, "PUT", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi0", "size": "-1G"})
    assert bad.json()["errors"] == {"size": "value does not match the regex pattern"}


def test_resize_is_a_put(fake):
    response = call(
        fake, "POST", "/nodes/pve1/qemu/9000/resize", data={"disk": "scsi0", "size": "+1G"}
    )

    assert response.status_code == 501


# Status and the state machine (B.8 item 5) ------------------------------------------------------


def test_the_status_of_a_running_and_a_stopped_vm(fake):
    running_vm(fake, 101, memory=1024)

    up = data(call(fake, "GET", "/nodes/pve1/qemu/101/status/current"))
    down = data(call(fake, "GET", "/nodes/pve1/qemu/9000/status/current"))

    assert (up["vmid"], up["status"], up["qmpstatus"], up["maxmem"]) == (
        101,
        "running",
        "running",
        1024**3,
    )
    assert up["pid"] > 0
    assert up["mem"] > 0
    assert up["ha"] == {"managed": 0}
    assert up["agent"] == 1
    assert (down["status"], down["qmpstatus"], down["uptime"], down["mem"]) == (
        "stopped",
        "stopped",
        0,
        0,
    )
    assert "pid" not in down
    assert down["template"] == 1


def test_start_then_start_again_fails_in_the_task(fake):
    finished(fake, clone(fake, 123))

    first = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/123/status/start")))
    again = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/123/status/start")))

    assert first["exitstatus"] == "OK"
    assert fake.vm(123).running
    assert again["exitstatus"] == "VM 123 already running"


def test_a_template_or_a_locked_vm_does_not_start(fake):
    template = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/9000/status/start")))
    fake.hang_task("qmclone")
    clone(fake, 123)
    locked = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/123/status/start")))

    assert template["exitstatus"] == "you can't start a vm if it's a template"
    assert locked["exitstatus"] == "VM is locked (clone)"
    assert not fake.vm(9000).running
    assert not fake.vm(123).running


def test_stopping_a_stopped_vm_is_ok(fake):
    status = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/9000/status/stop")))

    assert (status["type"], status["exitstatus"]) == ("qmstop", "OK")


@pytest.mark.parametrize("action", ["reboot", "reset", "suspend", "resume"])
def test_actions_needing_a_running_vm_are_500s_on_a_stopped_one(fake, action):
    response = call(fake, "POST", f"/nodes/pve1/qemu/9000/status/{action}")

    assert_error(response, 500, "VM 9000 not running")
    assert fake.tasks == {}


def test_deleting_a_running_or_protected_vm_is_refused(fake):
    running_vm(fake, 101)
    fake.add_vm(102, "keep", protection=1)

    assert_error(
        call(fake, "DELETE", "/nodes/pve1/qemu/101"), 500, "VM 101 is running - destroy failed"
    )
    assert_error(
        call(fake, "DELETE", "/nodes/pve1/qemu/102"),
        500,
        "can't remove VM 102 - protection mode enabled",
    )
    assert {vm["vmid"] for vm in fake.vm_summary()} == {101, 102, 9000}


def test_delete_is_a_qmdestroy_task_that_removes_the_vm(fake):
    finished(fake, clone(fake, 123))

    upid = data(
        call(
            fake,
            "DELETE",
            "/nodes/pve1/qemu/123",
            params={"purge": 1, "destroy-unreferenced-disks": 1},
        )
    )
    status = finished(fake, upid)

    assert (status["type"], status["id"], status["exitstatus"]) == ("qmdestroy", "123", "OK")
    assert fake.vm(123) is None
    assert_error(
        call(fake, "GET", "/nodes/pve1/qemu/123/config"),
        500,
        "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist",
    )


def test_deleting_a_vm_being_cloned_fails_in_the_task(fake):
    fake.hang_task("qmclone")
    clone(fake, 123)

    status = finished(fake, data(call(fake, "DELETE", "/nodes/pve1/qemu/123")))

    assert status["exitstatus"] == "VM is locked (clone)"
    assert fake.vm(123) is not None


def test_pause_resume_and_hibernate(fake):
    running_vm(fake, 101)
    base = "/nodes/pve1/qemu/101/status"

    pause = finished(fake, data(call(fake, "POST", f"{base}/suspend")))
    paused = data(call(fake, "GET", f"{base}/current"))
    no_shutdown = call(fake, "POST", f"{base}/shutdown")
    finished(fake, data(call(fake, "POST", f"{base}/resume")))
    resumed = data(call(fake, "GET", f"{base}/current"))
    hibernate = finished(fake, data(call(fake, "POST", f"{base}/suspend", data={"todisk": 1})))
    hibernated = fake.vm(101)
    hibernated_state = (hibernated.running, hibernated.lock)
    finished(fake, data(call(fake, "POST", f"{base}/start")))

    assert pause["type"] == "qmpause"
    assert (paused["status"], paused["qmpstatus"]) == ("running", "paused")
    assert_error(no_shutdown, 500, "VM is paused - cannot shutdown")
    assert resumed["qmpstatus"] == "running"
    assert hibernate["type"] == "qmsuspend"
    assert hibernated_state == (False, "suspended")
    assert fake.vm(101).running
    assert fake.vm(101).lock is None


def test_a_guest_ignoring_acpi_times_out_unless_force_stopped(fake):
    running_vm(fake, 101).answers_acpi = False

    polite = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/101/status/shutdown")))
    still_running = fake.vm(101).running
    forced = finished(
        fake,
        data(call(fake, "POST", "/nodes/pve1/qemu/101/status/shutdown", data={"forceStop": 1})),
    )

    assert polite["exitstatus"] == "VM quit/powerdown failed - got timeout"
    assert still_running
    assert forced["exitstatus"] == "OK"
    assert not fake.vm(101).running


def test_reboot_and_reset_keep_a_running_vm_running(fake):
    running_vm(fake, 101)

    reboot = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/101/status/reboot")))
    reset = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/101/status/reset")))

    assert (reboot["type"], reboot["exitstatus"], reset["type"], reset["exitstatus"]) == (
        "qmreboot",
        "OK",
        "qmreset",
        "OK",
    )
    assert fake.vm(101).running


def test_power_actions_on_a_missing_vm(fake):
    start = finished(fake, data(call(fake, "POST", "/nodes/pve1/qemu/999/status/start")))
    reboot = call(fake, "POST", "/nodes/pve1/qemu/999/status/reboot")

    assert start["exitstatus"] == MISSING_999
    assert_error(reboot, 500, "unable to find configuration file for VM 999 on node 'pve1'")


# Faults ------------------------------------------------------------------------------------------


def test_an_injected_status_hits_only_its_path_and_only_so_many_times(fake):
    fake.inject("/nodes/*/qemu/*/clone", status=503, times=2)

    failures = [
        call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 123}) for _ in range(2)
    ]
    other = call(fake, "GET", "/nodes")
    third = call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 123})

    for failure in failures:
        assert_error(failure, 503, "Service Unavailable")
    assert other.status_code == third.status_code == 200
    assert [vm["vmid"] for vm in fake.vm_summary()] == [123, 9000]


def test_an_injected_401_looks_like_pves(fake):
    fake.inject("/nodes", status=401)

    response = call(fake, "GET", "/nodes")

    assert (response.status_code, response.reason_phrase, response.content) == (
        401,
        AUTH_FAILED,
        b"",
    )


def test_an_injected_hang_outlasts_the_clients_timeout_and_latency_delays(fake):
    fake.inject("/nodes", hang=5)
    fake.inject("/cluster/nextid", latency=0.2)

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            fake.api_url + "/nodes", headers={"Authorization": fake.authorization}, timeout=0.3
        )
    started = time.monotonic()
    assert call(fake, "GET", "/cluster/nextid").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_fault_after_the_fake_acted_loses_the_answer_not_the_clone(fake):
    fake.inject("/nodes/pve1/qemu/9000/clone", method="POST", status=502, after=True, times=1)

    lost = call(fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 123, "name": "vps-123"})
    retried = call(
        fake, "POST", "/nodes/pve1/qemu/9000/clone", data={"newid": 123, "name": "vps-123"}
    )

    assert lost.status_code == 502
    assert_error(retried, 500, "unable to create VM 123: config file already exists")
    assert [(vm["vmid"], vm["name"]) for vm in fake.vm_summary()] == [
        (123, "vps-123"),
        (9000, "debian-12-cloud"),
    ]


def test_a_failing_clone_task_leaves_no_vm(fake):
    fake.fail_task("qmclone", "clone failed: lvcreate 'pve/vm-123-disk-0' error: out of space")

    upid = clone(fake, 123)
    exists_during = fake.vm(123) is not None
    status = finished(fake, upid)
    log = data(call(fake, "GET", f"/nodes/pve1/tasks/{quote(upid, safe='')}/log"))

    assert exists_during
    assert status["exitstatus"] == "clone failed: lvcreate 'pve/vm-123-disk-0' error: out of space"
    assert fake.vm(123) is None
    assert log[-1]["t"] == f"TASK ERROR: {status['exitstatus']}"
    assert finished(fake, clone(fake, 124))["exitstatus"] == "OK"


def test_a_hung_clone_stays_running_and_locked_until_ended(fake):
    fake.hang_task("qmclone")
    upid = clone(fake, 123)

    fake.finish_tasks()
    time.sleep(0.06)
    hung = task(fake, upid)
    fake.end_task(upid)

    assert hung["status"] == "running"
    assert fake.vm(123).lock is None
    assert task(fake, upid)["exitstatus"] == "OK"


def test_requests_are_recorded_with_their_params_and_token(fake):
    clone(fake, 123, name="vps-123", full=1)
    call(fake, "GET", "/nodes", secret="wrong")

    [received] = fake.received("POST", "/nodes/*/qemu/*/clone")
    assert (received.path, received.params, received.token) == (
        "/nodes/pve1/qemu/9000/clone",
        {"newid": "123", "name": "vps-123", "full": "1"},
        TOKEN_ID,
    )
    assert fake.received("GET", "/nodes")[-1].token is None


# The fixture and the demo entry point -------------------------------------------------------------


def test_the_fixture_yields_the_address_token_and_state(proxmox_fake):
    response = httpx.get(
        f"http://{proxmox_fake.host}:{proxmox_fake.port}/api2/json/nodes/pve1/qemu",
        headers={
            "Authorization": f"PVEAPIToken={proxmox_fake.token_id}={proxmox_fake.token_secret}"
        },
    )

    assert proxmox_fake.url == proxmox_fake.state.base_url
    assert [vm["vmid"] for vm in response.json()["data"]] == [9000]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_demo_serves_templates_and_vms_to_import_and_prints_its_token():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.proxmox",
            "--port",
            str(port),
            "--demo",
            "--token-secret",
            "demo-secret",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        headers = {"Authorization": f"PVEAPIToken={TOKEN_ID}=demo-secret"}
        vms = httpx.get(
            f"http://127.0.0.1:{port}/api2/json/cluster/resources?type=vm", headers=headers
        ).json()
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert lines[0].strip() == f"Fake Proxmox VE at http://127.0.0.1:{port}/api2/json"
    assert TOKEN_ID in lines[1]
    assert "demo-secret" in lines[2]
    assert [(vm["vmid"], vm["node"], vm["name"], vm["template"]) for vm in vms["data"]] == [
        (101, "pve1", "web-legacy", 0),
        (102, "pve2", "mail-old", 0),
        (9000, "pve1", "debian-12-cloud", 1),
        (9001, "pve2", "debian-12-cloud", 1),
    ]
