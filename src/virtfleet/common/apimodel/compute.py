"""Compute types: VMs, templates and their devices (NICs, consoles, NUMA nodes)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.common import (
    Bios,
    Console,
    Cpu,
    Display,
    HighAvailability,
    Initialization,
    Mac,
    MemoryPolicy,
    MigrationOptions,
    OperatingSystem,
    SerialNumber,
    Statistic,
    Version,
    read_only,
)
from virtfleet.common.apimodel.enums import (
    Architecture,
    GraphicsType,
    NicInterface,
    NumaTuneMode,
    ReportedDeviceType,
    TemplateStatus,
    UsbType,
    VmAffinity,
    VmStatus,
    VmType,
)

if TYPE_CHECKING:
    from virtfleet.common.apimodel.infra import Cluster, CpuProfile, Host, Ip, Network, VnicProfile
    from virtfleet.common.apimodel.storage import DiskAttachment, StorageDomain
    from virtfleet.common.apimodel.system import Permission, Tag, User


class TimeZone(ApiStruct):
    xml_tag: ClassVar[str] = "time_zone"

    name: str | None = None
    utc_offset: str | None = None


class VmPlacementPolicy(ApiStruct):
    """Where a VM may run: ``hosts`` pins it, ``affinity`` says whether it may migrate."""

    xml_tag: ClassVar[str] = "vm_placement_policy"

    affinity: VmAffinity | None = None
    hosts: list[Host] | None = None


class Usb(ApiStruct):
    xml_tag: ClassVar[str] = "usb"

    enabled: bool | None = None
    type: UsbType | None = None


class Io(ApiStruct):
    xml_tag: ClassVar[str] = "io"

    threads: int | None = None


class VirtioScsi(ApiStruct):
    xml_tag: ClassVar[str] = "virtio_scsi"

    enabled: bool | None = None


class StorageDomainLease(ApiStruct):
    """The storage domain holding a VM's lease, which keeps an HA VM from running twice."""

    xml_tag: ClassVar[str] = "storage_domain_lease"

    storage_domain: StorageDomain | None = None


class Icon(ApiObject):
    xml_tag: ClassVar[str] = "icon"
    xml_collection: ClassVar[str] = "icons"

    media_type: str | None = None
    data: str | None = None


class Kernel(ApiStruct):
    xml_tag: ClassVar[str] = "kernel"

    version: Version | None = None


class GuestOperatingSystem(ApiStruct):
    """The OS the guest agent reports from inside a running VM."""

    xml_tag: ClassVar[str] = "guest_operating_system"

    architecture: str | None = None
    codename: str | None = None
    distribution: str | None = None
    family: str | None = None
    kernel: Kernel | None = None
    version: Version | None = None


class ReportedDevice(ApiObject):
    """A network interface the guest agent reports from inside a VM, with its addresses."""

    xml_tag: ClassVar[str] = "reported_device"
    xml_collection: ClassVar[str] = "reported_devices"

    type: ReportedDeviceType | None = None
    mac: Mac | None = None
    ips: list[Ip] | None = None
    vm: Vm | None = None


class Session(ApiObject):
    """A user logged in to a VM's guest, as its guest agent lists them."""

    xml_tag: ClassVar[str] = "session"
    xml_collection: ClassVar[str] = "sessions"

    protocol: str | None = None
    ip: Ip | None = None
    console_user: bool | None = None
    user: User | None = None
    vm: Vm | None = None


class VmBase(ApiObject):
    """Fields that VMs and templates share, as in oVirt's own ``VmBase``."""

    xml_tag: ClassVar[str] = "vm_base"

    type: VmType | None = None
    cluster: Cluster | None = None
    memory: int | None = None
    memory_policy: MemoryPolicy | None = None
    cpu: Cpu | None = None
    cpu_shares: int | None = None
    cpu_profile: CpuProfile | None = None
    os: OperatingSystem | None = None
    bios: Bios | None = None
    stateless: bool | None = None
    start_paused: bool | None = None
    delete_protected: bool | None = None
    high_availability: HighAvailability | None = None
    display: Display | None = None
    console: Console | None = None
    origin: str | None = Field(None, json_schema_extra=read_only())
    creation_time: datetime | None = Field(None, json_schema_extra=read_only())
    time_zone: TimeZone | None = None
    placement_policy: VmPlacementPolicy | None = None
    migration: MigrationOptions | None = None
    migration_downtime: int | None = None
    tunnel_migration: bool | None = None
    custom_emulated_machine: str | None = None
    custom_cpu_model: str | None = None
    custom_compatibility_version: Version | None = None
    initialization: Initialization | None = None
    storage_domain: StorageDomain | None = None
    lease: StorageDomainLease | None = None
    large_icon: Icon | None = None
    small_icon: Icon | None = None
    soundcard_enabled: bool | None = None
    usb: Usb | None = None
    io: Io | None = None
    virtio_scsi: VirtioScsi | None = None
    serial_number: SerialNumber | None = None
    multi_queues_enabled: bool | None = None
    tpm_enabled: bool | None = None


