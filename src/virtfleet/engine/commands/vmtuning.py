"""The tuning and peripherals of a VM's spec: memory guarantee and balloon, CPU weight and
model, sound, USB, the RTC's time zone and I/O threads, each from its oVirt field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.timezones import utc_offset_s


def usb_model(vm: m.Vm) -> str | None:
    """oVirt's ``usb``: enabled is a qemu-xhci controller, disabled none; unset, libvirt's."""
    if vm.usb is None or vm.usb.enabled is None:
        return None
    return "qemu-xhci" if vm.usb.enabled else "none"


def tuning_fields(vm: m.Vm, now: datetime) -> dict[str, Any]:
    """The ``VmSpec`` fields these settings fill (the others keep their defaults)."""
    policy = vm.memory_policy or m.MemoryPolicy()
    zone = vm.time_zone
    return {
        "memballoon": policy.ballooning is not False,
        "memory_guaranteed_bytes": policy.guaranteed,
        "cpu_shares": vm.cpu_shares or None,
        "soundcard": bool(vm.soundcard_enabled),
        "usb": usb_model(vm),
        "clock_offset_s": None if zone is None else utc_offset_s(zone.name, zone.utc_offset, now),
        "cpu_model": vm.custom_cpu_model or None,
        "iothreads": (vm.io.threads if vm.io is not None else None) or 0,
    }
