"""libvirt domain XML built from one small typed class per element (virtinst's idea).

Each class renders itself with ``xml.etree``; ``build_domain`` maps a ``VmSpec`` onto them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from virtfleet.common.cputypes import cluster_cpu_type
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DiskSpec, NicSpec, VmSpec

from .agentchannel import GuestAgentChannel
from .cpumodels import Cpu, CpuTopology
from .devices import (
    LOCKED_PASSWORD,
    LOCKED_VALID_TO,
    Controller,
    Devices,
    Disk,
    Graphics,
    Interface,
    MemBalloon,
    Serial,
    SpiceAgentChannel,
    Tpm,
    Video,
    Watchdog,
    console,
)
from .firmware import OVMF_DIR, uefi_files
from .guestplatform import Clock, Features, SysInfo, is_windows
from .osboot import KernelBoot, OsBoot
from .peripherals import Sound, Tablet, UsbController
from .runonce import SeedCdrom, VolatileDisk
from .tuning import CpuTune, IoThreads, VmMetadata
from .xmlbase import XmlElement, text_element

_KIB = 1024
_DISK_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}
_BOOT_DEVICES = {"hd", "cdrom", "network", "fd"}
_FIRMWARES = {"bios", "uefi"}
_NIC_KINDS = {"bridge", "network", "user"}
_GRAPHICS = {"vnc": "vga", "spice": "qxl"}
_WATCHDOG_ACTIONS = {"reset", "shutdown", "poweroff", "pause", "dump", "none", "inject-nmi"}
_Q35 = "q35"
# PCIe root ports of a q35 VM, as oVirt gives it: the devices it starts with take some, the
# others stay free for hot-plugged disks and NICs (a q35 bus has no slot of its own for them)
PCIE_ROOT_PORTS = 16
_USB_MODELS = {"qemu-xhci", "none"}
_VIDEO_MODELS = {"vga", "qxl", "cirrus", "bochs", "virtio"}
_CPU_MODES = {"host-model", "host-passthrough"}
# multi-head video: QEMU's qxl and virtio cards can drive several monitors, the others one
_MULTI_HEAD_VIDEO = {"qxl", "virtio"}


@dataclass(frozen=True)
class Memory(XmlElement):
    size_bytes: int
    tag: str = "memory"

    def element(self) -> ET.Element:
        return text_element(self.tag, str(self.size_bytes // _KIB), unit="KiB")


@dataclass(frozen=True)
class Vcpu(XmlElement):
    count: int

    def element(self) -> ET.Element:
        return text_element("vcpu", str(self.count), placement="static")


@dataclass(frozen=True)
class LifecycleAction(XmlElement):
    """``on_poweroff``/``on_reboot``/``on_crash``: what libvirt does when the guest does that."""

    event: str
    action: str

    def element(self) -> ET.Element:
        return text_element(f"on_{self.event}", self.action)


@dataclass(frozen=True)
class Domain(XmlElement):
    type: str
    name: str
    uuid: str
    memory: Memory
    vcpu: Vcpu
    cpu: Cpu
    os: OsBoot
    devices: Devices
    features: Features = field(default_factory=Features)
    clock: Clock = field(default_factory=Clock)
    sysinfo: SysInfo | None = None
    metadata: VmMetadata | None = None
    iothreads: IoThreads | None = None
    cputune: CpuTune | None = None
    actions: tuple[LifecycleAction, ...] = (
        LifecycleAction("poweroff", "destroy"),
        LifecycleAction("reboot", "restart"),
        LifecycleAction("crash", "destroy"),
    )

    def element(self) -> ET.Element:
        node = ET.Element("domain", type=self.type)
        node.append(text_element("name", self.name))
        node.append(text_element("uuid", self.uuid))
        if self.metadata is not None:
            node.append(self.metadata.element())
        node.append(self.memory.element())
        node.append(Memory(self.memory.size_bytes, tag="currentMemory").element())
        node.append(self.vcpu.element())
        for tuning in (self.iothreads, self.cputune):
            if tuning is not None:
                node.append(tuning.element())
        if self.sysinfo is not None:
            node.append(self.sysinfo.element())
        node.append(self.os.element())
        node.append(self.features.element())
        node.append(self.cpu.element())
        node.append(self.clock.element())
        node.extend(action.element() for action in self.actions)
        node.append(self.devices.element())
        return node

    def to_xml(self) -> str:
        """The document as libvirt's ``defineXML`` takes it, indented for people to read."""
        root = self.element()
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"


