"""Storage types: storage domains, disks and the attachments of disks to VMs."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.common import read_only, write_only
from virtfleet.common.apimodel.enums import (
    DiskBackup,
    DiskContentType,
    DiskFormat,
    DiskInterface,
    DiskStatus,
    DiskStorageType,
    ExternalStatus,
    NfsVersion,
    QcowVersion,
    StorageDomainStatus,
    StorageDomainType,
    StorageFormat,
    StorageType,
)

if TYPE_CHECKING:
    from virtfleet.common.apimodel.compute import Template, Vm
    from virtfleet.common.apimodel.infra import DataCenter, Host
    from virtfleet.common.apimodel.system import Permission


class HostStorage(ApiStruct):
    """Where a storage domain's storage lives (an NFS export, a local path, an iSCSI target).

    A struct so that codecs write it inline, as oVirt does; it still carries an ``id`` for the
    ``/hosts/{id}/storage`` listing.
    """

    xml_tag: ClassVar[str] = "host_storage"
    xml_collection: ClassVar[str] = "host_storages"

    id: str | None = None
    href: str | None = None
    type: StorageType | None = None
    address: str | None = None
    path: str | None = None
    port: int | None = None
    target: str | None = None
    portal: str | None = None
    username: str | None = None
    password: str | None = Field(None, json_schema_extra=write_only())
    vfs_type: str | None = None
    mount_options: str | None = None
    nfs_version: NfsVersion | None = None
    nfs_retrans: int | None = None
    nfs_timeo: int | None = None
    override_luns: bool | None = None
    host: Host | None = None


class StorageDomain(ApiObject):
    """A storage domain; sizes (``available``, ``used``, ``committed``) are in bytes."""

    xml_tag: ClassVar[str] = "storage_domain"
    xml_collection: ClassVar[str] = "storage_domains"

    type: StorageDomainType | None = None
    storage: HostStorage | None = None
    status: StorageDomainStatus | None = Field(None, json_schema_extra=read_only())
    external_status: ExternalStatus | None = None
    master: bool | None = None
    available: int | None = None
    used: int | None = None
    committed: int | None = None
    storage_format: StorageFormat | None = None
    data_center: DataCenter | None = None
    data_centers: list[DataCenter] | None = None
    host: Host | None = None
    wipe_after_delete: bool | None = None
    discard_after_delete: bool | None = None
    supports_discard: bool | None = None
    supports_discard_zeroes_data: bool | None = None
    backup: bool | None = None
    warning_low_space_indicator: int | None = None
    critical_space_action_blocker: int | None = None
    block_size: int | None = None
    import_: bool | None = Field(None, alias="import")
    permissions: list[Permission] | None = None


class Disk(ApiObject):
    """A virtual disk; sizes in bytes. ``interface``/``bootable`` are deprecated but still sent."""

    xml_tag: ClassVar[str] = "disk"
    xml_collection: ClassVar[str] = "disks"

    status: DiskStatus | None = Field(None, json_schema_extra=read_only())
    format: DiskFormat | None = None
    provisioned_size: int | None = None
    initial_size: int | None = None
    actual_size: int | None = Field(None, json_schema_extra=read_only())
    total_size: int | None = Field(None, json_schema_extra=read_only())
    sparse: bool | None = None
    alias: str | None = None
    image_id: str | None = None
    shareable: bool | None = None
    content_type: DiskContentType | None = None
    storage_type: DiskStorageType | None = None
    wipe_after_delete: bool | None = None
    propagate_errors: bool | None = None
    qcow_version: QcowVersion | None = None
    backup: DiskBackup | None = None
    read_only: bool | None = None
    active: bool | None = None
    bootable: bool | None = None
    interface: DiskInterface | None = None
    logical_name: str | None = None
    uses_scsi_reservation: bool | None = None
    storage_domain: StorageDomain | None = None
    storage_domains: list[StorageDomain] | None = None
    vm: Vm | None = None
    template: Template | None = None
    permissions: list[Permission] | None = None


class DiskAttachment(ApiObject):
    """How a disk is plugged into a VM or template; its id equals the disk's id."""

    xml_tag: ClassVar[str] = "disk_attachment"
    xml_collection: ClassVar[str] = "disk_attachments"

    disk: Disk | None = None
    vm: Vm | None = None
    template: Template | None = None
    interface: DiskInterface | None = None
    bootable: bool | None = None
    active: bool | None = None
    pass_discard: bool | None = None
    read_only: bool | None = None
    uses_scsi_reservation: bool | None = None
    logical_name: str | None = None
