"""Storage domains: added on a host (``/storagedomains``), attached to and activated in a data
center (``/datacenters/{id}/storagedomains``), and the disks they hold.

Storage types: ``posixfs`` (a directory, ``vfs_type`` none), ``nfs`` and ``localfs``. Nothing is
mounted yet, so an ``nfs`` domain's ``path`` must already be a directory on every host (the
export mounted there by the operator); the ``address`` is kept for the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from sqlalchemy import Connection, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel import Action
from virtfleet.common.apimodel.enums import (
    LogSeverity,
    StorageDomainStatus,
    StorageDomainType,
    StorageFormat,
    StorageType,
)
from virtfleet.common.apimodel.system import Job
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.engine.commands import storage_commands as cmds
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.core.domainstate import (
    data_center_of,
    refresh_data_center_status,
    set_domain_status,
)
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import (
    DocumentService,
    ListQuery,
    Options,
    Scope,
)
from virtfleet.engine.services.disks import (
    running_vms_using_domain,
)
from virtfleet.engine.services.refs import new_id, require_name, resolve, resolve_optional
from virtfleet.engine.services.search import catalog

_T = tables.storage_domains

SUPPORTED_STORAGE = (StorageType.POSIXFS, StorageType.NFS, StorageType.LOCALFS)
SUPPORTED_DOMAIN_TYPES = (StorageDomainType.DATA, StorageDomainType.ISO, StorageDomainType.EXPORT)
# Statuses a domain is left in by a command; changing it meanwhile would race the command.
BUSY = (StorageDomainStatus.LOCKED, StorageDomainStatus.ACTIVATING)


def _submitted(job_id: str) -> Action:
    return Action(status="complete", job=Job(id=job_id))


class _StorageDomainBase(DocumentService[m.StorageDomain]):
    search_fields: ClassVar = catalog.STORAGE_DOMAINS.resolvers()

    def __init__(
        self,
        database: Database,
        runner: CommandRunner,
        eventlog: EventLog,
        *,
        parent_column: str | None = None,
    ):
        super().__init__(database, repos.storage_domains, parent_column=parent_column)
        self.runner = runner
        self.eventlog = eventlog

    def _record(
        self, conn: Connection, code: EventCode, text: str, domain_id: str, center: str | None
    ) -> None:
        self.eventlog.record(
            conn,
            code=code,
            severity=LogSeverity.NORMAL,
            description=text,
            storage_domain_id=domain_id,
            data_center_id=center,
        )

    def decorate(self, conn: Connection, obj: m.StorageDomain) -> m.StorageDomain:
        assert obj.id is not None
        return obj.model_copy(update={"committed": cmds.committed_bytes(conn, obj.id)})

    def _submit(self, kind: str, params: Mapping[str, object], domain_id: str, reason: str) -> str:
        return str(self.runner.submit(kind, params, locks=[(domain_id, reason)]))


class StorageDomainService(_StorageDomainBase):
    """``/storagedomains``: add on a host, update names, remove (``format``/``destroy``)."""

    immutable_fields = frozenset(
        {"id", "href", "status", "type", "storage", "data_center", "data_centers", "master"}
    )

    def __init__(self, database: Database, runner: CommandRunner, eventlog: EventLog) -> None:
        super().__init__(database, runner, eventlog)

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.StorageDomain, options: Options
    ) -> m.StorageDomain:
        require_name(obj, "storage domain")
        domain_type = obj.type or StorageDomainType.DATA
        if domain_type not in SUPPORTED_DOMAIN_TYPES:
            raise InvalidInput(f"Storage domains of type '{domain_type}' are not supported")
        storage = _validated_storage(obj.storage)
        if repos.storage_domains.count(conn, _T.c.path == storage.path):
            raise Conflict(f"A storage domain already uses the path '{storage.path}'")
        return m.StorageDomain(
            id=new_id(),
            name=obj.name,
            description=obj.description,
            comment=obj.comment,
            type=domain_type,
            storage=storage,
            status=StorageDomainStatus.LOCKED,
            master=False,
            storage_format=obj.storage_format or StorageFormat.V5,
            wipe_after_delete=bool(obj.wipe_after_delete),
            discard_after_delete=bool(obj.discard_after_delete),
            supports_discard=False,
            supports_discard_zeroes_data=False,
            backup=bool(obj.backup),
            warning_low_space_indicator=obj.warning_low_space_indicator or 10,
            critical_space_action_blocker=obj.critical_space_action_blocker or 5,
            block_size=512,
            external_status=None,
        )

    def add(self, scope: Scope, obj: m.StorageDomain, options: Options) -> m.StorageDomain:
        with self.db.read() as conn:
            host = resolve_optional(conn, repos.hosts, obj.host, field="host")
        added = super().add(scope, obj, options)
        assert added.id is not None
        params = {"domain_id": added.id, "name": added.name, "host_id": host.id if host else None}
        try:
            self._submit(cmds.ADD_DOMAIN, params, added.id, "adding storage domain")
        except Exception:
            with self.db.transaction() as conn:
                repos.storage_domains.delete(conn, added.id)
            raise
        return added

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        destroy, wipe = options.flag("destroy"), options.flag("format")
        with self.db.transaction() as conn:
            domain = self.get_in_scope(conn, scope, object_id)
            if domain.status in BUSY:
                raise Conflict(f"The storage domain '{domain.name}' is busy ({domain.status})")
            if destroy:
                cmds.forget_domain(conn, object_id)
                self._record(
                    conn,
                    EventCode.STORAGE_DOMAIN_REMOVED,
                    f"Storage domain {domain.name} was destroyed.",
                    object_id,
                    data_center_of(domain),
                )
                return
            if domain.status != StorageDomainStatus.UNATTACHED:
                raise Conflict(
                    f"Cannot remove storage domain '{domain.name}': detach it from its data "
                    "center first (or use destroy=true)"
                )
            if not wipe:
                cmds.forget_domain(conn, object_id)
                self._record(
                    conn,
                    EventCode.STORAGE_DOMAIN_REMOVED,
                    f"Storage domain {domain.name} was removed.",
                    object_id,
                    None,
                )
                return
            host = _host_option(conn, options)
            set_domain_status(conn, object_id, StorageDomainStatus.LOCKED)
        params = {
            "domain_id": object_id,
            "name": domain.name,
            "host_id": host,
            "path": cmds.domain_ref(domain).path,
        }
        try:
            self._submit(cmds.FORMAT_DOMAIN, params, object_id, "removing storage domain")
        except Exception:
            with self.db.transaction() as conn:
                set_domain_status(conn, object_id, StorageDomainStatus.UNATTACHED)
            raise


class AttachedStorageDomainService(_StorageDomainBase):
    """``/datacenters/{id}/storagedomains``: attach (add), activate, deactivate, detach."""

    def __init__(self, database: Database, runner: CommandRunner, eventlog: EventLog) -> None:
        super().__init__(database, runner, eventlog, parent_column="data_center_id")

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.StorageDomain]:
        with self.db.read() as conn:
            repos.data_centers.get(conn, scope.parent)
        return super().list(scope, query)

    def add(self, scope: Scope, obj: m.StorageDomain, options: Options) -> m.StorageDomain:
        with self.db.transaction() as conn:
            center = repos.data_centers.get(conn, scope.parent)
            domain = resolve(conn, repos.storage_domains, obj, field="storage_domain")
            assert domain.id is not None and center.id is not None
            if domain.status != StorageDomainStatus.UNATTACHED:
                raise Conflict(
                    f"Cannot attach storage domain '{domain.name}': it is {domain.status}, "
                    "not unattached"
                )
            _check_local(center, domain)
            attached = domain.model_copy(
                update={
                    "status": StorageDomainStatus.ACTIVATING,
                    "data_center": m.DataCenter(id=center.id),
                    "data_centers": [m.DataCenter(id=center.id)],
                    "master": False,
                }
            )
            version = repos.storage_domains.version_of(conn, domain.id)
            repos.storage_domains.save(conn, attached, expected_version=version)
        params = {"domain_id": domain.id, "name": domain.name, "data_center_id": center.id}
        try:
            self._submit(cmds.ATTACH_DOMAIN, params, domain.id, "attaching storage domain")
        except Exception:
            with self.db.transaction() as conn:
                set_domain_status(conn, domain.id, StorageDomainStatus.MAINTENANCE)
            raise
        return self.get(scope, domain.id)

    def activate(self, scope: Scope, object_id: str, action: Action) -> Action:
        with self.db.transaction() as conn:
            domain = self.get_in_scope(conn, scope, object_id)
            if domain.status == StorageDomainStatus.ACTIVE:
                return Action(status="complete")
            if domain.status != StorageDomainStatus.MAINTENANCE:
                raise Conflict(
                    f"Cannot activate storage domain '{domain.name}': it is {domain.status}"
                )
            set_domain_status(conn, object_id, StorageDomainStatus.ACTIVATING)
        params = {"domain_id": object_id, "name": domain.name, "data_center_id": scope.parent}
        try:
            job = self._submit(cmds.ACTIVATE_DOMAIN, params, object_id, "activating storage domain")
        except Exception:
            with self.db.transaction() as conn:
                set_domain_status(conn, object_id, StorageDomainStatus.MAINTENANCE)
            raise
        return _submitted(job)

    def deactivate(self, scope: Scope, object_id: str, action: Action) -> Action:
        with self.db.transaction() as conn:
            domain = self.get_in_scope(conn, scope, object_id)
            if domain.status == StorageDomainStatus.MAINTENANCE:
                return Action(status="complete")
            if domain.status in BUSY:
                raise Conflict(f"The storage domain '{domain.name}' is busy ({domain.status})")
            running = running_vms_using_domain(conn, object_id)
            if running:
                raise Conflict(
                    f"Cannot deactivate storage domain '{domain.name}': running VMs use disks "
                    f"on it: {', '.join(running)}"
                )
            set_domain_status(conn, object_id, StorageDomainStatus.MAINTENANCE, master=False)
            self._record(
                conn,
                EventCode.STORAGE_DOMAIN_DEACTIVATED,
                f"Storage domain {domain.name} was deactivated.",
                object_id,
                scope.parent,
            )
        return Action(status="complete")

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        """Detach: only a domain in maintenance leaves its data center."""
        with self.db.transaction() as conn:
            domain = self.get_in_scope(conn, scope, object_id)
            if domain.status != StorageDomainStatus.MAINTENANCE:
                raise Conflict(
                    f"Cannot detach storage domain '{domain.name}': it is {domain.status}; "
                    "deactivate it first"
                )
            version = repos.storage_domains.version_of(conn, object_id)
            detached = domain.model_copy(
                update={
                    "status": StorageDomainStatus.UNATTACHED,
                    "data_center": None,
                    "data_centers": None,
                    "master": False,
                }
            )
            repos.storage_domains.save(conn, detached, expected_version=version)
            refresh_data_center_status(conn, scope.parent)
            self._record(
                conn,
                EventCode.STORAGE_DOMAIN_DETACHED,
                f"Storage domain {domain.name} was detached from the data center.",
                object_id,
                scope.parent,
            )


class StorageDomainDiskService(DocumentService[m.Disk]):
    """``/storagedomains/{id}/disks``: the disks a domain holds."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.disks, parent_column="storage_domain_id")

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Disk]:
        with self.db.read() as conn:
            repos.storage_domains.get(conn, scope.parent)
        return super().list(scope, query)


