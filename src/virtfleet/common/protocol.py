"""The engine↔agent protocol: every remote call named once, with its wire types and time limit.

Both sides derive their plumbing from ``METHODS`` (Ganeti's ``rpc_defs`` idea): the agent
dispatches by name and validates params with the declared model; the engine's client sends the
declared params and parses the declared result. Transport: JSON-RPC 2.0 over WebSocket with
mutual TLS (see ``virtfleet.common.rpc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
DEFAULT_AGENT_PORT = 54321


class Wire(BaseModel):
    """Base of every wire type: unknown fields are refused so both sides stay in step."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Wire):
    pass


# --- enrollment -------------------------------------------------------------------------------


class EnrollmentRequest(Wire):
    secret: str


class EnrollmentOffer(Wire):
    """What an unenrolled agent returns: a CSR for its own fresh key, and who it is."""

    csr_pem: str
    host_uuid: str
    hostname: str


class EnrollmentCompletion(Wire):
    secret: str
    ca_pem: str
    cert_pem: str


# --- host ----------------------------------------------------------------------------------------


class Hypervisor(StrEnum):
    KVM = "kvm"
    TCG = "qemu"
    TEST = "test"


class HostCapabilities(Wire):
    protocol_version: int
    host_uuid: str
    hostname: str
    hypervisor: Hypervisor
    driver_uri: str
    cpu_model: str
    cpu_sockets: int
    cpu_cores: int
    cpu_threads: int
    memory_bytes: int
    libvirt_version: str
    agent_version: str
    cluster_cpu_types: list[str] = Field(default_factory=list)
    """oVirt cluster CPU type names whose CPU model this host can run."""
    uefi: bool = False
    secure_boot: bool = False
    tpm: bool = False


class NicAddress(Wire):
    """One IP address of a NIC, host or guest: ``version`` is 4 or 6."""

    address: str
    prefix: int
    version: int


class HostNicReport(Wire):
    """A host network interface and its counters; rates (bytes/s) need two reports, so the
    first report of an interface has none."""

    name: str
    mac: str | None = None
    mtu: int | None = None
    speed_mbps: int | None = None
    up: bool = False
    addresses: list[NicAddress] = Field(default_factory=list)
    kind: str | None = None
    """The link kind the kernel reports (``bond``, ``vlan``, ``veth``...); None for plain NICs."""
    bridge: str | None = None
    """The bridge this interface is a port of."""
    bond: str | None = None
    """The bond this interface is a slave of."""
    vlan_id: int | None = None
    base_interface: str | None = None
    """A VLAN's underlying interface."""
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_rate: float | None = None
    tx_rate: float | None = None


class HostStats(Wire):
    """A host's usage; a figure the host could not measure is None and is not listed."""

    cpu_user_pct: float | None = None
    cpu_system_pct: float | None = None
    cpu_idle_pct: float | None = None
    memory_total_bytes: int
    memory_free_bytes: int
    vms_total: int
    vms_running: int
    load_avg_1m: float | None = None
    load_avg_5m: float | None = None
    load_avg_15m: float | None = None
    memory_shared_bytes: int | None = None
    memory_buffers_bytes: int | None = None
    memory_cached_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_free_bytes: int | None = None
    swap_cached_bytes: int | None = None
    ksm_cpu_pct: float | None = None
    boot_time: int | None = None
    """Seconds since the epoch when the host booted."""
    nics: list[HostNicReport] = Field(default_factory=list)


class Pong(Wire):
    time: float


# --- virtual machines ----------------------------------------------------------------------------


