"""The guest platform beside its devices: ``<features>``, ``<clock>`` and SMBIOS ``<sysinfo>``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .xmlbase import XmlElement, text_element

_SPINLOCK_RETRIES = 8191
# The Hyper-V enlightenments oVirt gives Windows guests; each makes Windows cheaper to run on KVM.
_HYPERV_FLAGS = (
    "relaxed",
    "vapic",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "frequencies",
)


def is_windows(os_type: str) -> bool:
    """oVirt names Windows guest types ``windows_*`` (windows_10x64, windows_2019x64, ...)."""
    return os_type.lower().startswith("windows")


@dataclass(frozen=True)
class Features(XmlElement):
    """``smm`` is needed by Secure Boot firmware; ``hyperv`` by Windows guests on KVM."""

    smm: bool = False
    hyperv: bool = False

    def element(self) -> ET.Element:
        node = ET.Element("features")
        ET.SubElement(node, "acpi")
        ET.SubElement(node, "apic")
        if self.hyperv:
            hyperv = ET.SubElement(node, "hyperv")
            for flag in _HYPERV_FLAGS[:2]:
                ET.SubElement(hyperv, flag, state="on")
            ET.SubElement(hyperv, "spinlocks", state="on", retries=str(_SPINLOCK_RETRIES))
            for flag in _HYPERV_FLAGS[2:]:
                ET.SubElement(hyperv, flag, state="on")
        if self.smm:
            ET.SubElement(node, "smm", state="on")
        return node


@dataclass(frozen=True)
class Clock(XmlElement):
    """UTC for most guests; Windows keeps local time in its RTC and reads the Hyper-V clock.
    A VM with a time zone gets its RTC that many seconds off UTC (``offset='variable'``)."""

    localtime: bool = False
    hypervclock: bool = False
    offset_s: int | None = None

    def element(self) -> ET.Element:
        if self.offset_s is not None:
            node = ET.Element(
                "clock", offset="variable", adjustment=str(self.offset_s), basis="utc"
            )
        else:
            node = ET.Element("clock", offset="localtime" if self.localtime else "utc")
        ET.SubElement(node, "timer", name="rtc", tickpolicy="catchup")
        ET.SubElement(node, "timer", name="pit", tickpolicy="delay")
        ET.SubElement(node, "timer", name="hpet", present="no")
        if self.hypervclock:
            ET.SubElement(node, "timer", name="hypervclock", present="yes")
        return node


@dataclass(frozen=True)
class SysInfo(XmlElement):
    """SMBIOS system strings; Windows licensing and tools read them, and the serial number is
    how guests (and their inventory tools) tell machines apart."""

    uuid: str
    serial: str | None = None
    manufacturer: str = "virtfleet"
    product: str = "virtfleet"

    def element(self) -> ET.Element:
        node = ET.Element("sysinfo", type="smbios")
        system = ET.SubElement(node, "system")
        system.append(text_element("entry", self.manufacturer, name="manufacturer"))
        system.append(text_element("entry", self.product, name="product"))
        if self.serial is not None:
            system.append(text_element("entry", self.serial, name="serial"))
        system.append(text_element("entry", self.uuid, name="uuid"))
        return node
