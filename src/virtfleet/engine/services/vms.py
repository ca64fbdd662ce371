"""``/vms``: VMs made from templates, their configuration, removal and lifecycle actions.

Lifecycle actions only check the status and submit a persisted command (``vm_commands``); the
command and host monitoring move the status, each move a compare-and-swap on the VM's row.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.common import vcpu_count
from virtfleet.common.apimodel.enums import DisplayType, SerialNumberPolicy, VmStatus, VmType
from virtfleet.common.clock import Clock
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.commands.store import Locked
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.identity import ADMIN_NAME, ADMIN_USER
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.persistence import initialized, nextruns, tables
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.scheduler.scheduler import Scheduler
from virtfleet.engine.services import oscatalog
from virtfleet.engine.services.base import DocumentService, Options, Scope
from virtfleet.engine.services.consoles import Consoles
from virtfleet.engine.services.disks import DiskAttachmentService
from virtfleet.engine.services.guest_reports import GuestReports, with_guest
from virtfleet.engine.services.merge import merge_update
from virtfleet.engine.services.permissions import grant_vm_manager, revoke_vm_permissions
from virtfleet.engine.services.placement import resolved_placement_policy, run_once_host
from virtfleet.engine.services.refs import (
    new_id,
    reference,
    require_name,
    resolve,
    resolve_optional,
)
from virtfleet.engine.services.runonce import start_options
from virtfleet.engine.services.search import catalog
from virtfleet.engine.services.system import BLANK_TEMPLATE_ID
from virtfleet.engine.services.vm_devices import (
    copy_template_nics,
)
from virtfleet.engine.services.vm_hardware import (
    refuse_scsi_disks_without_virtio_scsi,
    validate_hardware,
)
from virtfleet.engine.services.vm_migration import refuse_migration_changes

_V = tables.vms
MAX_MEMORY = 4 * 1024**4
MAX_VCPUS = 710
MAX_SERIAL_LENGTH = 255
# oVirt's default memory ceiling: four times the memory (what memory hot-plug could reach)
MAX_MEMORY_FACTOR = 4
MiB = 1024**2

# What a new VM takes from its template when the client leaves it out.
INHERITED = (
    "type",
    "memory",
    "memory_policy",
    "cpu",
    "cpu_shares",
    "os",
    "bios",
    "stateless",
    "start_paused",
    "delete_protected",
    "high_availability",
    "display",
    "console",
    "time_zone",
    "placement_policy",
    "migration",
    "migration_downtime",
    "tunnel_migration",
    "custom_emulated_machine",
    "custom_cpu_model",
    "soundcard_enabled",
    "usb",
    "io",
    "virtio_scsi",
    "serial_number",
    "multi_queues_enabled",
    "tpm_enabled",
)
# Fields a PUT never changes: those the model marks read-only, and those fixed when the VM is
# made (where it runs is the engine's, its template and cluster are chosen on add).
SERVER_OWNED = (
    *sorted(m.read_only_fields(m.Vm)),
    "host",
    "template",
    "original_template",
    "cluster",
)
# Fields a PUT may change while the VM runs; every other change needs the VM down.
LIVE_UPDATABLE = frozenset({"name", "description", "comment", "delete_protected", "console"})
# Sub-collections a client may send inline; none is stored in the VM's document.
INLINE = ("nics", "disk_attachments", "graphics_consoles", "statistics", "permissions", "tags")

# For each action: the statuses that allow it, the fault prefix and the job's wording.
ACTIONS: Mapping[str, tuple[frozenset[VmStatus], str, str]] = {
    "start": (
        frozenset({VmStatus.DOWN, VmStatus.SUSPENDED, VmStatus.PAUSED}),
        "Cannot run VM",
        "Launching VM",
    ),
    "stop": (
        frozenset(HOLDING_VM_STATUSES | {VmStatus.SUSPENDED}),
        "Cannot stop VM",
        "Powering off VM",
    ),
    "shutdown": (
        frozenset({VmStatus.UP, VmStatus.POWERING_UP, VmStatus.REBOOT_IN_PROGRESS}),
        "Cannot shutdown VM",
        "Shutting down VM",
    ),
    "reboot": (frozenset({VmStatus.UP}), "Cannot reboot VM", "Rebooting VM"),
    "suspend": (frozenset({VmStatus.UP, VmStatus.PAUSED}), "Cannot suspend VM", "Suspending VM"),
}


def validate_config(vm: m.Vm) -> None:
    """The limits oVirt enforces on a VM's hardware."""
    if vm.memory is None or vm.memory <= 0:
        raise InvalidInput("The memory of a VM must be greater than 0")
    if vm.memory > MAX_MEMORY:
        raise InvalidInput("The memory of a VM cannot exceed 4 TiB")
    topology = vm.cpu.topology if vm.cpu is not None else None
    if topology is not None:
        for part in ("sockets", "cores", "threads"):
            value = getattr(topology, part)
            if value is not None and value < 1:
                raise InvalidInput(f"The number of CPU {part} must be at least 1")
    vcpus = vcpu_count(vm.cpu)
    if not 1 <= vcpus <= MAX_VCPUS:
        raise InvalidInput(f"A VM must have between 1 and {MAX_VCPUS} virtual CPUs, not {vcpus}")
    os_type = vm.os.type if vm.os is not None else None
    if os_type is not None and not oscatalog.is_known(os_type):
        raise InvalidInput(f"Unknown operating system type '{os_type}'")
    policy = vm.memory_policy
    if policy is not None and policy.guaranteed is not None and policy.guaranteed > vm.memory:
        raise InvalidInput("The guaranteed memory cannot exceed the VM's memory")
    ceiling = policy.max if policy is not None else None
    if ceiling is not None and not vm.memory <= ceiling <= MAX_MEMORY:
        raise InvalidInput(
            f"memory_policy.max ({ceiling // MiB} MiB) must be at least the VM's memory "
            f"({vm.memory // MiB} MiB) and at most 4 TiB: the memory cannot grow past it"
        )
    validate_hardware(vm)
    serial = vm.serial_number
    if (
        serial is not None
        and serial.policy == SerialNumberPolicy.CUSTOM
        and not 1 <= len(serial.value or "") <= MAX_SERIAL_LENGTH
    ):
        raise InvalidInput(
            f"A custom serial number needs a value of 1 to {MAX_SERIAL_LENGTH} characters"
        )


