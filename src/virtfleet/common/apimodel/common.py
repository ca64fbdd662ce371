"""Structured values shared by many oVirt types (versions, CPUs, policies, the API root)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct, list_item_tag
from virtfleet.common.apimodel.enums import (
    Architecture,
    BiosType,
    BootDevice,
    BootProtocol,
    ConfigurationType,
    CpuMode,
    DisplayType,
    InheritableBoolean,
    MigrateOnError,
    MigrationBandwidthAssignmentMethod,
    ParallelMigrationsPolicy,
    PowerManagementStatus,
    SerialNumberPolicy,
    SpmStatus,
    SshAuthenticationMethod,
    StatisticKind,
    StatisticUnit,
    ValueType,
    VideoType,
)

if TYPE_CHECKING:
    from virtfleet.common.apimodel.compute import Nic, Template, Vm
    from virtfleet.common.apimodel.infra import Host, HostNic, Ip
    from virtfleet.common.apimodel.storage import Disk
    from virtfleet.common.apimodel.system import Step, Tag, User


def write_only() -> dict[str, Any]:
    """Field metadata for secrets that clients send but the engine never writes back."""
    return {"write_only": True}


def read_only() -> dict[str, Any]:
    """Field metadata for what the engine owns (a status, a measured size): what a client sends
    there is ignored, as oVirt ignores read-only elements."""
    return {"read_only": True}


def read_only_fields(cls: type[ApiStruct]) -> frozenset[str]:
    """The names of ``cls``'s fields marked ``read_only``."""
    return frozenset(
        name
        for name, info in cls.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("read_only")
    )


class Version(ApiStruct):
    """A four-part version, as in product info, cluster levels and host packages."""

    xml_tag: ClassVar[str] = "version"

    major: int | None = None
    minor: int | None = None
    build: int | None = None
    revision: int | None = None
    full_version: str | None = None


class CpuTopology(ApiStruct):
    xml_tag: ClassVar[str] = "cpu_topology"

    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None


class Cpu(ApiStruct):
    """A CPU: the host's real one, a cluster's CPU type or a VM's virtual CPU."""

    xml_tag: ClassVar[str] = "cpu"

    name: str | None = None
    type: str | None = None
    speed: float | None = None
    level: int | None = None
    mode: CpuMode | None = None
    architecture: Architecture | None = None
    topology: CpuTopology | None = None


def vcpu_count(cpu: Cpu | None) -> int:
    """Sockets x cores x threads, each 1 when not given (oVirt's default topology)."""
    topology = cpu.topology if cpu is not None else None
    if topology is None:
        return 1
    return (topology.sockets or 1) * (topology.cores or 1) * (topology.threads or 1)


class Mac(ApiStruct):
    xml_tag: ClassVar[str] = "mac"

    address: str | None = None


class Value(ApiStruct):
    """One sample of a statistic: numbers in ``datum``, text in ``detail``."""

    xml_tag: ClassVar[str] = "value"

    datum: float | None = None
    detail: str | None = None


class Statistic(ApiObject):
    """A named measurement of a host, VM, disk, NIC or step."""

    xml_tag: ClassVar[str] = "statistic"
    xml_collection: ClassVar[str] = "statistics"

    values: list[Value] | None = None
    kind: StatisticKind | None = None
    type: ValueType | None = None
    unit: StatisticUnit | None = None
    host: Host | None = None
    vm: Vm | None = None
    disk: Disk | None = None
    nic: Nic | None = None
    host_nic: HostNic | None = None
    step: Step | None = None


class Fault(ApiStruct):
    """The body of every error reply, alone or inside a failed ``<action>``."""

    xml_tag: ClassVar[str] = "fault"

    reason: str | None = None
    detail: str | None = None


class ProductInfo(ApiStruct):
    xml_tag: ClassVar[str] = "product_info"

    name: str | None = None
    vendor: str | None = None
    version: Version | None = None
    instance_id: str | None = None


class ApiSummaryItem(ApiStruct):
    xml_tag: ClassVar[str] = "api_summary_item"

    active: int | None = None
    total: int | None = None


class ApiSummary(ApiStruct):
    """Object counts shown at the API root."""

    xml_tag: ClassVar[str] = "api_summary"

    vms: ApiSummaryItem | None = None
    hosts: ApiSummaryItem | None = None
    users: ApiSummaryItem | None = None
    storage_domains: ApiSummaryItem | None = None