def _disks(
    specs: list[DiskSpec],
    *,
    iothreads: int = 0,
    volatile: bool = False,
    virtio_scsi: bool | None = None,
) -> list[XmlElement]:
    """Disks named in order per name prefix (vda, vdb; sda for scsi and sata alike); virtio
    disks take the I/O threads (numbered from 1) in turn; on a volatile run each writable one
    gets a throw-away overlay. The virtio-scsi controller comes with a SCSI disk, or always
    (``virtio_scsi`` True); with ``virtio_scsi`` False a SCSI disk is refused."""
    scsi = any(spec.bus == "scsi" for spec in specs)
    if scsi and virtio_scsi is False:
        raise InvalidInput("a SCSI disk needs virtio_scsi enabled")
    used: dict[str, int] = {}
    disks: list[XmlElement] = []
    virtio_disks = 0
    for spec in specs:
        prefix = disk_prefix(spec.bus)
        index = used.get(prefix, 0)
        if index >= 26:
            raise InvalidInput(f"at most 26 disks named {prefix}*")
        used[prefix] = index + 1
        target = prefix + chr(ord("a") + index)
        iothread = None
        if iothreads and spec.bus == "virtio":
            iothread = virtio_disks % iothreads + 1
            virtio_disks += 1
        disk = Disk(spec.path, spec.format, spec.bus, target, spec.readonly, iothread)
        disks.append(VolatileDisk(disk) if volatile and not spec.readonly else disk)
    if scsi or virtio_scsi:
        disks.append(Controller("scsi", "virtio-scsi"))
    return disks


def _seed_cdrom(spec: VmSpec, seed_iso: Path) -> SeedCdrom:
    """The seed's CD-ROM on the drive after the disks of its bus (IDE has four)."""
    bus = "sata" if spec.machine.startswith(_Q35) else "ide"
    prefix = _DISK_PREFIX[bus]
    index = sum(1 for disk in spec.disks if _DISK_PREFIX.get(disk.bus) == prefix)
    if index >= (4 if bus == "ide" else 26):
        raise InvalidInput(f"no free {bus} drive for the cloud-init CD-ROM")
    return SeedCdrom(seed_iso, bus, prefix + chr(ord("a") + index))


def interface(nic: NicSpec) -> Interface:
    if nic.kind not in _NIC_KINDS:
        raise InvalidInput(f"unknown NIC kind {nic.kind!r}")
    source = "" if nic.kind == "user" else nic.network
    if nic.queues is not None and (nic.queues < 1 or nic.model != "virtio"):
        raise InvalidInput("NIC queues need a virtio NIC and a count of at least 1")
    # user-mode networking has no tap to open several queues on
    queues = None if nic.kind == "user" or nic.queues == 1 else nic.queues
    return Interface(nic.mac, nic.model, nic.kind, source, queues)


def disk_prefix(bus: str) -> str:
    """The guest-side name prefix of a disk on ``bus`` (vd, sd, hd)."""
    prefix = _DISK_PREFIX.get(bus)
    if prefix is None:
        raise InvalidInput(f"unsupported disk bus {bus!r}")
    return prefix


def _interfaces(specs: list[NicSpec]) -> list[XmlElement]:
    return [interface(nic) for nic in specs]


def _graphics(spec: VmSpec) -> list[XmlElement]:
    """Displays plus the one video card they show (the spec's model, or the one that suits the
    protocol); a display without a ticket starts locked."""
    items: list[XmlElement] = []
    for display in spec.graphics:
        if display.type not in _GRAPHICS:
            raise InvalidInput(f"unknown graphics type {display.type!r}")
        password, valid_to = display.password, display.password_valid_to
        if password is None:
            password, valid_to = LOCKED_PASSWORD, LOCKED_VALID_TO
        items.append(Graphics(display.type, display.listen, password, valid_to, display.keymap))
    if spec.graphics:
        kinds = {display.type for display in spec.graphics}
        model = spec.video or _GRAPHICS["spice" if "spice" in kinds else "vnc"]
        if model not in _VIDEO_MODELS:
            raise InvalidInput(f"unknown video model {model!r}")
        if spec.video_heads != 1 and model not in _MULTI_HEAD_VIDEO:
            raise InvalidInput(f"a {model} video card drives one monitor, not {spec.video_heads}")
        items.append(Video(model, spec.video_heads))
        if "spice" in kinds:
            items.append(SpiceAgentChannel())
    return items


def _peripherals(spec: VmSpec) -> list[XmlElement]:
    """The sound card (by chipset) and the USB controller the VM asked for."""
    items: list[XmlElement] = []
    if spec.soundcard:
        items.append(Sound("ich9" if spec.machine.startswith(_Q35) else "ich6"))
    if spec.usb is not None:
        if spec.usb not in _USB_MODELS:
            raise InvalidInput(f"unknown USB controller model {spec.usb!r}")
        items.append(UsbController(spec.usb))
        if spec.usb != "none":
            items.append(Tablet())
    return items


