"""The tuning and peripherals of a VM's spec: memory guarantee and balloon, CPU weight, model
and mode, sound, USB, the RTC's time zone, I/O threads, the video card, virtio-scsi and a
paused start, each from its oVirt field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.common import vcpu_count
from virtfleet.common.apimodel.enums import CpuMode
from virtfleet.common.timezones import utc_offset_s

_CPU_MODES = {CpuMode.HOST_MODEL: "host-model", CpuMode.HOST_PASSTHROUGH: "host-passthrough"}
# oVirt gives each virtio NIC of a multi-queue VM one queue per vCPU, at most four
MAX_NIC_QUEUES = 4


def usb_model(vm: m.Vm) -> str | None:
    """oVirt's ``usb``: enabled is a qemu-xhci controller, disabled none; unset, libvirt's."""
    if vm.usb is None or vm.usb.enabled is None:
        return None
    return "qemu-xhci" if vm.usb.enabled else "none"


def nic_queues(vm: m.Vm) -> int | None:
    """Queues of each virtio NIC: with ``multi_queues_enabled``, one per vCPU up to four."""
    return min(vcpu_count(vm.cpu), MAX_NIC_QUEUES) if vm.multi_queues_enabled else None


def video_fields(vm: m.Vm) -> dict[str, Any]:
    """The video card's model and heads; an unset video type follows the display protocol."""
    display = vm.display or m.Display()
    video = display.video_type.value if display.video_type is not None else None
    return {"video": video, "video_heads": display.monitors or 1}


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
        "cpu_mode": _CPU_MODES.get(vm.cpu.mode) if vm.cpu is not None and vm.cpu.mode else None,
        "virtio_scsi": vm.virtio_scsi.enabled if vm.virtio_scsi is not None else None,
        "start_paused": bool(vm.start_paused),
        **video_fields(vm),
    }