class Vm(VmBase):
    """A virtual machine; sub-collections appear inline only when the client asks to follow."""

    xml_tag: ClassVar[str] = "vm"
    xml_collection: ClassVar[str] = "vms"

    status: VmStatus | None = Field(None, json_schema_extra=read_only())
    status_detail: str | None = Field(None, json_schema_extra=read_only())
    stop_reason: str | None = Field(None, json_schema_extra=read_only())
    start_time: datetime | None = Field(None, json_schema_extra=read_only())
    stop_time: datetime | None = Field(None, json_schema_extra=read_only())
    run_once: bool | None = None
    fqdn: str | None = Field(None, json_schema_extra=read_only())
    host: Host | None = None
    template: Template | None = None
    original_template: Template | None = None
    use_latest_template_version: bool | None = None
    next_run_configuration_exists: bool | None = Field(None, json_schema_extra=read_only())
    numa_tune_mode: NumaTuneMode | None = None
    guest_time_zone: TimeZone | None = Field(None, json_schema_extra=read_only())
    guest_operating_system: GuestOperatingSystem | None = Field(None, json_schema_extra=read_only())
    has_illegal_images: bool | None = None
    disk_attachments: list[DiskAttachment] | None = None
    nics: list[Nic] | None = None
    graphics_consoles: list[GraphicsConsole] | None = None
    statistics: list[Statistic] | None = None
    permissions: list[Permission] | None = None
    tags: list[Tag] | None = None


class TemplateVersion(ApiStruct):
    xml_tag: ClassVar[str] = "template_version"

    version_number: int | None = None
    version_name: str | None = None
    base_template: Template | None = None


class Template(VmBase):
    """A VM blueprint; on add, ``vm`` names the VM it is made from."""

    xml_tag: ClassVar[str] = "template"
    xml_collection: ClassVar[str] = "templates"

    status: TemplateStatus | None = Field(None, json_schema_extra=read_only())
    vm: Vm | None = None
    version: TemplateVersion | None = None
    disk_attachments: list[DiskAttachment] | None = None
    nics: list[Nic] | None = None
    permissions: list[Permission] | None = None
    tags: list[Tag] | None = None


class Nic(ApiObject):
    """A virtual network card of a VM or template, connected through a vNIC profile."""

    xml_tag: ClassVar[str] = "nic"
    xml_collection: ClassVar[str] = "nics"

    vm: Vm | None = None
    template: Template | None = None
    interface: NicInterface | None = None
    mac: Mac | None = None
    linked: bool | None = None
    plugged: bool | None = None
    synced: bool | None = None
    vnic_profile: VnicProfile | None = None
    network: Network | None = None


class GraphicsConsole(ApiObject):
    """A VM's VNC or SPICE console; its id is the hex-encoded protocol name."""

    xml_tag: ClassVar[str] = "graphics_console"
    xml_collection: ClassVar[str] = "graphics_consoles"

    protocol: GraphicsType | None = None
    address: str | None = None
    port: int | None = None
    tls_port: int | None = None
    vm: Vm | None = None
    template: Template | None = None


class Ticket(ApiStruct):
    """A one-time console password and its lifetime in seconds."""

    xml_tag: ClassVar[str] = "ticket"

    value: str | None = None
    expiry: int | None = None


class NumaNode(ApiObject):
    """A NUMA node of a host (``memory`` in bytes)."""

    xml_tag: ClassVar[str] = "host_numa_node"
    xml_collection: ClassVar[str] = "host_numa_nodes"

    index: int | None = None
    memory: int | None = None
    cpu: Cpu | None = None
    node_distance: str | None = None
    host: Host | None = None


class VirtualNumaNode(NumaNode):
    """A virtual NUMA node of a VM, as listed under ``/vms/{id}/numanodes``."""

    xml_tag: ClassVar[str] = "vm_numa_node"
    xml_collection: ClassVar[str] = "vm_numa_nodes"

    vm: Vm | None = None
    numa_tune_mode: NumaTuneMode | None = None


class OperatingSystemInfo(ApiObject):
    """A guest OS type the engine knows (``rhel_9x64``...), listed under ``operatingsystems``."""

    xml_tag: ClassVar[str] = "operating_system"
    xml_collection: ClassVar[str] = "operation_systems"

    architecture: Architecture | None = None
    large_icon: Icon | None = None
    small_icon: Icon | None = None
