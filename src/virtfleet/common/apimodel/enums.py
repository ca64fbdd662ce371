"""Enumerations of the oVirt v4 API, with oVirt's own lower-case values."""

from __future__ import annotations

from enum import StrEnum


class VmStatus(StrEnum):
    """Lifecycle state of a virtual machine."""

    UNASSIGNED = "unassigned"
    DOWN = "down"
    UP = "up"
    POWERING_UP = "powering_up"
    PAUSED = "paused"
    MIGRATING = "migrating"
    UNKNOWN = "unknown"
    NOT_RESPONDING = "not_responding"
    WAIT_FOR_LAUNCH = "wait_for_launch"
    REBOOT_IN_PROGRESS = "reboot_in_progress"
    SAVING_STATE = "saving_state"
    RESTORING_STATE = "restoring_state"
    SUSPENDED = "suspended"
    IMAGE_LOCKED = "image_locked"
    POWERING_DOWN = "powering_down"


class HostStatus(StrEnum):
    """State of a host (``install`` is from the compatibility list; oVirt 4 never sends it)."""

    DOWN = "down"
    ERROR = "error"
    INSTALL = "install"
    INITIALIZING = "initializing"
    INSTALLING = "installing"
    INSTALL_FAILED = "install_failed"
    MAINTENANCE = "maintenance"
    NON_OPERATIONAL = "non_operational"
    NON_RESPONSIVE = "non_responsive"
    PENDING_APPROVAL = "pending_approval"
    PREPARING_FOR_MAINTENANCE = "preparing_for_maintenance"
    CONNECTING = "connecting"
    REBOOT = "reboot"
    UNASSIGNED = "unassigned"
    UP = "up"
    INSTALLING_OS = "installing_os"
    KDUMPING = "kdumping"


class HostType(StrEnum):
    """Kind of operating system a host runs."""

    RHEL = "rhel"
    RHEV_H = "rhev_h"
    OVIRT_NODE = "ovirt_node"


class DataCenterStatus(StrEnum):
    """State of a data center, driven by its storage pool."""

    UNINITIALIZED = "uninitialized"
    UP = "up"
    MAINTENANCE = "maintenance"
    NOT_OPERATIONAL = "not_operational"
    PROBLEMATIC = "problematic"
    CONTEND = "contend"


class StorageDomainStatus(StrEnum):
    """State of a storage domain, as seen from a data center."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    LOCKED = "locked"
    MIXED = "mixed"
    UNATTACHED = "unattached"
    MAINTENANCE = "maintenance"
    PREPARING_FOR_MAINTENANCE = "preparing_for_maintenance"
    DETACHING = "detaching"
    ACTIVATING = "activating"
    UNKNOWN = "unknown"


class StorageDomainType(StrEnum):
    """What a storage domain holds."""

    DATA = "data"
    ISO = "iso"
    EXPORT = "export"
    IMAGE = "image"
    VOLUME = "volume"
    MANAGED_BLOCK_STORAGE = "managed_block_storage"


class StorageType(StrEnum):
    """How a storage domain or disk reaches its storage."""

    ISCSI = "iscsi"
    FCP = "fcp"
    NFS = "nfs"
    LOCALFS = "localfs"
    POSIXFS = "posixfs"
    GLUSTERFS = "glusterfs"
    GLANCE = "glance"
    CINDER = "cinder"
    MANAGED_BLOCK_STORAGE = "managed_block_storage"


class StorageFormat(StrEnum):
    """On-disk metadata format of a storage domain."""

    V1 = "v1"
    V2 = "v2"
    V3 = "v3"
    V4 = "v4"
    V5 = "v5"


class DiskStatus(StrEnum):
    """State of a disk image."""

    ILLEGAL = "illegal"
    LOCKED = "locked"
    OK = "ok"


class DiskFormat(StrEnum):
    """Image format: ``cow`` is qcow2, ``raw`` is raw."""

    COW = "cow"
    RAW = "raw"


class DiskInterface(StrEnum):
    """Bus a disk is attached through."""

    IDE = "ide"
    VIRTIO_SCSI = "virtio_scsi"
    VIRTIO = "virtio"
    SPAPR_VSCSI = "spapr_vscsi"
    SATA = "sata"


class DiskContentType(StrEnum):
    """What a disk's content is used for."""

    DATA = "data"
    OVF_STORE = "ovf_store"
    MEMORY_DUMP_VOLUME = "memory_dump_volume"
    MEMORY_METADATA_VOLUME = "memory_metadata_volume"
    ISO = "iso"
    HOSTED_ENGINE = "hosted_engine"
    HOSTED_ENGINE_SANLOCK = "hosted_engine_sanlock"
    HOSTED_ENGINE_METADATA = "hosted_engine_metadata"
    HOSTED_ENGINE_CONFIGURATION = "hosted_engine_configuration"
    BACKUP_SCRATCH = "backup_scratch"


