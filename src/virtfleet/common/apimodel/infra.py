"""Infrastructure types: data centers, clusters, hosts, networks and their policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct, list_item_tag
from virtfleet.common.apimodel.common import (
    Certificate,
    Cpu,
    Display,
    ErrorHandling,
    FencingPolicy,
    Ksm,
    Mac,
    MemoryPolicy,
    MigrationOptions,
    OperatingSystem,
    PowerManagement,
    SerialNumber,
    Spm,
    Ssh,
    TransparentHugePages,
    Version,
    Vlan,
    read_only,
    write_only,
)
from virtfleet.common.apimodel.enums import (
    AutoNumaStatus,
    BiosType,
    BootProtocol,
    DataCenterStatus,
    ExternalStatus,
    FirewallType,
    HostProtocol,
    HostStatus,
    HostType,
    IpVersion,
    KdumpStatus,
    NetworkStatus,
    NetworkUsage,
    NicStatus,
    PolicyUnitType,
    QuotaModeType,
    StorageFormat,
    SwitchType,
    VnicPassThroughMode,
)

if TYPE_CHECKING:
    from virtfleet.common.apimodel.compute import Vm


class Range(ApiStruct):
    """An inclusive range of MAC addresses; ``from`` is a keyword, hence the alias."""

    xml_tag: ClassVar[str] = "range"

    from_: str | None = Field(None, alias="from")
    to: str | None = None


class MacPool(ApiObject):
    xml_tag: ClassVar[str] = "mac_pool"
    xml_collection: ClassVar[str] = "mac_pools"

    allow_duplicates: bool | None = None
    default_pool: bool | None = None
    ranges: list[Range] | None = None


class DataCenter(ApiObject):
    xml_tag: ClassVar[str] = "data_center"
    xml_collection: ClassVar[str] = "data_centers"

    local: bool | None = None
    status: DataCenterStatus | None = Field(None, json_schema_extra=read_only())
    storage_format: StorageFormat | None = None
    version: Version | None = None
    supported_versions: list[Version] | None = None
    quota_mode: QuotaModeType | None = None
    mac_pool: MacPool | None = None


class Property(ApiStruct):
    """A named setting of a scheduling policy or policy unit (``HighUtilization`` = ``80``)."""

    xml_tag: ClassVar[str] = "property"

    name: str | None = None
    value: str | None = None


class SchedulingPolicy(ApiObject):
    """One of the engine's placement policies; a cluster names the one it follows."""

    xml_tag: ClassVar[str] = "scheduling_policy"
    xml_collection: ClassVar[str] = "scheduling_policies"

    default_policy: bool | None = None
    locked: bool | None = None
    properties: list[Property] | None = None


class SchedulingPolicyUnit(ApiObject):
    """A filter, weight or load-balancing unit that policies are built from."""

    xml_tag: ClassVar[str] = "scheduling_policy_unit"
    xml_collection: ClassVar[str] = "scheduling_policy_units"

    type: PolicyUnitType | None = None
    internal: bool | None = None
    enabled: bool | None = None
    properties: list[Property] | None = None


class Filter(ApiObject):
    """A policy's use of a filter unit, at a position (-1 first, 1 last, 0 anywhere)."""

    xml_tag: ClassVar[str] = "filter"
    xml_collection: ClassVar[str] = "filters"

    position: int | None = None
    scheduling_policy_unit: SchedulingPolicyUnit | None = None


class Weight(ApiObject):
    """A policy's use of a weight unit with its factor."""

    xml_tag: ClassVar[str] = "weight"
    xml_collection: ClassVar[str] = "weights"

    factor: int | None = None
    scheduling_policy_unit: SchedulingPolicyUnit | None = None


class Balance(ApiObject):
    """A policy's load-balancing unit."""

    xml_tag: ClassVar[str] = "balance"
    xml_collection: ClassVar[str] = "balances"

    scheduling_policy_unit: SchedulingPolicyUnit | None = None


class Ip(ApiStruct):
    xml_tag: ClassVar[str] = "ip"

    address: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    version: IpVersion | None = None


class Network(ApiObject):
    """A logical network of a data center, optionally tagged and attached to clusters."""

    xml_tag: ClassVar[str] = "network"
    xml_collection: ClassVar[str] = "networks"

    data_center: DataCenter | None = None
    cluster: Cluster | None = None
    ip: Ip | None = None
    vlan: Vlan | None = None
    stp: bool | None = None
    mtu: int | None = None
    usages: Annotated[
        list[NetworkUsage] | None, Field(json_schema_extra=list_item_tag("usage"))
    ] = None
    required: bool | None = None
    display: bool | None = None
    status: NetworkStatus | None = None
    profile_required: bool | None = None
    port_isolation: bool | None = None
    vdsm_name: str | None = None


