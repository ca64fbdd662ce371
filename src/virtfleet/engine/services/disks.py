"""Disks (``/disks``) and how they are plugged into VMs (``/vms/{id}/diskattachments``).

A disk is one volume on a storage domain, at ``{path}/{domain id}/images/{disk id}/{image id}``;
adding one returns it ``locked`` and a command turns it ``ok`` once the volume exists, or
``illegal`` (kept, so the failure stays visible and the disk can be removed) if creation fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import Connection, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    DiskContentType,
    DiskFormat,
    DiskInterface,
    DiskStatus,
    DiskStorageType,
    QcowVersion,
    StorageDomainStatus,
    StorageDomainType,
)
from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.engine.commands import storage_commands as cmds
from virtfleet.engine.commands.hotplug_commands import require_pluggable
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.commands.vmspec import disk_spec
from virtfleet.engine.core.statuses import STOPPED_VM_STATUSES
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import DocumentService, ListQuery, Options, Scope
from virtfleet.engine.services.hotplug import Hotplug
from virtfleet.engine.services.refs import new_id, resolve
from virtfleet.engine.services.search import catalog
from virtfleet.engine.services.vm_hardware import refuse_scsi_disks_without_virtio_scsi

_D = tables.disks
_A = tables.disk_attachments

# A VM in one of these has no running guest, so its disks may change.
VM_STOPPED = frozenset(status.value for status in STOPPED_VM_STATUSES)
INTERFACES = (
    DiskInterface.VIRTIO,
    DiskInterface.VIRTIO_SCSI,
    DiskInterface.SATA,
    DiskInterface.IDE,
)


def vm_running(conn: Connection, vm_id: str) -> bool:
    status = conn.execute(select(tables.vms.c.status).where(tables.vms.c.id == vm_id)).scalar()
    return status is not None and status not in VM_STOPPED


def running_vms_using_disk(conn: Connection, disk_id: str) -> list[str]:
    """Names of the VMs with a running guest that have the disk attached."""
    v = tables.vms
    statement = (
        select(v.c.name, v.c.status).join(_A, _A.c.vm_id == v.c.id).where(_A.c.disk_id == disk_id)
    )
    return [row.name for row in conn.execute(statement) if row.status not in VM_STOPPED]


def running_vms_using_domain(conn: Connection, domain_id: str) -> list[str]:
    """Names of the VMs with a running guest that have a disk on the storage domain."""
    v = tables.vms
    statement = (
        select(v.c.name, v.c.status)
        .join(_A, _A.c.vm_id == v.c.id)
        .join(_D, _D.c.id == _A.c.disk_id)
        .where(_D.c.storage_domain_id == domain_id)
        .distinct()
    )
    return sorted({row.name for row in conn.execute(statement) if row.status not in VM_STOPPED})


def _active_data_domain(conn: Connection, disk: m.Disk) -> m.StorageDomain:
    refs = disk.storage_domains or ([disk.storage_domain] if disk.storage_domain else [])
    if not refs:
        raise InvalidInput("The disk needs a storage domain ('storage_domains')")
    domain = resolve(conn, repos.storage_domains, refs[0], field="storage_domain")
    if domain.type not in (StorageDomainType.DATA, None):
        raise Conflict(f"The storage domain '{domain.name}' does not hold disks")
    if domain.status != StorageDomainStatus.ACTIVE:
        raise Conflict(
            f"The storage domain '{domain.name}' is {domain.status}; disks need an active domain"
        )
    return domain


def new_disk(conn: Connection, obj: m.Disk) -> m.Disk:
    """Validate a disk a client sent and fill what the engine decides; not yet stored."""
    name = (obj.name or obj.alias or "").strip()
    if not name:
        raise InvalidInput("A disk needs a name (or an alias)")
    size = obj.provisioned_size
    if size is None or size <= 0:
        raise InvalidInput("A disk needs a positive 'provisioned_size' in bytes")
    domain = _active_data_domain(conn, obj)
    disk_format = obj.format or DiskFormat.COW
    return m.Disk(
        id=new_id(),
        name=name,
        alias=name,
        description=obj.description,
        comment=obj.comment,
        image_id=new_id(),
        status=DiskStatus.LOCKED,
        format=disk_format,
        provisioned_size=size,
        actual_size=0,
        total_size=0,
        sparse=obj.sparse if obj.sparse is not None else True,
        qcow_version=QcowVersion.QCOW2_V3 if disk_format == DiskFormat.COW else None,
        shareable=False,
        content_type=obj.content_type or DiskContentType.DATA,
        storage_type=DiskStorageType.IMAGE,
        wipe_after_delete=bool(obj.wipe_after_delete),
        propagate_errors=False,
        storage_domains=[m.StorageDomain(id=domain.id)],
    )


class DiskService(DocumentService[m.Disk]):
    """``/disks``: floating and attached disks alike."""

    search_fields: ClassVar = catalog.DISKS.resolvers()
    immutable_fields = frozenset(
        {
            "id",
            "href",
            "status",
            "format",
            "provisioned_size",
            "image_id",
            "storage_domains",
            "storage_domain",
            "actual_size",
            "total_size",
            "sparse",
        }
    )

    def __init__(self, database: Database, runner: CommandRunner) -> None:
        super().__init__(database, repos.disks)
        self.runner = runner

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Disk, options: Options) -> m.Disk:
        return new_disk(conn, obj)

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Disk, updated: m.Disk
    ) -> m.Disk:
        # name and alias are one field in oVirt 4; whichever the client changed wins
        name = updated.alias if updated.alias != current.alias else updated.name
        if not (name or "").strip():
            raise InvalidInput("A disk needs a name")
        return updated.model_copy(update={"name": name, "alias": name})

    def add(self, scope: Scope, obj: m.Disk, options: Options) -> m.Disk:
        disk = super().add(scope, obj, options)
        self.submit_creation(disk)
        return disk

    def submit_creation(self, disk: m.Disk, vm_id: str | None = None) -> str:
        """Start the command that creates a stored ``locked`` disk's volume."""
        assert disk.id is not None
        params = {
            "disk_id": disk.id,
            "name": disk.name,
            "domain_id": (disk.storage_domains or [m.StorageDomain()])[0].id,
            "vm_id": vm_id,
        }
        try:
            return str(self.runner.submit(cmds.ADD_DISK, params, locks=[(disk.id, "adding disk")]))
        except Exception:
            with self.db.transaction() as conn:
                repos.disks.save(conn, disk.model_copy(update={"status": DiskStatus.ILLEGAL}))
            raise

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        with self.db.transaction() as conn:
            disk = self.get_in_scope(conn, scope, object_id)
            if disk.status == DiskStatus.LOCKED:
                raise Conflict(f"The disk '{disk.name}' is locked by another operation")
            running = running_vms_using_disk(conn, object_id)
            if running:
                raise Conflict(
                    f"Cannot remove disk '{disk.name}': it is attached to running VM(s) "
                    f"{', '.join(running)}"
                )
            domain = cmds.disk_domain(conn, disk)
            if domain.status != StorageDomainStatus.ACTIVE:
                raise Conflict(
                    f"Cannot remove disk '{disk.name}': its storage domain '{domain.name}' is "
                    f"{domain.status}"
                )
            version = repos.disks.version_of(conn, object_id)
            locked = disk.model_copy(update={"status": DiskStatus.LOCKED})
            repos.disks.save(conn, locked, expected_version=version)
        previous = (disk.status or DiskStatus.OK).value
        params = {
            "disk_id": object_id,
            "name": disk.name,
            "domain_id": domain.id,
            "previous_status": previous,
        }
        try:
            self.runner.submit(cmds.REMOVE_DISK, params, locks=[(object_id, "removing disk")])
        except Exception:
            with self.db.transaction() as conn:
                repos.disks.save(conn, disk)
            raise