class DiskStorageType(StrEnum):
    """Backing kind of a disk."""

    IMAGE = "image"
    LUN = "lun"
    CINDER = "cinder"
    MANAGED_BLOCK_STORAGE = "managed_block_storage"


class NicInterface(StrEnum):
    """Emulated model of a virtual network card."""

    E1000 = "e1000"
    E1000E = "e1000e"
    VIRTIO = "virtio"
    RTL8139 = "rtl8139"
    RTL8139_VIRTIO = "rtl8139_virtio"
    SPAPR_VLAN = "spapr_vlan"
    PCI_PASSTHROUGH = "pci_passthrough"


class NicStatus(StrEnum):
    """Link state of a host network card."""

    DOWN = "down"
    UP = "up"


class TemplateStatus(StrEnum):
    """State of a template."""

    ILLEGAL = "illegal"
    LOCKED = "locked"
    OK = "ok"


class VmType(StrEnum):
    """Optimisation profile of a VM."""

    DESKTOP = "desktop"
    SERVER = "server"
    HIGH_PERFORMANCE = "high_performance"


class BootDevice(StrEnum):
    """A device a guest can boot from."""

    CDROM = "cdrom"
    HD = "hd"
    NETWORK = "network"


class BiosType(StrEnum):
    """Chipset and firmware of a VM."""

    CLUSTER_DEFAULT = "cluster_default"
    I440FX_SEA_BIOS = "i440fx_sea_bios"
    Q35_SEA_BIOS = "q35_sea_bios"
    Q35_OVMF = "q35_ovmf"
    Q35_SECURE_BOOT = "q35_secure_boot"


class DisplayType(StrEnum):
    """Remote display protocol of a VM."""

    VNC = "vnc"
    SPICE = "spice"


class GraphicsType(StrEnum):
    """Protocol of a graphics console."""

    SPICE = "spice"
    VNC = "vnc"


class JobStatus(StrEnum):
    """State of a job."""

    ABORTED = "aborted"
    FAILED = "failed"
    FINISHED = "finished"
    STARTED = "started"
    UNKNOWN = "unknown"


class StepEnum(StrEnum):
    """Phase a step of a job stands for."""

    VALIDATING = "validating"
    EXECUTING = "executing"
    FINALIZING = "finalizing"
    REBALANCING_VOLUME = "rebalancing_volume"
    REMOVING_BRICKS = "removing_bricks"
    UNKNOWN = "unknown"


class StepStatus(StrEnum):
    """State of a step; the same values as jobs."""

    ABORTED = "aborted"
    FAILED = "failed"
    FINISHED = "finished"
    STARTED = "started"
    UNKNOWN = "unknown"


class LogSeverity(StrEnum):
    """Severity of an audit-log event."""

    NORMAL = "normal"
    WARNING = "warning"
    ERROR = "error"
    ALERT = "alert"


class NetworkUsage(StrEnum):
    """Role a logical network plays in a cluster."""

    DEFAULT_ROUTE = "default_route"
    DISPLAY = "display"
    GLUSTER = "gluster"
    MANAGEMENT = "management"
    MIGRATION = "migration"
    VM = "vm"


class NetworkStatus(StrEnum):
    """State of a logical network in a cluster."""

    OPERATIONAL = "operational"
    NON_OPERATIONAL = "non_operational"


class SpmStatus(StrEnum):
    """Storage pool manager role of a host."""

    NONE = "none"
    CONTENDING = "contending"
    SPM = "spm"


class Architecture(StrEnum):
    """CPU architecture."""

    UNDEFINED = "undefined"
    X86_64 = "x86_64"
    PPC64 = "ppc64"
    S390X = "s390x"
    AARCH64 = "aarch64"
    LOONGARCH64 = "loongarch64"


class QuotaModeType(StrEnum):
    """Whether quotas are enforced in a data center."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    AUDIT = "audit"


class MigrationBandwidthAssignmentMethod(StrEnum):
    """How the migration bandwidth limit is chosen."""

    AUTO = "auto"
    CUSTOM = "custom"
    HYPERVISOR_DEFAULT = "hypervisor_default"


class StatisticKind(StrEnum):
    """Whether a statistic is a counter or a gauge."""

    COUNTER = "counter"
    GAUGE = "gauge"


class StatisticUnit(StrEnum):
    """Unit of a statistic's values."""

    BITS_PER_SECOND = "bits_per_second"
    BYTES = "bytes"
    BYTES_PER_SECOND = "bytes_per_second"
    COUNT_PER_SECOND = "count_per_second"
    NONE = "none"
    PERCENT = "percent"
    SECONDS = "seconds"


class ValueType(StrEnum):
    """Type of a statistic's values."""

    DECIMAL = "decimal"
    INTEGER = "integer"
    STRING = "string"