class Cluster(ApiObject):
    """A set of compatible hosts sharing CPU type, networks and scheduling/fencing rules."""

    xml_tag: ClassVar[str] = "cluster"
    xml_collection: ClassVar[str] = "clusters"

    data_center: DataCenter | None = None
    cpu: Cpu | None = None
    version: Version | None = None
    supported_versions: list[Version] | None = None
    ksm: Ksm | None = None
    fencing_policy: FencingPolicy | None = None
    migration: MigrationOptions | None = None
    memory_policy: MemoryPolicy | None = None
    scheduling_policy: SchedulingPolicy | None = None
    error_handling: ErrorHandling | None = None
    display: Display | None = None
    serial_number: SerialNumber | None = None
    ha_reservation: bool | None = None
    threads_as_cores: bool | None = None
    ballooning_enabled: bool | None = None
    virt_service: bool | None = None
    gluster_service: bool | None = None
    tunnel_migration: bool | None = None
    trusted_service: bool | None = None
    optional_reason: bool | None = None
    maintenance_reason_required: bool | None = None
    firewall_type: FirewallType | None = None
    switch_type: SwitchType | None = None
    bios_type: BiosType | None = None
    log_max_memory_used_threshold: int | None = None
    management_network: Network | None = None
    mac_pool: MacPool | None = None


class VmSummary(ApiStruct):
    xml_tag: ClassVar[str] = "vm_summary"

    active: int | None = None
    migrating: int | None = None
    total: int | None = None


class HardwareInformation(ApiStruct):
    xml_tag: ClassVar[str] = "hardware_information"

    manufacturer: str | None = None
    product_name: str | None = None
    serial_number: str | None = None
    uuid: str | None = None
    version: str | None = None
    family: str | None = None


class Host(ApiObject):
    """A hypervisor host; ``root_password`` is only ever received, on add or install."""

    xml_tag: ClassVar[str] = "host"
    xml_collection: ClassVar[str] = "hosts"

    address: str | None = None
    port: int | None = None
    status: HostStatus | None = Field(None, json_schema_extra=read_only())
    status_detail: str | None = Field(None, json_schema_extra=read_only())
    external_status: ExternalStatus | None = None
    type: HostType | None = None
    cluster: Cluster | None = None
    spm: Spm | None = None
    power_management: PowerManagement | None = None
    os: OperatingSystem | None = None
    cpu: Cpu | None = None
    memory: int | None = None
    max_scheduling_memory: int | None = None
    summary: VmSummary | None = None
    root_password: str | None = Field(None, json_schema_extra=write_only())
    ssh: Ssh | None = None
    certificate: Certificate | None = None
    version: Version | None = None
    libvirt_version: Version | None = None
    protocol: HostProtocol | None = None
    kdump_status: KdumpStatus | None = None
    ksm: Ksm | None = None
    transparent_hugepages: TransparentHugePages | None = None
    hardware_information: HardwareInformation | None = Field(None, json_schema_extra=read_only())
    display: Display | None = None
    auto_numa_status: AutoNumaStatus | None = None
    numa_supported: bool | None = None
    update_available: bool | None = None
    override_iptables: bool | None = None
    network_operation_in_progress: bool | None = None
    reinstallation_required: bool | None = None


class HostNic(ApiObject):
    """A network interface of a host, as reported by its agent."""

    xml_tag: ClassVar[str] = "host_nic"
    xml_collection: ClassVar[str] = "host_nics"

    host: Host | None = None
    network: Network | None = None
    mac: Mac | None = None
    ip: Ip | None = None
    ipv6: Ip | None = None
    boot_protocol: BootProtocol | None = None
    ipv6_boot_protocol: BootProtocol | None = None
    base_interface: str | None = None
    vlan: Vlan | None = None
    mtu: int | None = None
    speed: int | None = None
    status: NicStatus | None = None
    bridged: bool | None = None


class VnicPassThrough(ApiStruct):
    xml_tag: ClassVar[str] = "vnic_pass_through"

    mode: VnicPassThroughMode | None = None


class NetworkFilter(ApiObject):
    """A libvirt network filter (``vdsm-no-mac-spoofing``...) a vNIC profile applies."""

    xml_tag: ClassVar[str] = "network_filter"
    xml_collection: ClassVar[str] = "network_filters"

    version: Version | None = None


class VnicProfile(ApiObject):
    xml_tag: ClassVar[str] = "vnic_profile"
    xml_collection: ClassVar[str] = "vnic_profiles"

    network: Network | None = None
    pass_through: VnicPassThrough | None = None
    port_mirroring: bool | None = None
    migratable: bool | None = None
    network_filter: NetworkFilter | None = None


class CpuProfile(ApiObject):
    xml_tag: ClassVar[str] = "cpu_profile"
    xml_collection: ClassVar[str] = "cpu_profiles"

    cluster: Cluster | None = None


class AffinityRule(ApiStruct):
    xml_tag: ClassVar[str] = "affinity_rule"

    enabled: bool | None = None
    enforcing: bool | None = None
    positive: bool | None = None


class AffinityGroup(ApiObject):
    """VMs that should (or must) run together or apart, and the hosts they prefer."""

    xml_tag: ClassVar[str] = "affinity_group"
    xml_collection: ClassVar[str] = "affinity_groups"

    cluster: Cluster | None = None
    positive: bool | None = None
    enforcing: bool | None = None
    priority: float | None = None
    broken: bool | None = None
    vms_rule: AffinityRule | None = None
    hosts_rule: AffinityRule | None = None
    vms: list[Vm] | None = None
    hosts: list[Host] | None = None
