"""The Proxmox VE module: virtual machines cloned from a template (delivery-apis.md, Part B).

A service is one VM (its VMID is the ``external_id``; ``module_data`` keeps its node),
reached with an API token (``PVEAPIToken=user@realm!tokenid=secret``). Creating it is
clone, configure, resize, start, each a task of the node; the chains and how they carry
on where they stopped are in ``jobs``. An operation that leaves a task running answers
``waiting`` with its ``Job`` in the data, and the lifecycle's follow task calls ``follow``
until the chain is done.

Suspension is what a token can do (B.6): the VM gets a ``suspended`` tag and no start on
boot, then is stopped; unsuspension reverses it. Termination clears the protection,
stops, and deletes with purge; a VM already gone counts as deleted.

Tabs: Overview (state, uptime, CPU, memory, disk, addresses), Power (start, shutdown,
reboot, hard stop), Reinstall (destroy and clone again under the same VMID), and for
staff the VM's configuration as its node reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.utils.translation import gettext, gettext_lazy

from delivery.calllog import calling
from delivery.choices import ServerStatus
from delivery.models import Server
from delivery.modules.base import (
    Audience,
    DeliveryModule,
    ImportableResource,
    ModuleError,
    ModuleResult,
    Tab,
)

from . import jobs, tabs
from .api import ProxmoxApi
from .forms import NodeCatalogue, ProxmoxProductForm, ProxmoxServerForm
from .jobs import Job, Run, VmGone

#: The lifecycle's name for a tab's action it follows (services' ServiceAction.PANEL), and
#: the jobs of this module's tab actions that it may follow (``tabs.reinstall``).
PANEL_ACTION = "panel"
PANEL_JOBS = ("reinstall",)

#: Marks the texts kept at module level: translated when they are shown.
_ = cast(Callable[[str], str], gettext_lazy)
DONE = {
    "deliver": _("VM %(vmid)s is made on node %(node)s and started."),
    "suspend": _(
        "VM %(vmid)s on node %(node)s is stopped, tagged suspended, no longer starting on boot."
    ),
    "unsuspend": _("VM %(vmid)s on node %(node)s is started again."),
    "terminate": _("VM %(vmid)s is deleted from node %(node)s."),
    "reinstall": _("VM %(vmid)s on node %(node)s is made again from the template and started."),
}


def module_data(service: Any) -> dict[str, Any]:
    return service.module_data if isinstance(service.module_data, dict) else {}


class ProxmoxModule(DeliveryModule):
    key = "proxmox"
    needs_product = _(
        "A VM is made from a product's configuration (template, cores, memory...): "
        "this custom service has none. Import an existing VM instead."
    )
    label = "Proxmox VE"
    server_form = ProxmoxServerForm
    product_form = ProxmoxProductForm
    supports_import = True
    reference_keys = ("ip",)

    def product_form_kwargs(self) -> dict[str, Any]:
        """The nodes and templates of the first active Proxmox VE server, for the product
        form's choices; when none answers, the form asks for the values and says why."""
        server = Server.objects.filter(module=self.key, status=ServerStatus.ACTIVE).first()
        if server is None:
            return {}
        try:
            with calling(operation="product form"), ProxmoxApi(server) as api:
                vms = api.all_vms()
                nodes = sorted({node for node, _ in vms} | {n["node"] for n in api.nodes()})
        except ModuleError as exc:
            return {
                "catalogue_error": gettext("%(server)s could not list its templates: %(error)s")
                % {"server": server, "error": exc.message}
            }
        templates = sorted(
            (
                int(vm["vmid"]),
                gettext("%(name)s (%(vmid)s) on %(node)s")
                % {"name": vm.get("name") or "VM", "vmid": vm["vmid"], "node": node},
            )
            for node, vm in vms
            if vm.get("template") in (1, "1", True)
        )
        return {"catalogue": NodeCatalogue(nodes=nodes, templates=templates, source=str(server))}

    # Helpers ----------------------------------------------------------------------------

    @staticmethod
    def api(service: Any) -> ProxmoxApi:
        if service.server is None:
            raise ModuleError(
                gettext("The service has no server: choose the Proxmox VE node it is on.")
            )
        return ProxmoxApi(service.server)

    def run_for(self, api: ProxmoxApi, service: Any, job: Job) -> Run:
        config = (
            self.service_product_config(service) if job.action in ("deliver", "reinstall") else {}
        )
        return Run(api=api, uuid=str(service.uuid), service_id=service.pk, job=job, config=config)

    def located(self, api: ProxmoxApi, service: Any, action: str) -> Run | None:
        """A run of ``action`` on the service's VM; None when there is no VM."""
        run = self.run_for(api, service, Job(action))
        found = jobs.locate(
            run, str(service.external_id or ""), str(module_data(service).get("node") or "")
        )
        return run if found else None

    @staticmethod
    def outcome(run: Run, done: bool) -> ModuleResult:
        """The result of a chain: waiting with its job while a task runs, else what it did."""
        job = run.job
        data: dict[str, Any] = {"node": job.node, "vmid": job.vmid}
        external_id = str(job.vmid) if job.vmid is not None else None
        if not done:
            task = gettext("the %(step)s task") % {"step": job.step} if job.upid else job.step
            return ModuleResult(
                external_id=external_id,
                data={**data, "job": job.as_data()},
                message=gettext("Node %(node)s is working on VM %(vmid)s (%(task)s).")
                % {"node": job.node or "?", "vmid": job.vmid or "?", "task": task},
                waiting=True,
            )
        if job.action == "deliver":
            data["name"] = jobs.vm_name(run.uuid)
        return ModuleResult(
            external_id=external_id,
            data={**data, "job": None},
            message=str(DONE[job.action]) % {"vmid": job.vmid, "node": job.node},
        )

    def carry_out(self, run: Run, resuming: bool = False) -> ModuleResult:
        """Run (or resume) the run's chain; a VM gone midway is an error for all but a
        termination, for which it is what was wanted."""
        try:
            done = jobs.resume(run) if resuming else jobs.advance(run)
        except VmGone:
            raise ModuleError(
                gettext("VM %(vmid)s is no longer on node %(node)s: it was deleted on the node.")
                % {"vmid": run.job.vmid or "", "node": run.job.node or "?"},
                retryable=False,
            ) from None
        if done and run.job.action == "terminate" and run.gone:
            return ModuleResult(
                message=gettext("VM %(vmid)s was already gone from the node.")
                % {"vmid": run.job.vmid}
            )
        return self.outcome(run, done)

    # Operations -------------------------------------------------------------------------

    def create(self, service: Any) -> ModuleResult:
        with self.api(service) as api:
            return self.carry_out(self.run_for(api, service, Job("deliver")))

    def follow(self, service: Any, action: str) -> ModuleResult:
        """Carry on the job the service keeps; without one (or another action's), the
        operation again from its start: each step checks before it acts."""
        job = Job.from_data(module_data(service).get("job"))
        if action == PANEL_ACTION and job is not None and job.action in PANEL_JOBS:
            action = job.action  # a tab's action the node went on with (a reinstall)
        if job is None or job.action != action:
            return self.operation(service, action)
        with self.api(service) as api:
            return self.carry_out(self.run_for(api, service, job), resuming=True)

    def operation(self, service: Any, action: str) -> ModuleResult:
        operations = {
            "deliver": self.create,
            "suspend": self.suspend,
            "unsuspend": self.unsuspend,
            "terminate": self.terminate,
        }
        if action not in operations:
            raise ModuleError(f"Proxmox VE has nothing to follow for {action!r}.")
        return operations[action](service)

    def _on_vm(self, service: Any, action: str) -> ModuleResult:
        with self.api(service) as api:
            run = self.located(api, service, action)
            if run is None:
                if action == "terminate":
                    return ModuleResult(message=gettext("No VM on the node: nothing to delete."))
                if action == "suspend":
                    raise ModuleError(
                        gettext("There is no VM on the node to suspend."), retryable=False
                    )
                if action == "unsuspend":
                    raise ModuleError(
                        gettext("There is no VM on the node to unsuspend."), retryable=False
                    )
                raise ModuleError(f"There is no VM on the node to {action}.", retryable=False)
            return self.carry_out(run)

    def suspend(self, service: Any) -> ModuleResult:
        return self._on_vm(service, "suspend")

    def unsuspend(self, service: Any) -> ModuleResult:
        return self._on_vm(service, "unsuspend")

    def terminate(self, service: Any) -> ModuleResult:
        return self._on_vm(service, "terminate")

    def test_connection(self, server: Server) -> ModuleResult:
        """The token reaches the API and sees the nodes (and whether they are online)."""
        with ProxmoxApi(server) as api:
            nodes = api.nodes()
        if not nodes:
            raise ModuleError(
                gettext(
                    "The API token works but sees no node: give it Sys.Audit on /nodes, or "
                    "check its privileges."
                )
            )
        online = [node["node"] for node in nodes if node.get("status") == "online"]
        return ModuleResult(
            message=gettext("API token accepted: %(nodes)s node(s), %(online)s online (%(names)s).")
            % {
                "nodes": len(nodes),
                "online": len(online),
                "names": ", ".join(online) or gettext("none"),
            }
        )

    # Import -----------------------------------------------------------------------------

    def list_importable(self, server: Server) -> list[ImportableResource]:
        with ProxmoxApi(server) as api:
            vms = api.all_vms()
        return [
            ImportableResource(
                id=str(vm["vmid"]),
                label=gettext("%(name)s (%(vmid)s) on %(node)s")
                % {"name": vm.get("name") or "VM", "vmid": vm["vmid"], "node": node},
                details={
                    "name": vm.get("name") or "",
                    "vmid": int(vm["vmid"]),
                    "node": node,
                    "status": vm.get("status") or "",
                    **({"tags": vm["tags"]} if vm.get("tags") else {}),
                },
            )
            for node, vm in sorted(vms, key=lambda found: int(found[1]["vmid"]))
            if vm.get("template") not in (1, "1", True)
        ]

    def import_existing(self, service: Any, resource_id: str) -> ModuleResult:
        vmid = str(resource_id).strip()
        if not vmid.isdigit():
            raise ModuleError(gettext("%(vmid)s is not a VMID.") % {"vmid": repr(vmid)})
        with self.api(service) as api:
            found = next(
                ((node, vm) for node, vm in api.all_vms() if str(vm["vmid"]) == vmid), None
            )
        if found is None:
            raise ModuleError(gettext("No online node has VM %(vmid)s.") % {"vmid": vmid})
        node, vm = found
        if vm.get("template") in (1, "1", True):
            raise ModuleError(
                gettext("VM %(vmid)s is a template: import a VM made from it.") % {"vmid": vmid}
            )
        self._mark_imported(service, node, int(vmid))
        return ModuleResult(
            external_id=vmid,
            data={"node": node, "vmid": int(vmid), "name": vm.get("name") or ""},
            message=gettext("Linked to VM %(name)s (%(vmid)s) on node %(node)s.")
            % {"name": vm.get("name") or vmid, "vmid": vmid, "node": node},
        )

    def _mark_imported(self, service: Any, node: str, vmid: int) -> None:
        """Tag the VM with the service's uuid, as a created one is: it is how the module
        knows the VM at this VMID is still this service's. One already another service's
        is refused."""
        tag = jobs.vm_tag(str(service.uuid))
        with self.api(service) as api:
            config = api.config(node, vmid, operation="read imported VM") or {}
            tags = jobs.split_tags(config.get("tags"))
            others = [t for t in tags if t.startswith(jobs.TAG_PREFIX) and t != tag]
            if others:
                raise ModuleError(
                    gettext("VM %(vmid)s is already linked to another service (%(tag)s).")
                    % {"vmid": vmid, "tag": others[0]}
                )
            if tag not in tags:
                api.set_options(
                    node,
                    vmid,
                    {"tags": jobs.with_tag(config.get("tags"), tag, True)},
                    operation="mark imported VM",
                )

    # Tabs -------------------------------------------------------------------------------

    def tabs(self, service: Any, audience: Audience) -> list[Tab]:
        return tabs.declare(self, audience)