def _devices(spec: VmSpec, domain_type: str, seed_iso: Path | None) -> Devices:
    items = _disks(
        spec.disks, iothreads=spec.iothreads, volatile=spec.volatile, virtio_scsi=spec.virtio_scsi
    )
    if seed_iso is not None:
        items.append(_seed_cdrom(spec, seed_iso))
    items += _interfaces(spec.nics)
    items += [Serial(spec.serial_log_path), console(spec.serial_log_path), GuestAgentChannel()]
    items += _graphics(spec)
    if spec.tpm:
        items.append(Tpm("tpm-crb" if spec.machine.startswith(_Q35) else "tpm-tis"))
    if spec.watchdog_action is not None:
        if spec.watchdog_action not in _WATCHDOG_ACTIONS:
            raise InvalidInput(f"unknown watchdog action {spec.watchdog_action!r}")
        items.append(Watchdog(spec.watchdog_action))
    items += _peripherals(spec)
    # The test driver's balloon reports canned figures, not what the simulated VM was given.
    if spec.machine.startswith(_Q35):
        items.append(Controller("pci", "pcie-root", index=0))
        items += [Controller("pci", "pcie-root-port", index=i + 1) for i in range(PCIE_ROOT_PORTS)]
    if not spec.memballoon:
        items.append(MemBalloon(enabled=False))
    elif domain_type != "test":
        items.append(MemBalloon())
    return Devices(tuple(items))


def _os(spec: VmSpec, arch: str, ovmf_dir: Path, *, smbios: bool) -> OsBoot:
    if spec.firmware not in _FIRMWARES:
        raise InvalidInput(f"unknown firmware {spec.firmware!r}; use bios or uefi")
    if spec.secure_boot and spec.firmware != "uefi":
        raise InvalidInput("Secure Boot needs UEFI firmware")
    if spec.secure_boot and not spec.machine.startswith(_Q35):
        raise InvalidInput("Secure Boot needs the q35 machine type (SMM)")
    if spec.kernel is None and (spec.initrd is not None or spec.cmdline is not None):
        raise InvalidInput("an initrd or kernel command line needs a kernel")
    uefi = None
    if spec.firmware == "uefi":
        uefi = uefi_files(secure_boot=spec.secure_boot, directory=ovmf_dir)
    kernel = None if spec.kernel is None else KernelBoot(spec.kernel, spec.initrd, spec.cmdline)
    return OsBoot(
        arch,
        spec.machine,
        tuple(spec.boot_devices),
        uefi=uefi,
        kernel=kernel,
        smbios=smbios,
    )


def build_domain(
    spec: VmSpec,
    domain_type: str,
    arch: str = "x86_64",
    *,
    ovmf_dir: Path = OVMF_DIR,
    seed_iso: Path | None = None,
) -> Domain:
    """The domain for ``spec``: UUID is the VM id and name the VM name, as in oVirt.

    ``seed_iso`` is where the agent wrote the spec's cloud-init seed (a CD-ROM for this run).
    Hyper-V enlightenments need KVM, so a Windows guest on TCG (``qemu``) goes without them.
    """
    if (spec.cloud_init is None) != (seed_iso is None):
        raise InvalidInput("a cloud-init seed and its image come together")
    unknown = set(spec.boot_devices) - _BOOT_DEVICES
    if unknown:
        raise InvalidInput(f"unknown boot devices: {', '.join(sorted(unknown))}")
    if spec.memory_bytes < _KIB:
        raise InvalidInput("memory_bytes must be at least 1 KiB")
    if spec.iothreads < 0 or (spec.cpu_shares is not None and spec.cpu_shares < 0):
        raise InvalidInput("iothreads and cpu_shares cannot be negative")
    if spec.cpu_mode is not None and spec.cpu_mode not in _CPU_MODES:
        raise InvalidInput(f"unknown CPU mode {spec.cpu_mode!r}")
    if spec.video_heads < 1:
        raise InvalidInput("a video card drives at least one monitor")
    guaranteed = spec.memory_guaranteed_bytes
    topology = CpuTopology(spec.cpu_sockets, spec.cpu_cores, spec.cpu_threads)
    cluster_type = None if spec.cpu_type is None else cluster_cpu_type(spec.cpu_type)
    windows = is_windows(spec.os_type)
    enlightened = windows and domain_type != "qemu"
    # SMBIOS strings for Windows, or a serial number; <os> points at them only when they exist
    wants_sysinfo = windows or spec.serial_number is not None
    sysinfo = SysInfo(spec.id, spec.serial_number) if wants_sysinfo else None
    return Domain(
        type=domain_type,
        name=spec.name,
        uuid=spec.id,
        memory=Memory(spec.memory_bytes),
        vcpu=Vcpu(topology.vcpus),
        cpu=Cpu(topology, cluster_type, spec.cpu_model, spec.cpu_mode),
        os=_os(spec, arch, ovmf_dir, smbios=sysinfo is not None),
        devices=_devices(spec, domain_type, seed_iso),
        features=Features(smm=spec.secure_boot, hyperv=enlightened),
        clock=Clock(localtime=windows, hypervclock=enlightened, offset_s=spec.clock_offset_s),
        sysinfo=sysinfo,
        metadata=None if guaranteed is None else VmMetadata(guaranteed),
        iothreads=IoThreads(spec.iothreads) if spec.iothreads else None,
        cputune=CpuTune(spec.cpu_shares) if spec.cpu_shares else None,
    )
