"""Devices of one run only (oVirt's run once): a disk whose writes libvirt discards when the VM
stops (``<transient/>``), and the cloud-init seed as a read-only CD-ROM."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .devices import Disk
from .xmlbase import XmlElement


@dataclass(frozen=True)
class VolatileDisk(XmlElement):
    """``disk`` with a transient overlay: QEMU writes to a file libvirt creates at start and
    deletes at stop, so the volume itself is never changed."""

    disk: Disk

    def element(self) -> ET.Element:
        node = self.disk.element()
        ET.SubElement(node, "transient")
        return node


@dataclass(frozen=True)
class SeedCdrom(XmlElement):
    """The NoCloud seed image on a CD-ROM drive (IDE on i440fx, SATA on q35)."""

    path: Path
    bus: str
    target: str

    def element(self) -> ET.Element:
        node = ET.Element("disk", type="file", device="cdrom")
        ET.SubElement(node, "driver", name="qemu", type="raw")
        ET.SubElement(node, "source", file=str(self.path))
        ET.SubElement(node, "target", dev=self.target, bus=self.bus)
        ET.SubElement(node, "readonly")
        return node
