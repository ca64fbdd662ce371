"""``<os>``: machine type, firmware (SeaBIOS or OVMF), boot order and direct kernel boot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .firmware import UefiFiles
from .xmlbase import XmlElement, text_element, yes_no


@dataclass(frozen=True)
class KernelBoot:
    """A kernel booted directly, without a boot loader in the guest (the tiny test guest)."""

    kernel: str
    initrd: str | None = None
    cmdline: str | None = None


@dataclass(frozen=True)
class OsBoot(XmlElement):
    arch: str
    machine: str
    boot_devices: tuple[str, ...]
    uefi: UefiFiles | None = None
    kernel: KernelBoot | None = None
    smbios: bool = False

    def element(self) -> ET.Element:
        # Explicit OVMF paths rather than ``firmware='efi'``: libvirt 9 refuses loader attributes
        # under autoselection, and explicit paths pin the images the host was checked for.
        os_node = ET.Element("os")
        os_node.append(text_element("type", "hvm", arch=self.arch, machine=self.machine))
        if self.uefi is not None:
            os_node.append(
                text_element(
                    "loader",
                    self.uefi.code,
                    readonly="yes",
                    secure=yes_no(self.uefi.secure),
                    type="pflash",
                )
            )
            ET.SubElement(os_node, "nvram", template=self.uefi.vars_template)
        if self.kernel is not None:
            os_node.append(text_element("kernel", self.kernel.kernel))
            if self.kernel.initrd is not None:
                os_node.append(text_element("initrd", self.kernel.initrd))
            if self.kernel.cmdline is not None:
                os_node.append(text_element("cmdline", self.kernel.cmdline))
        for dev in self.boot_devices:
            ET.SubElement(os_node, "boot", dev=dev)
        if self.smbios:
            ET.SubElement(os_node, "smbios", mode="sysinfo")
        return os_node