def inherit(vm: m.Vm, template: m.Template) -> m.Vm:
    """Fill what the client left out from the template; nested ``os``/``cpu`` merge one level."""
    update: dict[str, Any] = {}
    for name in INHERITED:
        if getattr(vm, name) is None and getattr(template, name, None) is not None:
            update[name] = getattr(template, name)
    if vm.os is not None and template.os is not None:
        update["os"] = vm.os.model_copy(
            update={
                "type": vm.os.type or template.os.type,
                "boot": vm.os.boot or template.os.boot,
            }
        )
    if vm.cpu is not None and template.cpu is not None and vm.cpu.topology is None:
        update["cpu"] = vm.cpu.model_copy(update={"topology": template.cpu.topology})
    if vm.memory is not None and vm.memory_policy is None and template.memory_policy is not None:
        # the template's guarantee follows the memory the client chose, the ceiling is oVirt's
        inherited = template.memory_policy
        update["memory_policy"] = inherited.model_copy(
            update={
                "guaranteed": min(inherited.guaranteed or vm.memory, vm.memory),
                "max": None,
            }
        )
    return with_defaults(vm.model_copy(update=update))


def with_defaults(vm: m.Vm) -> m.Vm:
    """What oVirt fills in that the VM leaves out: a memory ceiling of four times its memory,
    and no USB for a high-performance VM."""
    update: dict[str, Any] = {}
    policy = vm.memory_policy or m.MemoryPolicy()
    if vm.memory is not None and policy.max is None:
        ceiling = min(MAX_MEMORY_FACTOR * vm.memory, MAX_MEMORY)
        update["memory_policy"] = policy.model_copy(update={"max": ceiling})
    if vm.type == VmType.HIGH_PERFORMANCE and (vm.usb is None or vm.usb.enabled is None):
        update["usb"] = (vm.usb or m.Usb()).model_copy(update={"enabled": False})
    return vm.model_copy(update=update) if update else vm


