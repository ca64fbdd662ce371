"""The ``<devices>`` of a domain: one small class per device kind."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from .xmlbase import XmlElement

# A display without a ticket gets this one, expired long ago: nobody connects until one is set.
LOCKED_PASSWORD = "locked"
LOCKED_VALID_TO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Disk(XmlElement):
    """A file-backed disk; for a qcow2 chain ``path`` is the top volume, libvirt follows backing."""

    path: str
    format: str
    bus: str
    target: str
    readonly: bool = False
    iothread: int | None = None

    def element(self) -> ET.Element:
        disk = ET.Element("disk", type="file", device="disk")
        driver = ET.SubElement(disk, "driver", name="qemu", type=self.format, cache="none")
        if self.iothread is not None:
            driver.set("iothread", str(self.iothread))
        ET.SubElement(disk, "source", file=self.path)
        ET.SubElement(disk, "target", dev=self.target, bus=self.bus)
        if self.readonly:
            ET.SubElement(disk, "readonly")
        return disk


@dataclass(frozen=True)
class Controller(XmlElement):
    type: str
    model: str
    index: int | None = None
    """Given for PCI controllers, whose numbering libvirt ties to the bus they form."""

    def element(self) -> ET.Element:
        node = ET.Element("controller", type=self.type, model=self.model)
        if self.index is not None:
            node.set("index", str(self.index))
        return node


@dataclass(frozen=True)
class Interface(XmlElement):
    """A vNIC: on a host bridge (oVirt's way), a libvirt network, or user-mode networking."""

    mac: str
    model: str
    kind: str = "bridge"
    source: str = ""
    queues: int | None = None

    def element(self) -> ET.Element:
        nic = ET.Element("interface", type=self.kind)
        ET.SubElement(nic, "mac", address=self.mac)
        if self.kind == "bridge":
            ET.SubElement(nic, "source", bridge=self.source)
        elif self.kind == "network":
            ET.SubElement(nic, "source", network=self.source)
        ET.SubElement(nic, "model", type=self.model)
        if self.queues is not None:
            ET.SubElement(nic, "driver", queues=str(self.queues))
        return nic


@dataclass(frozen=True)
class Serial(XmlElement):
    """The serial port: a pty (the agent's serial console attaches to it) whose output is also
    kept in ``log_path`` when given (appended across runs)."""

    log_path: str | None = None
    port: int = 0
    tag: str = "serial"

    def element(self) -> ET.Element:
        node = ET.Element(self.tag, type="pty")
        if self.log_path is not None:
            ET.SubElement(node, "log", file=self.log_path, append="on")
        target = ET.SubElement(node, "target")
        if self.tag == "console":
            target.set("type", "serial")
        target.set("port", str(self.port))
        return node


def console(log_path: str | None = None, port: int = 0) -> Serial:
    """The ``<console>`` that mirrors serial port ``port``."""
    return Serial(log_path, port, tag="console")


@dataclass(frozen=True)
class Graphics(XmlElement):
    """A VNC or SPICE display; its password is a ticket valid until ``password_valid_to``."""

    type: str
    listen: str
    password: str
    password_valid_to: datetime | None
    keymap: str | None = None

    def element(self) -> ET.Element:
        node = ET.Element("graphics", type=self.type, autoport="yes", passwd=self.password)
        if self.password_valid_to is not None:
            node.set("passwdValidTo", _libvirt_time(self.password_valid_to))
        if self.keymap is not None:
            node.set("keymap", self.keymap)
        ET.SubElement(node, "listen", type="address", address=self.listen)
        return node


def _libvirt_time(moment: datetime) -> str:
    """libvirt wants UTC without a zone suffix; a naive time is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class Video(XmlElement):
    """The video card; ``heads`` is how many monitors it drives."""

    model: str
    heads: int = 1

    def element(self) -> ET.Element:
        node = ET.Element("video")
        model = ET.SubElement(node, "model", type=self.model)
        if self.heads != 1:
            model.set("heads", str(self.heads))
        return node


@dataclass(frozen=True)
class SpiceAgentChannel(XmlElement):
    """The channel SPICE clients use for the guest agent (clipboard, resolution)."""

    def element(self) -> ET.Element:
        node = ET.Element("channel", type="spicevmc")
        ET.SubElement(node, "target", type="virtio", name="com.redhat.spice.0")
        return node


@dataclass(frozen=True)
class Tpm(XmlElement):
    """A TPM 2.0 emulated by ``swtpm``; CRB on Q35, TIS on i440fx."""

    model: str = "tpm-crb"

    def element(self) -> ET.Element:
        node = ET.Element("tpm", model=self.model)
        ET.SubElement(node, "backend", type="emulator", version="2.0")
        return node


@dataclass(frozen=True)
class Watchdog(XmlElement):
    action: str

    def element(self) -> ET.Element:
        return ET.Element("watchdog", model="i6300esb", action=self.action)


@dataclass(frozen=True)
class MemBalloon(XmlElement):
    """The virtio balloon; its statistics feed the guest memory figures. Disabled, it is
    ``model='none'``: libvirt would otherwise add one of its own."""

    stats_period_s: int = 5
    enabled: bool = True

    def element(self) -> ET.Element:
        if not self.enabled:
            return ET.Element("memballoon", model="none")
        node = ET.Element("memballoon", model="virtio")
        ET.SubElement(node, "stats", period=str(self.stats_period_s))
        return node


@dataclass(frozen=True)
class Devices(XmlElement):
    items: tuple[XmlElement, ...]

    def element(self) -> ET.Element:
        node = ET.Element("devices")
        node.extend(item.element() for item in self.items)
        return node