class SpecialObjects(ApiStruct):
    xml_tag: ClassVar[str] = "special_objects"

    blank_template: Template | None = None
    root_tag: Tag | None = None


class Api(ApiStruct):
    """The API root document (``GET /ovirt-engine/api``)."""

    xml_tag: ClassVar[str] = "api"

    product_info: ProductInfo | None = None
    summary: ApiSummary | None = None
    special_objects: SpecialObjects | None = None
    time: datetime | None = None
    authenticated_user: User | None = None
    effective_user: User | None = None


class Ksm(ApiStruct):
    xml_tag: ClassVar[str] = "ksm"

    enabled: bool | None = None
    merge_across_nodes: bool | None = None


class SkipIfSdActive(ApiStruct):
    xml_tag: ClassVar[str] = "skip_if_sd_active"

    enabled: bool | None = None


class SkipIfConnectivityBroken(ApiStruct):
    xml_tag: ClassVar[str] = "skip_if_connectivity_broken"

    enabled: bool | None = None
    threshold: int | None = None


class FencingPolicy(ApiStruct):
    """When a cluster may fence a non-responsive host."""

    xml_tag: ClassVar[str] = "fencing_policy"

    enabled: bool | None = None
    skip_if_sd_active: SkipIfSdActive | None = None
    skip_if_connectivity_broken: SkipIfConnectivityBroken | None = None
    skip_if_gluster_bricks_up: bool | None = None
    skip_if_gluster_quorum_not_met: bool | None = None


class MigrationBandwidth(ApiStruct):
    xml_tag: ClassVar[str] = "migration_bandwidth"

    assignment_method: MigrationBandwidthAssignmentMethod | None = None
    custom_value: int | None = None


class MigrationPolicy(ApiObject):
    """A named migration policy (``Minimal downtime``, ``Post-copy``...), referenced by id."""

    xml_tag: ClassVar[str] = "migration_policy"


class MigrationOptions(ApiStruct):
    xml_tag: ClassVar[str] = "migration"

    auto_converge: InheritableBoolean | None = None
    compressed: InheritableBoolean | None = None
    encrypted: InheritableBoolean | None = None
    parallel_migrations_policy: ParallelMigrationsPolicy | None = None
    custom_parallel_migrations: int | None = None
    bandwidth: MigrationBandwidth | None = None
    policy: MigrationPolicy | None = None


class MemoryOverCommit(ApiStruct):
    xml_tag: ClassVar[str] = "memory_over_commit"

    percent: int | None = None


class TransparentHugePages(ApiStruct):
    xml_tag: ClassVar[str] = "transparent_hugepages"

    enabled: bool | None = None


class MemoryPolicy(ApiStruct):
    """Memory guarantees of a VM, or the overcommit rules of a cluster (sizes in bytes)."""

    xml_tag: ClassVar[str] = "memory_policy"

    guaranteed: int | None = None
    max: int | None = None
    ballooning: bool | None = None
    over_commit: MemoryOverCommit | None = None
    transparent_hugepages: TransparentHugePages | None = None


class Boot(ApiStruct):
    xml_tag: ClassVar[str] = "boot"

    devices: Annotated[
        list[BootDevice] | None, Field(json_schema_extra=list_item_tag("device"))
    ] = None


class OperatingSystem(ApiStruct):
    """The OS of a VM (type, boot order, direct kernel boot) or of a host."""

    xml_tag: ClassVar[str] = "os"

    type: str | None = None
    boot: Boot | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    reported_kernel_cmdline: str | None = None
    custom_kernel_cmdline: str | None = None
    description: str | None = None
    version: Version | None = None


class BootMenu(ApiStruct):
    xml_tag: ClassVar[str] = "boot_menu"

    enabled: bool | None = None


class Bios(ApiStruct):
    xml_tag: ClassVar[str] = "bios"

    type: BiosType | None = None
    boot_menu: BootMenu | None = None


class Certificate(ApiStruct):
    xml_tag: ClassVar[str] = "certificate"

    organization: str | None = None
    subject: str | None = None
    content: str | None = None