def removable_check(vm: m.Vm, *, forced: bool) -> None:
    """oVirt's refusals: a VM with a guest ("Cannot remove VM. VM is running."), one delete
    protected; ``force`` takes only a VM whose disks are still being made."""
    status = vm.status or VmStatus.DOWN
    if status in HOLDING_VM_STATUSES or (vm.host is not None and status != VmStatus.SUSPENDED):
        raise Conflict("Cannot remove VM. VM is running.")
    if forced and status == VmStatus.IMAGE_LOCKED:
        return  # a VM whose creation failed half-way: never ran, nothing to protect yet
    if status == VmStatus.DOWN:
        if vm.delete_protected:
            raise Conflict(f"Cannot remove VM. VM {vm.name} is delete protected.")
        return
    raise Conflict(f"Cannot remove VM. VM {vm.name} is {status.value.replace('_', ' ')}.")


def restart_changes(current: m.Vm, wanted: m.Vm) -> dict[str, Any]:
    """The fields (as JSON, None when cleared) ``wanted`` changes that a running guest takes
    only at its next start."""
    before = current.model_dump(mode="json", exclude_none=True)
    after = wanted.model_dump(mode="json", exclude_none=True)
    return {
        key: after.get(key)
        for key in set(before) | set(after)
        if before.get(key) != after.get(key) and key not in LIVE_UPDATABLE | set(SERVER_OWNED)
    }


def display_type(vm: m.Vm) -> DisplayType | None:
    return vm.display.type if vm.display is not None else None


def conflict_text(prefix: str, vm: m.Vm) -> str:
    """oVirt's wording, e.g. "Cannot run VM. VM vm1 is running."."""
    status = vm.status or VmStatus.DOWN
    if prefix == "Cannot run VM":
        state = "running" if status in HOLDING_VM_STATUSES else status.value.replace("_", " ")
        return f"{prefix}. VM {vm.name} is {state}."
    if status in (VmStatus.DOWN, VmStatus.IMAGE_LOCKED):
        return f"{prefix}. VM is not running."
    return f"{prefix}. VM {vm.name} is {status.value.replace('_', ' ')}."