def _validated_storage(storage: m.HostStorage | None) -> m.HostStorage:
    if storage is None or storage.type is None:
        raise InvalidInput("The storage domain needs 'storage' with a 'type'")
    if storage.type not in SUPPORTED_STORAGE:
        supported = ", ".join(t.value for t in SUPPORTED_STORAGE)
        raise InvalidInput(f"Storage type '{storage.type}' is not supported (only {supported})")
    path = (storage.path or "").rstrip("/") or ("/" if storage.path else "")
    if not path.startswith("/"):
        raise InvalidInput("The storage 'path' must be an absolute directory path")
    if storage.type == StorageType.NFS and not storage.address:
        raise InvalidInput("An NFS storage domain needs the server's 'address'")
    if storage.type == StorageType.POSIXFS and (storage.vfs_type or "none") != "none":
        raise InvalidInput(
            f"posixfs with vfs_type '{storage.vfs_type}' needs a mount, which is not available "
            "yet; use vfs_type none on a directory every host sees"
        )
    return m.HostStorage(
        type=storage.type,
        address=storage.address,
        path=path,
        vfs_type=storage.vfs_type,
        mount_options=storage.mount_options,
        nfs_version=storage.nfs_version,
    )


def _check_local(center: m.DataCenter, domain: m.StorageDomain) -> None:
    local_domain = domain.storage is not None and domain.storage.type == StorageType.LOCALFS
    if local_domain and not center.local:
        raise Conflict("A localfs storage domain can only be attached to a local data center")
    if center.local and not local_domain:
        raise Conflict("A local data center accepts only localfs storage domains")


def _host_option(conn: Connection, options: Options) -> str | None:
    """The ``host`` query option of remove (a name or an id), as a host id."""
    name = options.values.get("host")
    if not name:
        return None
    found = conn.execute(
        select(tables.hosts.c.id).where((tables.hosts.c.name == name) | (tables.hosts.c.id == name))
    ).scalar()
    if found is None:
        raise InvalidInput(f"No host named '{name}'")
    return str(found)