class VmRunState(StrEnum):
    """What the hypervisor says of a domain; the engine maps these to oVirt VM statuses."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting_down"
    DOWN = "down"
    CRASHED = "crashed"
    SUSPENDED = "suspended"
    MIGRATING = "migrating"


class DiskSpec(Wire):
    path: str
    format: str = "qcow2"
    bus: str = "virtio"
    readonly: bool = False
    bootable: bool = False


class NicSpec(Wire):
    """A vNIC; ``network`` names the host bridge, the libvirt network, or nothing for ``user``."""

    mac: str
    network: str
    model: str = "virtio"
    kind: str = "bridge"
    queues: int | None = None
    """Queue pairs of a virtio NIC (oVirt's ``multi_queues_enabled``); None: one."""


class GraphicsSpec(Wire):
    """A remote display; the password is a ticket that stops working at ``password_valid_to``."""

    type: str = "vnc"
    listen: str = "0.0.0.0"
    password: str | None = None
    password_valid_to: datetime | None = None
    keymap: str | None = None
    """The keyboard layout QEMU translates keys with (``display.keyboard_layout``)."""


class CloudInitSeed(Wire):
    """The files of a NoCloud seed (cloud-init's ``cidata`` volume), as the guest reads them."""

    meta_data: str
    user_data: str
    network_config: str | None = None


class VmSpec(Wire):
    """Everything an agent needs to define and start a VM; built by the engine from its model."""

    id: str
    name: str
    memory_bytes: int
    cpu_sockets: int = 1
    cpu_cores: int = 1
    cpu_threads: int = 1
    machine: str = "pc"
    os_type: str = "other"
    boot_devices: list[str] = Field(default_factory=lambda: ["hd"])
    disks: list[DiskSpec] = Field(default_factory=list)
    nics: list[NicSpec] = Field(default_factory=list)
    firmware: str = "bios"
    """``bios`` (SeaBIOS) or ``uefi`` (OVMF)."""
    secure_boot: bool = False
    tpm: bool = False
    cpu_type: str | None = None
    """The cluster's CPU type name (oVirt's, e.g. "Secure Intel Skylake Client Family")."""
    graphics: list[GraphicsSpec] = Field(default_factory=list)
    video: str | None = None
    """The video card's model (``display.video_type``); None: ``qxl`` with SPICE, else ``vga``."""
    video_heads: int = 1
    """Monitors the video card drives (``display.monitors``)."""
    serial_log_path: str | None = None
    serial_number: str | None = None
    """The SMBIOS system serial number the guest sees (``/sys/class/dmi/id/product_serial``)."""
    watchdog_action: str | None = None
    """With an action (reset, poweroff, pause, dump, none) the VM gets an i6300esb watchdog."""
    memballoon: bool = True
    memory_guaranteed_bytes: int | None = None
    """Memory the guest is promised (oVirt's ``memory_policy.guaranteed``), kept in the domain's
    metadata: QEMU has no ``min_guarantee``, oVirt's own host agent reads it from there too."""
    cpu_shares: int | None = None
    """The relative CPU weight (``<cputune><shares>``); None or 0 leaves the host's default."""
    soundcard: bool = False
    usb: str | None = None
    """``qemu-xhci`` (with a USB tablet), ``none`` (no USB controller at all), None: libvirt's."""
    clock_offset_s: int | None = None
    """The guest's RTC offset from UTC in seconds (its time zone); None: Windows local, else UTC."""
    cpu_model: str | None = None
    """A libvirt CPU model that overrides the cluster's CPU type (``custom_cpu_model``)."""
    cpu_mode: str | None = None
    """``host-model`` or ``host-passthrough`` (``cpu.mode``); None: the cluster's (or custom)
    model."""
    virtio_scsi: bool | None = None
    """``virtio_scsi.enabled``: True always has a virtio-scsi controller, False never (no SCSI
    disks), None one only with a SCSI disk."""
    iothreads: int = 0
    """I/O threads; virtio disks are spread over them in turn."""
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    start_paused: bool = False
    """Start with the vCPUs stopped (the VM's ``start_paused`` or run once ``pause``)."""
    volatile: bool = False
    """Writes to the disks go to throw-away overlays, discarded when the VM stops."""
    cloud_init: CloudInitSeed | None = None
    """A seed the agent writes to an ISO labelled ``cidata``, a CD-ROM for this run only."""


class VmRef(Wire):
    vm_id: str


class VmShutdown(Wire):
    vm_id: str
    timeout_s: float = 120.0


class VmState(Wire):
    vm_id: str
    state: VmRunState
    reason: str = ""


class GuestInterface(Wire):
    name: str
    mac: str | None = None
    addresses: list[NicAddress] = Field(default_factory=list)


class GuestOs(Wire):
    """What qemu-guest-agent says of the guest's OS (its os-release and uname)."""

    id: str | None = None
    name: str | None = None
    pretty_name: str | None = None
    version: str | None = None
    version_id: str | None = None
    kernel_release: str | None = None
    kernel_version: str | None = None
    machine: str | None = None


class GuestUser(Wire):
    name: str
    domain: str | None = None
    login_time: float | None = None
    """Seconds since the epoch."""


class GuestTimezone(Wire):
    name: str | None = None
    offset_s: int
    """East of UTC, in seconds."""


class GuestReport(Wire):
    """What a VM's guest agent answered; a part it did not answer is None or empty."""

    hostname: str | None = None
    os: GuestOs | None = None
    timezone: GuestTimezone | None = None
    users: list[GuestUser] = Field(default_factory=list)
    interfaces: list[GuestInterface] = Field(default_factory=list)


class VmStats(Wire):
    vm_id: str
    cpu_pct: float
    memory_used_bytes: int
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0
    guest: GuestReport | None = None
    """The guest agent's latest answer; None when the VM has no agent running or it failed."""


class VmStateList(Wire):
    vms: list[VmState]


# --- hot-plug ------------------------------------------------------------------------------------


class NicPlug(Wire):
    """A vNIC to plug into a running VM (and its persistent definition)."""

    vm_id: str
    nic: NicSpec


class NicUnplug(Wire):
    vm_id: str
    mac: str


class DiskPlug(Wire):
    """A disk to plug into a running VM; the agent names it (the next free ``vdX``...)."""

    vm_id: str
    disk: DiskSpec


class DiskUnplug(Wire):
    vm_id: str
    path: str


class PluggedDevice(Wire):
    """What the VM now has: the disk's target name (``vdb``) or the vNIC's MAC."""

    vm_id: str
    device: str


# --- consoles ------------------------------------------------------------------------------------

SERIAL_CONSOLE_PATH = "/consoles/serial/"
"""The agent's WebSocket path (plus the VM id) relaying a VM's serial console as binary frames."""


class DisplayRef(Wire):
    vm_id: str
    protocol: str = "vnc"


class DisplayTicket(Wire):
    """A one-time password for a running VM's display, refused by it after ``valid_to``."""

    vm_id: str
    password: str
    valid_to: datetime
    protocol: str = "vnc"


class DisplayEndpoint(Wire):
    """Where a VM's display listens on its host; ``port`` is -1 when it has none (simulated)."""

    vm_id: str
    protocol: str
    address: str
    port: int


class VmStatsList(Wire):
    vms: list[VmStats]


# --- storage -------------------------------------------------------------------------------------


class DomainRef(Wire):
    domain_id: str
    path: str


class DomainCreate(Wire):
    domain_id: str
    path: str
    name: str
    storage_type: str


class DomainInfo(Wire):
    domain_id: str
    total_bytes: int
    free_bytes: int


class VolumeUsage(Wire):
    image_id: str
    volume_id: str
    actual_size: int


class DomainUsage(Wire):
    """A domain's space and what each of its volumes takes on storage, measured in one pass."""

    domain_id: str
    total_bytes: int
    free_bytes: int
    volumes: list[VolumeUsage]


class VolumeRef(Wire):
    domain_id: str
    path: str
    image_id: str
    volume_id: str


class VolumeCreate(Wire):
    domain_id: str
    path: str
    image_id: str
    volume_id: str
    size_bytes: int
    format: str = "qcow2"
    sparse: bool = True
    backing_image_id: str | None = None
    backing_volume_id: str | None = None


class VolumeInfo(Wire):
    image_id: str
    volume_id: str
    format: str
    virtual_size: int
    actual_size: int
    path: str


# --- notifications (agent → engine) -------------------------------------------------------------


class StatsReport(Wire):
    host: HostStats
    vms: list[VmStats]


# --- the table -----------------------------------------------------------------------------------

P = TypeVar("P", bound=Wire)
R = TypeVar("R", bound=Wire)


@dataclass(frozen=True)
class Method(Generic[P, R]):
    """One remote call: its name on the wire, its parameter and result types and time limit."""

    name: str
    params: type[P]
    result: type[R]
    timeout_s: float
    needs_enrollment: bool = True


HOST_REQUEST_ENROLLMENT = Method(
    "Host.requestEnrollment", EnrollmentRequest, EnrollmentOffer, 30, False
)
HOST_COMPLETE_ENROLLMENT = Method("Host.completeEnrollment", EnrollmentCompletion, Empty, 30, False)
HOST_PING = Method("Host.ping", Empty, Pong, 10)
HOST_GET_CAPABILITIES = Method("Host.getCapabilities", Empty, HostCapabilities, 60)
HOST_GET_STATS = Method("Host.getStats", Empty, HostStats, 30)
VM_CREATE = Method("VM.create", VmSpec, VmState, 180)
VM_DESTROY = Method("VM.destroy", VmRef, VmState, 60)
VM_SHUTDOWN = Method("VM.shutdown", VmShutdown, VmState, 180)
VM_REBOOT = Method("VM.reboot", VmRef, VmState, 60)
VM_PAUSE = Method("VM.pause", VmRef, VmState, 60)
VM_RESUME = Method("VM.resume", VmRef, VmState, 60)
VM_SUSPEND = Method("VM.suspend", VmRef, VmState, 180)
VM_LIST = Method("VM.list", Empty, VmStateList, 60)
VM_GET_STATS = Method("VM.getStats", Empty, VmStatsList, 60)
VM_SET_TICKET = Method("VM.setTicket", DisplayTicket, DisplayEndpoint, 60)
VM_GET_DISPLAY = Method("VM.getDisplay", DisplayRef, DisplayEndpoint, 30)
VM_HOTPLUG_NIC = Method("VM.hotplugNic", NicPlug, PluggedDevice, 60)
VM_HOTUNPLUG_NIC = Method("VM.hotunplugNic", NicUnplug, Empty, 60)
VM_HOTPLUG_DISK = Method("VM.hotplugDisk", DiskPlug, PluggedDevice, 60)
VM_HOTUNPLUG_DISK = Method("VM.hotunplugDisk", DiskUnplug, Empty, 60)
STORAGE_CREATE_DOMAIN = Method("Storage.createDomain", DomainCreate, DomainInfo, 120)
STORAGE_CONNECT_DOMAIN = Method("Storage.connectDomain", DomainRef, DomainInfo, 120)
STORAGE_GET_DOMAIN_INFO = Method("Storage.getDomainInfo", DomainRef, DomainInfo, 60)
STORAGE_REMOVE_DOMAIN = Method("Storage.removeDomain", DomainRef, Empty, 120)
STORAGE_GET_DOMAIN_USAGE = Method("Storage.getDomainUsage", DomainRef, DomainUsage, 30)
VOLUME_CREATE = Method("Volume.create", VolumeCreate, VolumeInfo, 180)
VOLUME_INFO = Method("Volume.info", VolumeRef, VolumeInfo, 60)
VOLUME_REMOVE = Method("Volume.remove", VolumeRef, Empty, 120)

METHODS: dict[str, Method[Wire, Wire]] = {
    m.name: m  # type: ignore[misc]
    for m in (
        HOST_REQUEST_ENROLLMENT,
        HOST_COMPLETE_ENROLLMENT,
        HOST_PING,
        HOST_GET_CAPABILITIES,
        HOST_GET_STATS,
        VM_CREATE,
        VM_DESTROY,
        VM_SHUTDOWN,
        VM_REBOOT,
        VM_PAUSE,
        VM_RESUME,
        VM_SUSPEND,
        VM_LIST,
        VM_GET_STATS,
        VM_SET_TICKET,
        VM_GET_DISPLAY,
        VM_HOTPLUG_NIC,
        VM_HOTUNPLUG_NIC,
        VM_HOTPLUG_DISK,
        VM_HOTUNPLUG_DISK,
        STORAGE_CREATE_DOMAIN,
        STORAGE_CONNECT_DOMAIN,
        STORAGE_GET_DOMAIN_INFO,
        STORAGE_REMOVE_DOMAIN,
        STORAGE_GET_DOMAIN_USAGE,
        VOLUME_CREATE,
        VOLUME_INFO,
        VOLUME_REMOVE,
    )
}


@dataclass(frozen=True)
class Notification(Generic[P]):
    name: str
    params: type[P]
    snapshot: bool = False
    """A snapshot makes every earlier one of its kind obsolete: a receiver that falls behind
    may skip to the newest (a state change never is one: each must be applied, in order)."""


VM_STATE_CHANGED = Notification("VM.stateChanged", VmState)
HOST_STATS_REPORT = Notification("Host.statsReport", StatsReport, snapshot=True)

NOTIFICATIONS: dict[str, Notification[Wire]] = {
    n.name: n  # type: ignore[misc]
    for n in (VM_STATE_CHANGED, HOST_STATS_REPORT)
}