class DiskAttachmentService(DocumentService[m.DiskAttachment]):
    """``/vms/{id}/diskattachments`` (and read-only ``/templates/{id}/diskattachments``).

    The attachment's id is its disk's id. On a running VM an existing disk is hot-plugged when
    attached active (or set ``active=true``) and unplugged when detached or set inactive; the
    boot disk stays. Other changes wait for the VM to be down.
    """

    immutable_fields = frozenset({"id", "href", "disk", "vm", "template"})

    def __init__(
        self, database: Database, disks: DiskService, *, parent_column: str = "vm_id"
    ) -> None:
        super().__init__(database, repos.disk_attachments, parent_column=parent_column)
        self.disks = disks
        self.hotplug = Hotplug(disks.runner)
        self._parents = repos.vms if parent_column == "vm_id" else repos.templates

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.DiskAttachment]:
        with self.db.read() as conn:
            self._parents.get(conn, scope.parent)
        return super().list(scope, query)

    def _require_stopped(self, conn: Connection, vm_id: str) -> None:
        vm = repos.vms.get(conn, vm_id)
        if vm_running(conn, vm_id):
            raise Conflict(
                f"The VM '{vm.name}' is running: this change of its disks can be made only "
                "while it is down (a running VM takes and gives back whole disks: "
                "attach, detach, active)"
            )

    def _check_scsi(self, conn: Connection, vm_id: str, attachment: m.DiskAttachment) -> None:
        if self.parent_column == "vm_id":
            vm = repos.vms.get(conn, vm_id)
            refuse_scsi_disks_without_virtio_scsi(vm, [attachment.interface])

    def _live_vm(self, conn: Connection, vm_id: str) -> m.Vm | None:
        """The VM when its guest runs and can take a disk; None when it is down."""
        vm = repos.vms.get(conn, vm_id)
        if not vm_running(conn, vm_id):
            return None
        require_pluggable(vm)
        return vm

    def _plug(self, vm: m.Vm, attachment: m.DiskAttachment) -> None:
        params = {"vm_id": vm.id, "attachment_id": attachment.id}
        self.hotplug.run("vm.plug_disk", params, vm.name, f"Hot-plugging disk {attachment.id}")

    def _unplug(self, vm: m.Vm, attachment: m.DiskAttachment) -> None:
        if attachment.bootable:
            raise Conflict(f"The boot disk of VM {vm.name} cannot be unplugged while it runs")
        with self.db.read() as conn:
            path = disk_spec(conn, attachment).path
        params = {"vm_id": vm.id, "attachment_id": attachment.id, "path": path}
        self.hotplug.run("vm.unplug_disk", params, vm.name, f"Unplugging disk {attachment.id}")

    def add(self, scope: Scope, obj: m.DiskAttachment, options: Options) -> m.DiskAttachment:
        """Attach an existing disk (``<disk id=..>``) or create one inline and attach it.

        Call it only once the VM's row is committed; it opens its own transaction.
        """
        vm_id = scope.parent
        if obj.disk is None:
            raise InvalidInput("The disk attachment needs a 'disk' (an id, or a new disk)")
        with self.db.transaction() as conn:
            live = self._live_vm(conn, vm_id)
            if live is not None:
                self._check_pluggable(conn, live, obj)
            if obj.disk.id is None:
                disk = new_disk(conn, obj.disk)
                repos.disks.insert(conn, disk)
                created = True
            else:
                disk = repos.disks.find(conn, obj.disk.id) or _missing(obj.disk.id)
                created = False
                self._check_free(conn, disk)
            attachment = _attachment(obj, disk, vm_id)
            self._check_scsi(conn, vm_id, attachment)
            if attachment.bootable:
                self._check_single_boot_disk(conn, vm_id)
            plug = live is not None and attachment.active is not False
            # a hot-plugged disk is recorded active only once the guest has it
            repos.disk_attachments.insert(
                conn, attachment.model_copy(update={"active": False}) if plug else attachment
            )
        if created:
            self.disks.submit_creation(disk, vm_id)
        if plug and live is not None:
            try:
                self._plug(live, attachment)
            except Exception:
                with self.db.transaction() as conn:
                    repos.disk_attachments.delete(conn, attachment.id or "")
                raise
            return self.get(scope, attachment.id or "")
        return attachment

    def _check_pluggable(self, conn: Connection, vm: m.Vm, obj: m.DiskAttachment) -> None:
        assert obj.disk is not None
        if obj.disk.id is None:
            raise Conflict(
                f"VM {vm.name} is running: add the disk first (POST /disks), then attach it"
            )
        if obj.bootable:
            raise Conflict(f"A boot disk cannot be plugged into running VM {vm.name}")
        disk = repos.disks.find(conn, obj.disk.id) or _missing(obj.disk.id)
        if disk.status not in (None, DiskStatus.OK):
            raise Conflict(f"The disk '{disk.alias or disk.name}' is {disk.status.value}")

    def _check_free(self, conn: Connection, disk: m.Disk) -> None:
        assert disk.id is not None
        if repos.disk_attachments.find(conn, disk.id) is not None:
            raise Conflict(f"The disk '{disk.name}' is already attached to a VM or template")

    def _check_single_boot_disk(self, conn: Connection, vm_id: str) -> None:
        current = repos.disk_attachments.query(conn, _A.c.vm_id == vm_id)
        boot = [a for a in current if a.bootable]
        if boot:
            raise Conflict(f"The VM already has a bootable disk ({boot[0].id})")

    def update(self, scope: Scope, object_id: str, changes: m.DiskAttachment) -> m.DiskAttachment:
        """On a running VM only ``active`` may change, plugging or unplugging the disk."""
        with self.db.read() as conn:
            current = self.get_in_scope(conn, scope, object_id)
            live = self._live_vm(conn, scope.parent) if self.parent_column == "vm_id" else None
        if live is None or changes.active is None or changes.active == current.active:
            return super().update(scope, object_id, changes)
        others = changes.model_copy(update={"active": None}).model_dump(exclude_none=True)
        if set(others) - {"id", "href"}:
            raise Conflict(
                f"VM {live.name} is running: change only 'active' of disk {object_id} now"
            )
        if changes.active:
            self._plug(live, current)
        else:
            self._unplug(live, current)
        return self.get(scope, object_id)

    def prepare_update(
        self,
        conn: Connection,
        scope: Scope,
        current: m.DiskAttachment,
        updated: m.DiskAttachment,
    ) -> m.DiskAttachment:
        self._require_stopped(conn, scope.parent)
        if updated.interface not in INTERFACES:
            raise InvalidInput(f"Disk interface '{updated.interface}' is not supported")
        self._check_scsi(conn, scope.parent, updated)
        if updated.bootable and not current.bootable:
            self._check_single_boot_disk(conn, scope.parent)
        return updated

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        """Detach the disk (unplugged first from a running VM); with ``detach_only=false``
        remove the disk too."""
        detach_only = options.flag("detach_only", default=True)
        with self.db.read() as conn:
            current = self.get_in_scope(conn, scope, object_id)
            live = self._live_vm(conn, scope.parent) if self.parent_column == "vm_id" else None
        if live is not None and current.active is not False:
            self._unplug(live, current)
        with self.db.transaction() as conn:
            self.get_in_scope(conn, scope, object_id)
            if live is None:
                self._require_stopped(conn, scope.parent)
            repos.disk_attachments.delete(conn, object_id)
        if not detach_only:
            self.disks.remove(Scope(), object_id, Options())


