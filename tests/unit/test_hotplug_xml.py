"""The devices a hot-plug hands libvirt: the disk's guest-side name and the device elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from virtfleet.agent.hypervisor.libvirt.hotplug import disk_element, free_target, nic_element
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.common.protocol import DiskSpec, NicSpec


def _devices(*targets: str) -> ET.Element:
    devices = ET.Element("devices")
    for dev in targets:
        disk = ET.SubElement(devices, "disk")
        ET.SubElement(disk, "target", dev=dev)
    return devices


def test_a_new_disk_takes_the_first_free_name_of_its_bus() -> None:
    assert free_target(_devices("vda", "vdc", "sda"), "virtio") == "vdb"
    assert free_target(_devices("vda", "sda"), "sata") == "sdb"
    assert free_target(_devices(), "ide") == "hda"


def test_a_vm_with_every_name_taken_gets_no_more_disks() -> None:
    taken = [f"vd{chr(ord('a') + i)}" for i in range(26)]
    with pytest.raises(Conflict):
        free_target(_devices(*taken), "virtio")


def test_an_unknown_bus_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        free_target(_devices(), "usb")


def test_the_plugged_disk_is_a_file_disk_on_its_target() -> None:
    name, node = disk_element(_devices("vda"), DiskSpec(path="/d/b.qcow2", readonly=True))
    assert name == "vdb"
    assert node.find("target").attrib == {"dev": "vdb", "bus": "virtio"}  # type: ignore[union-attr]
    assert node.find("source").get("file") == "/d/b.qcow2"  # type: ignore[union-attr]
    assert node.find("readonly") is not None


def test_the_plugged_nic_is_on_its_bridge_with_its_mac() -> None:
    node = nic_element(NicSpec(mac="56:6f:00:00:00:05", network="ovirtmgmt"))
    assert node.get("type") == "bridge"
    assert node.find("source").get("bridge") == "ovirtmgmt"  # type: ignore[union-attr]
    assert node.find("mac").get("address") == "56:6f:00:00:00:05"  # type: ignore[union-attr]