class Display(ApiStruct):
    """Remote display settings of a VM; ``address``/``port`` are filled while it runs."""

    xml_tag: ClassVar[str] = "display"

    type: DisplayType | None = None
    video_type: VideoType | None = None
    address: str | None = None
    port: int | None = None
    secure_port: int | None = None
    monitors: int | None = None
    single_qxl_pci: bool | None = None
    allow_override: bool | None = None
    smartcard_enabled: bool | None = None
    keyboard_layout: str | None = None
    proxy: str | None = None
    file_transfer_enabled: bool | None = None
    copy_paste_enabled: bool | None = None
    disconnect_action: str | None = None
    disconnect_action_delay: int | None = None
    certificate: Certificate | None = None


class HighAvailability(ApiStruct):
    xml_tag: ClassVar[str] = "high_availability"

    enabled: bool | None = None
    priority: int | None = None


class Option(ApiStruct):
    """A name/value option, as passed to fence agents."""

    xml_tag: ClassVar[str] = "option"

    name: str | None = None
    value: str | None = None
    type: str | None = None


class PowerManagement(ApiStruct):
    """Out-of-band power control of a host (IPMI and friends), used for fencing."""

    xml_tag: ClassVar[str] = "power_management"

    enabled: bool | None = None
    type: str | None = None
    address: str | None = None
    username: str | None = None
    password: str | None = Field(None, json_schema_extra=write_only())
    port: int | None = None
    options: list[Option] | None = None
    kdump_detection: bool | None = None
    automatic_pm_enabled: bool | None = None
    status: PowerManagementStatus | None = None


class Spm(ApiStruct):
    xml_tag: ClassVar[str] = "spm"

    priority: int | None = None
    status: SpmStatus | None = None


class Ssh(ApiStruct):
    """How the engine reaches a host over SSH (for installation and soft fencing)."""

    xml_tag: ClassVar[str] = "ssh"

    port: int | None = None
    fingerprint: str | None = None
    public_key: str | None = None
    user: User | None = None
    authentication_method: SshAuthenticationMethod | None = None


class ErrorHandling(ApiStruct):
    xml_tag: ClassVar[str] = "error_handling"

    on_error: MigrateOnError | None = None


class Vlan(ApiStruct):
    """A VLAN tag; oVirt writes it as the ``id`` attribute (``<vlan id="100"/>``)."""

    xml_tag: ClassVar[str] = "vlan"

    id: int | None = None


class Console(ApiStruct):
    """A VM's serial console; ``enabled`` lets clients open it (``virtfleet vm console``)."""

    xml_tag: ClassVar[str] = "console"

    enabled: bool | None = None


class SerialNumber(ApiStruct):
    xml_tag: ClassVar[str] = "serial_number"

    policy: SerialNumberPolicy | None = None
    value: str | None = None


class Configuration(ApiStruct):
    """A VM configuration document (OVF) passed when importing or registering a VM."""

    xml_tag: ClassVar[str] = "configuration"

    type: ConfigurationType | None = None
    data: str | None = None


class NicConfiguration(ApiStruct):
    """How the guest configures one of its network interfaces (cloud-init's network-config)."""

    xml_tag: ClassVar[str] = "nic_configuration"

    name: str | None = None
    on_boot: bool | None = None
    boot_protocol: BootProtocol | None = None
    ip: Ip | None = None
    ipv6: Ip | None = None
    ipv6_boot_protocol: BootProtocol | None = None


class Initialization(ApiStruct):
    """Guest customisation (cloud-init / sysprep) applied on first boot."""

    xml_tag: ClassVar[str] = "initialization"

    configuration: Configuration | None = None
    host_name: str | None = None
    domain: str | None = None
    timezone: str | None = None
    user_name: str | None = None
    root_password: str | None = Field(None, json_schema_extra=write_only())
    authorized_ssh_keys: str | None = None
    regenerate_ssh_keys: bool | None = None
    regenerate_ids: bool | None = None
    dns_servers: str | None = None
    dns_search: str | None = None
    custom_script: str | None = None
    input_locale: str | None = None
    ui_language: str | None = None
    system_locale: str | None = None
    user_locale: str | None = None
    windows_license_key: str | None = None
    active_directory_ou: str | None = None
    org_name: str | None = None
    nic_configurations: Annotated[
        list[NicConfiguration] | None, Field(json_schema_extra=list_item_tag("nic_configuration"))
    ] = None
    cloud_init_network_protocol: str | None = None
