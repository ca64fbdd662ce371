"""The tuning and peripherals a VM or template may ask for, checked before they are stored so
that every value kept is one the agent can put in the domain."""

from __future__ import annotations

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    CpuMode,
    DiskInterface,
    DisplayType,
    UsbType,
    VideoType,
)
from virtfleet.common.cputypes import LIBVIRT_X86_MODELS
from virtfleet.common.errors import InvalidInput
from virtfleet.common.timezones import check_time_zone

MAX_CPU_SHARES = 262_144
MAX_IO_THREADS = 64
MONITORS = (1, 2, 4)
# QEMU's keymaps (its share/keymaps), the layouts a VNC display can translate keys with
KEYBOARD_LAYOUTS = frozenset(
    [
        "ar",
        "bepo",
        "cz",
        "da",
        "de",
        "de-ch",
        "en-gb",
        "en-us",
        "es",
        "et",
        "fi",
        "fo",
        "fr",
        "fr-be",
        "fr-ca",
        "fr-ch",
        "hr",
        "hu",
        "is",
        "it",
        "ja",
        "lt",
        "lv",
        "mk",
        "nl",
        "no",
        "pl",
        "pt",
        "pt-br",
        "ru",
        "sl",
        "sv",
        "th",
        "tr",
    ]
)


def video_type(display: m.Display | None) -> VideoType:
    """The video card: ``display.video_type``, or qxl for SPICE and VGA for VNC."""
    if display is not None and display.video_type is not None:
        return display.video_type
    spice = display is not None and display.type == DisplayType.SPICE
    return VideoType.QXL if spice else VideoType.VGA


def _validate_display(display: m.Display | None) -> None:
    if display is None:
        return
    monitors = display.monitors
    if monitors is not None and monitors not in MONITORS:
        raise InvalidInput("display.monitors must be 1, 2 or 4")
    if (monitors or 1) > 1 and video_type(display) != VideoType.QXL:
        raise InvalidInput(
            "display.monitors above 1 needs a qxl video card (display.video_type qxl, or a "
            f"SPICE display): a {video_type(display)} card drives one monitor"
        )
    layout = display.keyboard_layout
    if layout is not None and layout not in KEYBOARD_LAYOUTS:
        raise InvalidInput(
            f"Unknown display.keyboard_layout '{layout}': use one of "
            f"{', '.join(sorted(KEYBOARD_LAYOUTS))}"
        )


def _validate_cpu_mode(vm: m.VmBase) -> None:
    mode = vm.cpu.mode if vm.cpu is not None else None
    if mode not in (None, CpuMode.CUSTOM) and vm.custom_cpu_model:
        raise InvalidInput(
            f"cpu.mode {mode} gives the guest the host's CPU: it cannot be combined with "
            "custom_cpu_model"
        )


def validate_hardware(vm: m.VmBase) -> None:
    """Refuse, naming the field, what no host could apply."""
    if vm.cpu_shares is not None and not 0 <= vm.cpu_shares <= MAX_CPU_SHARES:
        raise InvalidInput(f"cpu_shares must be between 0 and {MAX_CPU_SHARES}")
    policy = vm.memory_policy
    if policy is not None and policy.guaranteed is not None and policy.guaranteed < 0:
        raise InvalidInput("memory_policy.guaranteed cannot be negative")
    if vm.usb is not None and vm.usb.enabled and vm.usb.type == UsbType.LEGACY:
        raise InvalidInput("usb.type legacy is not supported: use native (a qemu-xhci controller)")
    model = vm.custom_cpu_model
    if model and model not in LIBVIRT_X86_MODELS:
        raise InvalidInput(
            f"Unknown custom_cpu_model '{model}': name a libvirt CPU model "
            "(Skylake-Client, EPYC, qemu64...)"
        )
    threads = vm.io.threads if vm.io is not None else None
    if threads is not None and not 0 <= threads <= MAX_IO_THREADS:
        raise InvalidInput(f"io.threads must be between 0 and {MAX_IO_THREADS}")
    if vm.time_zone is not None:
        check_time_zone(vm.time_zone.name, vm.time_zone.utc_offset)
    _validate_cpu_mode(vm)
    _validate_display(vm.display)


def refuse_scsi_disks_without_virtio_scsi(vm: m.Vm, interfaces: list[DiskInterface | None]) -> None:
    """A VM with ``virtio_scsi.enabled`` false has no SCSI controller for such a disk."""
    disabled = vm.virtio_scsi is not None and vm.virtio_scsi.enabled is False
    if disabled and DiskInterface.VIRTIO_SCSI in interfaces:
        raise InvalidInput(
            f"VM {vm.name} has virtio_scsi.enabled false: a disk on the virtio_scsi interface "
            "needs it enabled"
        )
