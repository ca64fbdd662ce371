"""Which driver or storage operation answers each remote call of ``protocol.METHODS``.

Handlers are plain blocking functions taking the validated params model; the server runs them
in worker threads. Enrollment calls are not here: they change the listener (``server``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.common import protocol as p

Handler = Callable[[p.Wire], p.Wire]


class StorageBackend(Protocol):
    """What the agent needs of ``virtfleet.agent.storage.ops.StorageOps``."""

    def create_domain(self, spec: p.DomainCreate, /) -> p.DomainInfo: ...
    def connect_domain(self, ref: p.DomainRef, /) -> p.DomainInfo: ...
    def domain_info(self, ref: p.DomainRef, /) -> p.DomainInfo: ...
    def remove_domain(self, ref: p.DomainRef, /) -> None: ...
    def domain_usage(self, ref: p.DomainRef, /) -> p.DomainUsage: ...
    def create_volume(self, spec: p.VolumeCreate, /) -> p.VolumeInfo: ...
    def volume_info(self, ref: p.VolumeRef, /) -> p.VolumeInfo: ...
    def remove_volume(self, ref: p.VolumeRef, /) -> None: ...


P = TypeVar("P", bound=p.Wire)
R = TypeVar("R", bound=p.Wire)


def _bind(method: p.Method[P, R], fn: Callable[[P], R]) -> tuple[str, Handler]:
    # The server validates params with method.params before calling, so the cast holds.
    return method.name, cast(Handler, fn)


def build_handlers(driver: HypervisorDriver, storage: StorageBackend) -> dict[str, Handler]:
    """The handler of every method that needs an enrolled, authenticated engine."""
    empty = p.Empty()

    def remove_domain(ref: p.DomainRef) -> p.Empty:
        storage.remove_domain(ref)
        return empty

    def remove_volume(ref: p.VolumeRef) -> p.Empty:
        storage.remove_volume(ref)
        return empty

    def unplug_nic(ref: p.NicUnplug) -> p.Empty:
        driver.unplug_nic(ref.vm_id, ref.mac)
        return empty

    def unplug_disk(ref: p.DiskUnplug) -> p.Empty:
        driver.unplug_disk(ref.vm_id, ref.path)
        return empty

    def plugged(vm_id: str, device: str) -> p.PluggedDevice:
        return p.PluggedDevice(vm_id=vm_id, device=device)

    return dict(
        [
            _bind(p.HOST_PING, lambda _: p.Pong(time=time.time())),
            _bind(p.HOST_GET_CAPABILITIES, lambda _: driver.capabilities()),
            _bind(p.HOST_GET_STATS, lambda _: driver.host_stats()),
            _bind(p.VM_CREATE, driver.create_vm),
            _bind(p.VM_DESTROY, lambda r: driver.destroy_vm(r.vm_id)),
            _bind(p.VM_SHUTDOWN, lambda r: driver.shutdown_vm(r.vm_id, r.timeout_s)),
            _bind(p.VM_REBOOT, lambda r: driver.reboot_vm(r.vm_id)),
            _bind(p.VM_PAUSE, lambda r: driver.pause_vm(r.vm_id)),
            _bind(p.VM_RESUME, lambda r: driver.resume_vm(r.vm_id)),
            _bind(p.VM_SUSPEND, lambda r: driver.suspend_vm(r.vm_id)),
            _bind(p.VM_LIST, lambda _: p.VmStateList(vms=driver.list_vms())),
            _bind(p.VM_GET_STATS, lambda _: p.VmStatsList(vms=driver.vm_stats())),
            _bind(p.VM_SET_TICKET, driver.set_display_ticket),
            _bind(p.VM_GET_DISPLAY, lambda r: driver.display_endpoint(r.vm_id, r.protocol)),
            _bind(p.VM_HOTPLUG_NIC, lambda r: plugged(r.vm_id, driver.plug_nic(r.vm_id, r.nic))),
            _bind(p.VM_HOTUNPLUG_NIC, unplug_nic),
            _bind(p.VM_HOTPLUG_DISK, lambda r: plugged(r.vm_id, driver.plug_disk(r.vm_id, r.disk))),
            _bind(p.VM_HOTUNPLUG_DISK, unplug_disk),
            _bind(p.STORAGE_CREATE_DOMAIN, storage.create_domain),
            _bind(p.STORAGE_CONNECT_DOMAIN, storage.connect_domain),
            _bind(p.STORAGE_GET_DOMAIN_INFO, storage.domain_info),
            _bind(p.STORAGE_REMOVE_DOMAIN, remove_domain),
            _bind(p.STORAGE_GET_DOMAIN_USAGE, storage.domain_usage),
            _bind(p.VOLUME_CREATE, storage.create_volume),
            _bind(p.VOLUME_INFO, storage.volume_info),
            _bind(p.VOLUME_REMOVE, remove_volume),
        ]
    )
