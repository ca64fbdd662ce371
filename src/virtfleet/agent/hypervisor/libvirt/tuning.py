"""Resource tuning of a domain: CPU weight, I/O threads, and the guaranteed memory kept in its
metadata for whoever balances memory on the host."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .xmlbase import XmlElement, text_element

METADATA_NS = "https://virtfleet.org/xmlns/vm/1"
ET.register_namespace("virtfleet", METADATA_NS)
_KIB = 1024


@dataclass(frozen=True)
class CpuTune(XmlElement):
    """``<cputune><shares>``: the guest's CPU weight against other guests on the host."""

    shares: int

    def element(self) -> ET.Element:
        node = ET.Element("cputune")
        node.append(text_element("shares", str(self.shares)))
        return node


@dataclass(frozen=True)
class IoThreads(XmlElement):
    """``<iothreads>``: QEMU threads that serve disk I/O apart from the vCPUs."""

    count: int

    def element(self) -> ET.Element:
        return text_element("iothreads", str(self.count))


@dataclass(frozen=True)
class VmMetadata(XmlElement):
    """``<metadata>`` in virtfleet's namespace: what the engine promised the guest that QEMU
    itself cannot enforce (QEMU refuses ``<memtune><min_guarantee>``)."""

    memory_guaranteed_bytes: int

    def element(self) -> ET.Element:
        node = ET.Element("metadata")
        vm = ET.SubElement(node, f"{{{METADATA_NS}}}vm")
        vm.append(
            text_element(
                f"{{{METADATA_NS}}}memory_guaranteed",
                str(self.memory_guaranteed_bytes // _KIB),
                unit="KiB",
            )
        )
        return node
