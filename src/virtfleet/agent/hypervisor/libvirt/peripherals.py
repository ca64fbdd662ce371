"""Peripherals a VM may ask for: a sound card and a USB controller with a tablet."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .xmlbase import XmlElement


@dataclass(frozen=True)
class Sound(XmlElement):
    """An Intel HD Audio card: ``ich6`` on i440fx, ``ich9`` on Q35 (as oVirt picks them)."""

    model: str

    def element(self) -> ET.Element:
        return ET.Element("sound", model=self.model)


@dataclass(frozen=True)
class UsbController(XmlElement):
    """The USB controller: ``qemu-xhci``, or ``none`` for a VM without USB at all."""

    model: str

    def element(self) -> ET.Element:
        return ET.Element("controller", type="usb", index="0", model=self.model)


@dataclass(frozen=True)
class Tablet(XmlElement):
    """A USB tablet: absolute pointer positions, so a remote display's mouse stays in step."""

    def element(self) -> ET.Element:
        return ET.Element("input", type="tablet", bus="usb")