class FenceType(StrEnum):
    """Power-management operation requested by a fence action."""

    MANUAL = "manual"
    RESTART = "restart"
    START = "start"
    STOP = "stop"
    STATUS = "status"


class PowerManagementStatus(StrEnum):
    """Power state reported by a fence agent."""

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


class ConfigurationType(StrEnum):
    """Format of a VM configuration document."""

    OVF = "ovf"
    OVA = "ova"


class VmAffinity(StrEnum):
    """Whether a VM may migrate away from its host."""

    MIGRATABLE = "migratable"
    USER_MIGRATABLE = "user_migratable"
    PINNED = "pinned"


class PolicyUnitType(StrEnum):
    """What a scheduling policy unit does."""

    FILTER = "filter"
    WEIGHT = "weight"
    LOAD_BALANCING = "load_balancing"


class InheritableBoolean(StrEnum):
    """A boolean that may defer to the cluster's setting."""

    TRUE = "true"
    FALSE = "false"
    INHERIT = "inherit"


class SerialNumberPolicy(StrEnum):
    """Where a VM's SMBIOS serial number comes from."""

    HOST = "host"
    VM = "vm"
    CUSTOM = "custom"
    NONE = "none"


class ExternalStatus(StrEnum):
    """Health reported by an external system."""

    ERROR = "error"
    FAILURE = "failure"
    INFO = "info"
    OK = "ok"
    WARNING = "warning"


class KdumpStatus(StrEnum):
    """Whether kdump is configured on a host."""

    UNKNOWN = "unknown"
    DISABLED = "disabled"
    ENABLED = "enabled"


class HostProtocol(StrEnum):
    """Protocol the engine speaks with a host."""

    XML = "xml"
    STOMP = "stomp"


class SshAuthenticationMethod(StrEnum):
    """How the engine logs in to a host over SSH."""

    PASSWORD = "password"
    PUBLICKEY = "publickey"


class MigrateOnError(StrEnum):
    """What happens to VMs when their host fails."""

    MIGRATE = "migrate"
    DO_NOT_MIGRATE = "do_not_migrate"
    MIGRATE_HIGHLY_AVAILABLE = "migrate_highly_available"


class FirewallType(StrEnum):
    """Firewall manager configured on hosts of a cluster."""

    IPTABLES = "iptables"
    FIREWALLD = "firewalld"


class SwitchType(StrEnum):
    """Virtual switch implementation of a cluster."""

    LEGACY = "legacy"
    OVS = "ovs"


class VnicPassThroughMode(StrEnum):
    """Whether a vNIC profile uses SR-IOV pass-through."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class BootProtocol(StrEnum):
    """How a host network interface gets its address."""

    AUTOCONF = "autoconf"
    DHCP = "dhcp"
    POLY_DHCP_AUTOCONF = "poly_dhcp_autoconf"
    STATIC = "static"
    NONE = "none"


class IpVersion(StrEnum):
    """IP protocol version."""

    V4 = "v4"
    V6 = "v6"


class NfsVersion(StrEnum):
    """NFS protocol version used to mount a domain."""

    AUTO = "auto"
    V3 = "v3"
    V4 = "v4"
    V4_0 = "v4_0"
    V4_1 = "v4_1"
    V4_2 = "v4_2"


class QcowVersion(StrEnum):
    """qcow2 compatibility level of an image."""

    QCOW2_V2 = "qcow2_v2"
    QCOW2_V3 = "qcow2_v3"


class UsbType(StrEnum):
    """USB support mode of a VM."""

    LEGACY = "legacy"
    NATIVE = "native"


class AutoNumaStatus(StrEnum):
    """Whether automatic NUMA balancing is on."""

    DISABLE = "disable"
    ENABLE = "enable"
    UNKNOWN = "unknown"


class CpuMode(StrEnum):
    """How a VM's CPU model relates to the host's."""

    CUSTOM = "custom"
    HOST_MODEL = "host_model"
    HOST_PASSTHROUGH = "host_passthrough"


class VideoType(StrEnum):
    """Emulated video card of a VM."""

    BOCHS = "bochs"
    CIRRUS = "cirrus"
    VGA = "vga"
    QXL = "qxl"


class ParallelMigrationsPolicy(StrEnum):
    """How many parallel connections a migration uses."""

    INHERIT = "inherit"
    AUTO = "auto"
    AUTO_PARALLEL = "auto_parallel"
    DISABLED = "disabled"
    CUSTOM = "custom"


class NumaTuneMode(StrEnum):
    """How a VM's memory is bound to host NUMA nodes."""

    STRICT = "strict"
    INTERLEAVE = "interleave"
    PREFERRED = "preferred"


class DiskBackup(StrEnum):
    """Whether a disk takes part in incremental backups."""

    NONE = "none"
    INCREMENTAL = "incremental"


class ReportedDeviceType(StrEnum):
    """Kind of a device the guest agent reports from inside a VM."""

    NETWORK = "network"
