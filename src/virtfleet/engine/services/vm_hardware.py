"""The tuning and peripherals a VM or template may ask for, checked before they are stored so
that every value kept is one the agent can put in the domain."""

from __future__ import annotations

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import UsbType
from virtfleet.common.cputypes import LIBVIRT_X86_MODELS
from virtfleet.common.errors import InvalidInput
from virtfleet.common.timezones import check_time_zone

MAX_CPU_SHARES = 262_144
MAX_IO_THREADS = 64


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