def _missing(disk_id: str) -> m.Disk:
    raise NotFound(f"Entity not found: disk with id '{disk_id}'")


def _attachment(obj: m.DiskAttachment, disk: m.Disk, vm_id: str) -> m.DiskAttachment:
    interface = obj.interface or DiskInterface.VIRTIO
    if interface not in INTERFACES:
        raise InvalidInput(f"Disk interface '{interface}' is not supported")
    return m.DiskAttachment(
        id=disk.id,
        disk=m.Disk(id=disk.id),
        vm=m.Vm(id=vm_id),
        interface=interface,
        bootable=bool(obj.bootable),
        active=obj.active if obj.active is not None else True,
        pass_discard=bool(obj.pass_discard),
        read_only=bool(obj.read_only),
        uses_scsi_reservation=False,
    )


class InlineVmDisks:
    """How the VM commands create and remove the disks a VM was added with."""

    def __init__(self, attachments: DiskAttachmentService) -> None:
        self.attachments = attachments

    def attach(self, vm_id: str, attachment: m.DiskAttachment) -> None:
        self.attachments.add(Scope((vm_id,)), attachment, Options())

    def remove(self, vm_id: str, attachment_id: str) -> None:
        self.attachments.remove(Scope((vm_id,)), attachment_id, Options({"detach_only": "false"}))
