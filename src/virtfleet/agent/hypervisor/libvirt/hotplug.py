"""Plugging vNICs and disks into a running domain and taking them out again.

A real host changes the live guest and the persistent definition together
(``attachDeviceFlags``/``detachDeviceFlags`` with LIVE and CONFIG). libvirt's test driver changes
no live device, so a simulated host puts the change in the domain's persistent definition only,
where tests read it back.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt

from virtfleet.common.errors import AgentError, Conflict
from virtfleet.common.protocol import DiskSpec, NicSpec

from .devices import Disk
from .domainxml import disk_prefix, interface

log = logging.getLogger(__name__)

_FLAGS = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
_MAX_DISKS_PER_PREFIX = 26
_RELEASE_WAIT_S = 15.0
_RELEASE_POLL_S = 0.2


def _running(dom: Any, vm_id: str) -> None:
    if not dom.isActive():
        raise Conflict(f"VM {vm_id} is not running")


def _devices(dom: Any, flags: int = 0) -> ET.Element:
    devices = ET.fromstring(dom.XMLDesc(flags)).find("devices")
    return devices if devices is not None else ET.Element("devices")


def _nic_node(devices: ET.Element, mac: str) -> ET.Element | None:
    for node in devices.iterfind("interface"):
        found = node.find("mac")
        if found is not None and (found.get("address") or "").lower() == mac.lower():
            return node
    return None


def _disk_node(devices: ET.Element, path: str) -> ET.Element | None:
    for node in devices.iterfind("disk"):
        source = node.find("source")
        if source is not None and source.get("file") == path:
            return node
    return None


def free_target(devices: ET.Element, bus: str) -> str:
    """The first guest-side disk name of the bus's prefix that no disk of the domain uses."""
    prefix = disk_prefix(bus)
    used = {
        target.get("dev")
        for target in devices.iterfind("disk/target")
        if (target.get("dev") or "").startswith(prefix)
    }
    for index in range(_MAX_DISKS_PER_PREFIX):
        name = prefix + chr(ord("a") + index)
        if name not in used:
            return name
    raise Conflict(f"the VM has no free disk name left ({prefix}a to {prefix}z are in use)")


def nic_element(nic: NicSpec) -> ET.Element:
    return interface(nic).element()


def disk_element(devices: ET.Element, disk: DiskSpec) -> tuple[str, ET.Element]:
    target = free_target(devices, disk.bus)
    return target, Disk(disk.path, disk.format, disk.bus, target, disk.readonly).element()


class LiveDevices:
    """Device changes on a real host: the guest sees them at once."""

    def current(self, dom: Any) -> ET.Element:
        return _devices(dom)

    def plug(self, dom: Any, vm_id: str, node: ET.Element) -> None:
        _running(dom, vm_id)
        dom.attachDeviceFlags(ET.tostring(node, encoding="unicode"), _FLAGS)

    def unplug(
        self, dom: Any, vm_id: str, node: ET.Element, still_there: Callable[[], bool]
    ) -> None:
        """Ask the guest to release the device and wait until it has (a guest that never
        answers keeps it: the call fails and the engine keeps the device plugged)."""
        _running(dom, vm_id)
        dom.detachDeviceFlags(ET.tostring(node, encoding="unicode"), _FLAGS)
        deadline = time.monotonic() + _RELEASE_WAIT_S
        while still_there():
            if time.monotonic() > deadline:
                raise AgentError(f"the guest of VM {vm_id} did not release the device")
            time.sleep(_RELEASE_POLL_S)


class SimulatedDevices:
    """Device changes on libvirt's test driver, which has no live device hot-plug: they go into
    the domain's persistent definition."""

    def __init__(self, conn: Callable[[], Any]) -> None:
        self._conn = conn

    def current(self, dom: Any) -> ET.Element:
        return _devices(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)

    def _redefine(self, dom: Any, change: Callable[[ET.Element], None]) -> None:
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = root.find("devices")
        if devices is None:
            devices = ET.SubElement(root, "devices")
        change(devices)
        self._conn().defineXML(ET.tostring(root, encoding="unicode"))

    def plug(self, dom: Any, vm_id: str, node: ET.Element) -> None:
        _running(dom, vm_id)
        self._redefine(dom, lambda devices: devices.append(node))

    def unplug(
        self, dom: Any, vm_id: str, node: ET.Element, still_there: Callable[[], bool]
    ) -> None:
        _running(dom, vm_id)

        def remove(devices: ET.Element) -> None:
            for child in list(devices):
                if child.tag == node.tag and _same_device(child, node):
                    devices.remove(child)

        self._redefine(dom, remove)


def _same_device(a: ET.Element, b: ET.Element) -> bool:
    if a.tag == "interface":
        mac_a, mac_b = a.find("mac"), b.find("mac")
        return (
            mac_a is not None and mac_b is not None and mac_a.get("address") == mac_b.get("address")
        )
    src_a, src_b = a.find("source"), b.find("source")
    return src_a is not None and src_b is not None and src_a.get("file") == src_b.get("file")


Devices = LiveDevices | SimulatedDevices


def plug_nic(devices: Devices, dom: Any, vm_id: str, nic: NicSpec) -> str:
    if _nic_node(devices.current(dom), nic.mac) is not None:
        return nic.mac  # plugged already (a command step run again)
    devices.plug(dom, vm_id, nic_element(nic))
    log.info("vNIC plugged vm_id=%s mac=%s", vm_id, nic.mac)
    return nic.mac


def unplug_nic(devices: Devices, dom: Any, vm_id: str, mac: str) -> None:
    node = _nic_node(devices.current(dom), mac)
    if node is None:
        return  # gone already
    devices.unplug(
        dom,
        vm_id,
        node,
        lambda: _nic_node(devices.current(dom), mac) is not None,
    )
    log.info("vNIC unplugged vm_id=%s mac=%s", vm_id, mac)


def plug_disk(devices: Devices, dom: Any, vm_id: str, disk: DiskSpec) -> str:
    current = devices.current(dom)
    present = _disk_node(current, disk.path)
    if present is not None:
        target = present.find("target")
        return (target.get("dev") if target is not None else None) or ""
    name, node = disk_element(current, disk)
    devices.plug(dom, vm_id, node)
    log.info("disk plugged vm_id=%s target=%s path=%s", vm_id, name, disk.path)
    return name


def unplug_disk(devices: Devices, dom: Any, vm_id: str, path: str) -> None:
    node = _disk_node(devices.current(dom), path)
    if node is None:
        return
    devices.unplug(
        dom,
        vm_id,
        node,
        lambda: _disk_node(devices.current(dom), path) is not None,
    )
    log.info("disk unplugged vm_id=%s path=%s", vm_id, path)
