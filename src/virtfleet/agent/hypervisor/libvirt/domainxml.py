"""libvirt domain XML built from one small typed class per element (virtinst's idea).

Each class renders itself with ``xml.etree``; ``build_domain`` maps a ``VmSpec`` onto them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DiskSpec, NicSpec, VmSpec

_KIB = 1024
_DISK_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}
_BOOT_DEVICES = {"hd", "cdrom", "network", "fd"}


class XmlElement(ABC):
    """Something that renders as one XML element."""

    @abstractmethod
    def element(self) -> ET.Element:
        """The element for this object, with its children."""


def _text(tag: str, text: str, **attrib: str) -> ET.Element:
    node = ET.Element(tag, attrib)
    node.text = text
    return node


@dataclass(frozen=True)
class Memory(XmlElement):
    size_bytes: int
    tag: str = "memory"

    def element(self) -> ET.Element:
        return _text(self.tag, str(self.size_bytes // _KIB), unit="KiB")


@dataclass(frozen=True)
class Vcpu(XmlElement):
    count: int

    def element(self) -> ET.Element:
        return _text("vcpu", str(self.count), placement="static")


@dataclass(frozen=True)
class CpuTopology(XmlElement):
    sockets: int
    cores: int
    threads: int

    def element(self) -> ET.Element:
        cpu = ET.Element("cpu")
        ET.SubElement(
            cpu,
            "topology",
            sockets=str(self.sockets),
            cores=str(self.cores),
            threads=str(self.threads),
        )
        return cpu


@dataclass(frozen=True)
class OsBoot(XmlElement):
    arch: str
    machine: str
    boot_devices: tuple[str, ...]

    def element(self) -> ET.Element:
        os_node = ET.Element("os")
        os_node.append(_text("type", "hvm", arch=self.arch, machine=self.machine))
        for dev in self.boot_devices:
            ET.SubElement(os_node, "boot", dev=dev)
        return os_node


@dataclass(frozen=True)
class Features(XmlElement):
    names: tuple[str, ...] = ("acpi", "apic")

    def element(self) -> ET.Element:
        node = ET.Element("features")
        for name in self.names:
            ET.SubElement(node, name)
        return node


@dataclass(frozen=True)
class LifecycleAction(XmlElement):
    """``on_poweroff``/``on_reboot``/``on_crash``: what libvirt does when the guest does that."""

    event: str
    action: str

    def element(self) -> ET.Element:
        return _text(f"on_{self.event}", self.action)


@dataclass(frozen=True)
class Disk(XmlElement):
    path: str
    format: str
    bus: str
    target: str
    readonly: bool = False

    def element(self) -> ET.Element:
        disk = ET.Element("disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=self.format, cache="none")
        ET.SubElement(disk, "source", file=self.path)
        ET.SubElement(disk, "target", dev=self.target, bus=self.bus)
        if self.readonly:
            ET.SubElement(disk, "readonly")
        return disk


@dataclass(frozen=True)
class Controller(XmlElement):
    type: str
    model: str

    def element(self) -> ET.Element:
        return ET.Element("controller", type=self.type, model=self.model)


@dataclass(frozen=True)
class Interface(XmlElement):
    """A vNIC on the host bridge named after its logical network, as oVirt hosts have."""

    mac: str
    bridge: str
    model: str

    def element(self) -> ET.Element:
        nic = ET.Element("interface", type="bridge")
        ET.SubElement(nic, "mac", address=self.mac)
        ET.SubElement(nic, "source", bridge=self.bridge)
        ET.SubElement(nic, "model", type=self.model)
        return nic


@dataclass(frozen=True)
class Serial(XmlElement):
    port: int = 0

    def element(self) -> ET.Element:
        serial = ET.Element("serial", type="pty")
        ET.SubElement(serial, "target", port=str(self.port))
        return serial


@dataclass(frozen=True)
class Console(XmlElement):
    port: int = 0

    def element(self) -> ET.Element:
        console = ET.Element("console", type="pty")
        ET.SubElement(console, "target", type="serial", port=str(self.port))
        return console


@dataclass(frozen=True)
class Devices(XmlElement):
    items: tuple[XmlElement, ...]

    def element(self) -> ET.Element:
        node = ET.Element("devices")
        node.extend(item.element() for item in self.items)
        return node


@dataclass(frozen=True)
class Domain(XmlElement):
    type: str
    name: str
    uuid: str
    memory: Memory
    vcpu: Vcpu
    cpu: CpuTopology
    os: OsBoot
    devices: Devices
    features: Features = field(default_factory=Features)
    actions: tuple[LifecycleAction, ...] = (
        LifecycleAction("poweroff", "destroy"),
        LifecycleAction("reboot", "restart"),
        LifecycleAction("crash", "destroy"),
    )

    def element(self) -> ET.Element:
        node = ET.Element("domain", type=self.type)
        node.append(_text("name", self.name))
        node.append(_text("uuid", self.uuid))
        node.append(self.memory.element())
        node.append(Memory(self.memory.size_bytes, tag="currentMemory").element())
        node.append(self.vcpu.element())
        node.append(self.cpu.element())
        node.append(self.os.element())
        node.append(self.features.element())
        node.extend(action.element() for action in self.actions)
        node.append(self.devices.element())
        return node

    def to_xml(self) -> str:
        """The document as libvirt's ``defineXML`` takes it, indented for people to read."""
        root = self.element()
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"


def _disks(specs: list[DiskSpec]) -> list[XmlElement]:
    """Disks named in order per name prefix (vda, vdb; sda for scsi and sata alike)."""
    used: dict[str, int] = {}
    disks: list[XmlElement] = []
    for spec in specs:
        prefix = _DISK_PREFIX.get(spec.bus)
        if prefix is None:
            raise InvalidInput(f"unsupported disk bus {spec.bus!r}")
        index = used.get(prefix, 0)
        if index >= 26:
            raise InvalidInput(f"at most 26 disks named {prefix}*")
        used[prefix] = index + 1
        target = prefix + chr(ord("a") + index)
        disks.append(Disk(spec.path, spec.format, spec.bus, target, spec.readonly))
    if any(spec.bus == "scsi" for spec in specs):
        disks.append(Controller("scsi", "virtio-scsi"))
    return disks


def _interfaces(specs: list[NicSpec]) -> list[XmlElement]:
    return [Interface(nic.mac, nic.network, nic.model) for nic in specs]


def build_domain(spec: VmSpec, domain_type: str, arch: str = "x86_64") -> Domain:
    """The domain for ``spec``: UUID is the VM id and name the VM name, as in oVirt."""
    unknown = set(spec.boot_devices) - _BOOT_DEVICES
    if unknown:
        raise InvalidInput(f"unknown boot devices: {', '.join(sorted(unknown))}")
    if spec.memory_bytes < _KIB:
        raise InvalidInput("memory_bytes must be at least 1 KiB")
    vcpus = spec.cpu_sockets * spec.cpu_cores * spec.cpu_threads
    items = [*_disks(spec.disks), *_interfaces(spec.nics), Serial(), Console()]
    return Domain(
        type=domain_type,
        name=spec.name,
        uuid=spec.id,
        memory=Memory(spec.memory_bytes),
        vcpu=Vcpu(vcpus),
        cpu=CpuTopology(spec.cpu_sockets, spec.cpu_cores, spec.cpu_threads),
        os=OsBoot(arch, spec.machine, tuple(spec.boot_devices)),
        devices=Devices(tuple(items)),
    )