class VmService(DocumentService[m.Vm]):
    search_fields: ClassVar = catalog.VMS.resolvers()
    # what the guest agent reports is the guest's to say: a client writing it is refused
    immutable_fields = frozenset(
        {"id", "href", "fqdn", "guest_operating_system", "guest_time_zone"}
    )

    def __init__(
        self,
        database: Database,
        clock: Clock,
        eventlog: EventLog,
        runner: CommandRunner,
        *,
        scheduler: Scheduler,
        disk_attachments: DiskAttachmentService,
        consoles: Consoles,
        rng: random.Random | None = None,
        guests: GuestReports | None = None,
    ) -> None:
        super().__init__(database, repos.vms)
        self.clock = clock
        self.eventlog = eventlog
        self.runner = runner
        self.scheduler = scheduler
        self.disk_attachments = disk_attachments
        self.consoles = consoles
        self.rng = rng or random.Random()
        self.guests = guests

    # --- add -------------------------------------------------------------------------------------

    def add(self, scope: Scope, obj: m.Vm, options: Options) -> m.Vm:
        attachments = list(obj.disk_attachments or [])
        with self.db.transaction() as conn:
            vm = self.prepare_new(conn, scope, obj, options)
            if attachments:
                vm = vm.model_copy(update={"status": VmStatus.IMAGE_LOCKED})
            self.repo.insert(conn, vm)
            self.after_add(conn, scope, vm)
        if attachments:
            assert vm.id is not None
            payload = [a.model_dump(mode="json", exclude_none=True) for a in attachments]
            try:
                self.runner.submit(
                    "vm.add_disks",
                    {"vm_id": vm.id, "attachments": payload},
                    locks=[(vm.id, "vm")],
                    description=f"Creating the disks of VM {vm.name}",
                )
            except Exception:
                self.remove(scope, vm.id, Options({"force": "true"}))
                raise
        return vm

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Vm, options: Options) -> m.Vm:
        name = require_name(obj, "VM")
        if repos.vms.find_by_name(conn, name) is not None:
            raise Conflict(f"Cannot add VM. The VM name '{name}' is already in use.")
        cluster = resolve(conn, repos.clusters, obj.cluster, field="cluster")
        template = resolve_optional(conn, repos.templates, obj.template, field="template")
        if template is None:
            template = repos.templates.get(conn, BLANK_TEMPLATE_ID)
        vm = inherit(obj, template)
        validate_config(vm)
        refuse_migration_changes(template, vm)
        refuse_scsi_disks_without_virtio_scsi(
            vm, [attachment.interface for attachment in obj.disk_attachments or []]
        )
        placement = resolved_placement_policy(conn, vm.placement_policy, cluster.id)
        cleared: dict[str, Any] = {field: None for field in INLINE + SERVER_OWNED}
        return vm.model_copy(
            update={
                **cleared,
                "id": new_id(),
                "name": name,
                "cluster": reference(m.Cluster, cluster),
                "placement_policy": placement,
                "template": reference(m.Template, template),
                "original_template": reference(m.Template, template),
                "status": VmStatus.DOWN,
                "creation_time": self.clock.now(),
                "origin": "ovirt",
                "stateless": bool(vm.stateless),
                "delete_protected": bool(vm.delete_protected),
                # every VM here has a serial console; unlike oVirt, it is open unless disabled
                "console": vm.console
                if vm.console is not None and vm.console.enabled is not None
                else m.Console(enabled=True),
                "next_run_configuration_exists": False,
            }
        )

    def after_add(self, conn: Connection, scope: Scope, obj: m.Vm) -> None:
        assert obj.id is not None and obj.template is not None and obj.template.id is not None
        copy_template_nics(conn, obj.template.id, obj.id, self.rng)
        grant_vm_manager(conn, ADMIN_NAME, obj.id, self.clock.now())
        self.eventlog.record(
            conn,
            code=EventCode.VM_ADDED,
            severity="normal",
            description=f"VM {obj.name} was created by {ADMIN_USER}.",
            vm_id=obj.id,
            cluster_id=obj.cluster.id if obj.cluster else None,
        )

    # --- update ----------------------------------------------------------------------------------

    def prepare_update(self, conn: Connection, scope: Scope, current: m.Vm, updated: m.Vm) -> m.Vm:
        updated = self._configured(conn, current, updated)
        if current.status != VmStatus.DOWN:
            changed = sorted(restart_changes(current, updated))
            if changed:
                raise Conflict(
                    f"Cannot edit VM. VM {current.name} is {(current.status or 'down')}: "
                    f"{', '.join(changed)} can only change while it is down, or for its next "
                    "run (next_run=true)."
                )
        return updated

    def _configured(self, conn: Connection, current: m.Vm, updated: m.Vm) -> m.Vm:
        """``updated`` with what the engine owns kept from ``current``, checked."""
        name = require_name(updated, "VM")
        owned = {field: getattr(current, field) for field in SERVER_OWNED}
        updated = updated.model_copy(update={**owned, **{f: None for f in INLINE}, "name": name})
        if display_type(updated) == display_type(current):
            # the consoles (``/graphicsconsoles``) stay; a new display type replaces them
            updated = updated.model_copy(update={"graphics_consoles": current.graphics_consoles})
        updated = with_defaults(updated)
        validate_config(updated)
        refuse_migration_changes(current, updated)
        attached = repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == current.id)
        refuse_scsi_disks_without_virtio_scsi(updated, [a.interface for a in attached])
        cluster_id = current.cluster.id if current.cluster is not None else None
        placement = resolved_placement_policy(conn, updated.placement_policy, cluster_id)
        updated = updated.model_copy(update={"placement_policy": placement})
        if name != current.name and repos.vms.find_by_name(conn, name) is not None:
            raise Conflict(f"Cannot edit VM. The VM name '{name}' is already in use.")
        return updated

    def update_with_options(
        self, scope: Scope, object_id: str, changes: m.Vm, options: Options
    ) -> m.Vm:
        """``next_run=true`` on a VM that runs: what can change now changes, the rest is kept
        as its next-run configuration, which it takes when it next goes down (as oVirt)."""
        if not options.flag("next_run"):
            return self.update(scope, object_id, changes)
        self.refuse_immutable(object_id, changes)
        with self.db.transaction() as conn:
            current = self.get_in_scope(conn, scope, object_id)
            if current.status in (None, VmStatus.DOWN):
                return self.decorate(conn, self._update_now(conn, current, changes))
            version = self.repo.version_of(conn, object_id)
            planned = nextruns.with_pending(current, nextruns.pending(conn, object_id))
            wanted = self._configured(conn, current, merge_update(planned, changes))
            later = restart_changes(current, wanted)
            live = {field: getattr(wanted, field) for field in LIVE_UPDATABLE}
            now = current.model_copy(update={**live, "next_run_configuration_exists": bool(later)})
            self.repo.save(conn, now, expected_version=version)
            nextruns.keep(conn, object_id, later)
            return self.decorate(conn, now)

    def _update_now(self, conn: Connection, current: m.Vm, changes: m.Vm) -> m.Vm:
        assert current.id is not None
        version = self.repo.version_of(conn, current.id)
        prepared = self.prepare_update(conn, Scope(), current, merge_update(current, changes))
        self.repo.save(conn, prepared, expected_version=version)
        return prepared

    def get_with_options(self, scope: Scope, object_id: str, options: Options) -> m.Vm:
        """``next_run=true``: the VM as it will be on its next run."""
        if not options.flag("next_run"):
            return self.get(scope, object_id)
        with self.db.read() as conn:
            vm = self.get_in_scope(conn, scope, object_id)
            return self.decorate(conn, nextruns.with_pending(vm, nextruns.pending(conn, object_id)))

    def decorate(self, conn: Connection, obj: m.Vm) -> m.Vm:
        """The consoles the VM keeps are served under ``/graphicsconsoles``, not inline; what
        its guest agent reports is added while it runs."""
        if obj.graphics_consoles is not None:
            obj = obj.model_copy(update={"graphics_consoles": None})
        return with_guest(obj, self.guests.of(obj) if self.guests is not None else None)

    # --- remove ----------------------------------------------------------------------------------

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        """Only a VM without a guest goes: ``force`` also takes one whose disks are still being
        made (``image_locked``), never a running or suspended one, so no QEMU loses its row."""
        detach_only = options.flag("detach_only")
        forced = options.flag("force")
        with self.db.read() as conn:
            vm = self.get_in_scope(conn, scope, object_id)
        removable_check(vm, forced=forced)
        with self.db.read() as conn:
            attached = repos.disk_attachments.query(
                conn, tables.disk_attachments.c.vm_id == object_id
            )
        flag = Options({"detach_only": "true" if detach_only else "false"})
        for attachment in attached:
            assert attachment.id is not None
            self.disk_attachments.remove(Scope((object_id,)), attachment.id, flag)
        with self.db.transaction() as conn:
            # again in the transaction that deletes: a start may have claimed a host meanwhile
            removable_check(repos.vms.get(conn, object_id), forced=forced)
            conn.execute(tables.nics.delete().where(tables.nics.c.vm_id == object_id))
            conn.execute(
                tables.disk_attachments.delete().where(tables.disk_attachments.c.vm_id == object_id)
            )
            revoke_vm_permissions(conn, object_id)
            repos.vms.delete(conn, object_id)
            self.eventlog.record(
                conn,
                code=EventCode.VM_REMOVED,
                severity="normal",
                description=f"VM {vm.name} was removed by {ADMIN_USER}.",
                vm_id=object_id,
            )

    # --- actions ---------------------------------------------------------------------------------

    def start(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        return self._lifecycle("start", scope, object_id, action)

    def stop(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        return self._lifecycle("stop", scope, object_id, action)

    def shutdown(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        return self._lifecycle("shutdown", scope, object_id, action)

    def reboot(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        return self._lifecycle("reboot", scope, object_id, action)

    def suspend(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        return self._lifecycle("suspend", scope, object_id, action)

    def _lifecycle(self, name: str, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        """Check the VM's status and submit the action's command (``vm.<name>``); a start's
        run-once options go into its command's parameters."""
        allowed, prefix, wording = ACTIONS[name]
        params: dict[str, Any] = {"vm_id": object_id}
        with self.db.read() as conn:
            vm = self.get_in_scope(conn, scope, object_id)
            if vm.status not in allowed:
                raise Conflict(conflict_text(prefix, vm))
            run_once = None
            if name == "start":  # 400s, no job
                first_run = vm.status == VmStatus.DOWN and not initialized.has_run(conn, object_id)
                run_once = start_options(vm, action, first_run=first_run)
            if run_once is not None:
                if vm.status != VmStatus.DOWN:
                    raise InvalidInput(
                        f"VM {vm.name} is {vm.status}: it resumes as it was, without run-once "
                        "options"
                    )
                params["run_once"] = run_once.model_dump(mode="json")
            if name == "start" and vm.status == VmStatus.PAUSED:
                # as in oVirt, running a paused VM resumes it
                name, allowed, wording = "resume", frozenset({VmStatus.PAUSED}), "Resuming VM"
            if name == "start":
                params |= self._placed(conn, vm, action)

        def still_allowed(conn: Connection) -> None:
            """The status again, now that no other command can move the VM."""
            current = repos.vms.get(conn, object_id)
            if current.status not in allowed:
                raise Conflict(conflict_text(prefix, current))

        try:
            job_id = self.runner.submit(
                f"vm.{name}",
                params,
                locks=[(object_id, "vm")],
                description=f"{wording} {vm.name}",
                precheck=still_allowed,
            )
        except Locked:
            self.scheduler.release(object_id)
            raise Conflict(
                f"{prefix}. VM {vm.name} is busy with another operation; try again later."
            ) from None
        except Exception:
            self.scheduler.release(object_id)  # the command that would have used it is not
            raise
        return m.Action(status="complete", job=m.Job(id=job_id))

    def _placed(self, conn: Connection, vm: m.Vm, action: m.Action) -> dict[str, Any]:
        """The start's one placement decision (oVirt validates a run before accepting it): a
        start no host could take is a 409 naming each host's reason, and no job is created.
        The chosen host is charged now and handed to the command, which re-validates it."""
        required = run_once_host(conn, action, vm)
        if vm.status == VmStatus.SUSPENDED:
            if required is not None and required != (vm.host.id if vm.host else None):
                raise Conflict(
                    f"Cannot run VM {vm.name} on that host: its saved state is on another host."
                )
            return {}
        decision = self.scheduler.place(conn, vm, host=required)
        return {"host_id": decision.host_id, "host_required": required is not None}

    def ticket(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        """oVirt's VM-level ticket: set on the VM's own display, as its graphics console does."""
        with self.db.read() as conn:
            self.get_in_scope(conn, scope, object_id)
        ticket = self.consoles.set_ticket(object_id, None, action.ticket)
        return m.Action(status="complete", ticket=ticket)
