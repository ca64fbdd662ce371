"""From the engine's model of a VM to the spec an agent defines it from (``VmSpec``).

Everything the agent needs is resolved here: disk paths on their storage domains, NIC networks,
chipset and firmware (the cluster's when the VM leaves it to the cluster), TPM, the cluster's CPU
type and the display.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import (
    BiosType,
    DisplayType,
    GraphicsType,
    SerialNumberPolicy,
)
from virtfleet.common.errors import Conflict
from virtfleet.engine.commands.vmtuning import nic_queues, tuning_fields
from virtfleet.engine.core.derived import volume_format
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

_BUSES = {"virtio": "virtio", "virtio_scsi": "scsi", "sata": "sata", "ide": "ide"}


def disk_spec(conn: Connection, attachment: m.DiskAttachment) -> p.DiskSpec:
    """An attached disk as the agent opens it; its volume path follows the domain layout."""
    assert attachment.disk is not None and attachment.disk.id is not None
    disk = repos.disks.get(conn, attachment.disk.id)
    domains = disk.storage_domains or []
    if not domains or domains[0].id is None:
        raise Conflict(f"The disk {disk.alias or disk.name} has no storage domain")
    domain = repos.storage_domains.get(conn, domains[0].id)
    path = domain.storage.path if domain.storage is not None else None
    if not path:
        raise Conflict(f"The storage domain {domain.name} has no path")
    interface = attachment.interface.value if attachment.interface else "virtio"
    return p.DiskSpec(
        path=f"{path}/{domain.id}/images/{disk.id}/{disk.image_id}",
        format=volume_format(disk.format),
        bus=_BUSES.get(interface, "virtio"),
        readonly=bool(attachment.read_only),
        bootable=bool(attachment.bootable),
    )


def disk_specs(conn: Connection, vm_id: str) -> list[p.DiskSpec]:
    """The VM's active disks."""
    attachments = repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == vm_id)
    return [
        disk_spec(conn, attachment)
        for attachment in attachments
        if attachment.active is not False
        and attachment.disk is not None
        and attachment.disk.id is not None
    ]


def console_log_path(conn: Connection, vm_id: str) -> str | None:
    """The guest's serial console log on its boot disk's storage domain (shared by every host),
    so the console stays readable wherever the VM runs; None without a disk."""
    attachments = repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == vm_id)
    ordered = sorted(attachments, key=lambda a: not a.bootable)
    for attachment in ordered:
        if attachment.active is False or attachment.disk is None or attachment.disk.id is None:
            continue
        domains = repos.disks.get(conn, attachment.disk.id).storage_domains or []
        if not domains or domains[0].id is None:
            continue
        domain = repos.storage_domains.get(conn, domains[0].id)
        path = domain.storage.path if domain.storage is not None else None
        if path:
            return f"{path}/{domain.id}/consoles/{vm_id}.log"
    return None


def nic_spec(conn: Connection, nic: m.Nic, queues: int | None = None) -> p.NicSpec | None:
    """The vNIC on the bridge of its profile's network (``queues`` for a virtio one); None when
    it is not connected (no profile or no MAC), which the agent does not create."""
    if nic.mac is None or not nic.mac.address:
        return None
    if nic.vnic_profile is None or nic.vnic_profile.id is None:
        return None
    profile = repos.vnic_profiles.find(conn, nic.vnic_profile.id)
    if profile is None or profile.network is None or profile.network.id is None:
        return None
    network = repos.networks.get(conn, profile.network.id)
    model = nic.interface.value if nic.interface else "virtio"
    return p.NicSpec(
        mac=nic.mac.address,
        network=network.name or "",
        model=model,
        queues=queues if model == "virtio" else None,
    )


def vm_nic_queues(conn: Connection, vm_id: str) -> int | None:
    """The queues each virtio NIC of the VM gets (``multi_queues_enabled``)."""
    return nic_queues(repos.vms.get(conn, vm_id))


def nic_specs(conn: Connection, vm_id: str) -> list[p.NicSpec]:
    """Plugged, connected NICs."""
    specs = []
    queues = vm_nic_queues(conn, vm_id)
    for nic in repos.nics.query(conn, tables.nics.c.vm_id == vm_id):
        spec = None if nic.plugged is False else nic_spec(conn, nic, queues)
        if spec is not None:
            specs.append(spec)
    return specs


_Q35 = frozenset({BiosType.Q35_OVMF, BiosType.Q35_SEA_BIOS, BiosType.Q35_SECURE_BOOT})
_UEFI = frozenset({BiosType.Q35_OVMF, BiosType.Q35_SECURE_BOOT})


def effective_bios(vm: m.Vm, cluster: m.Cluster | None) -> BiosType:
    """The VM's chipset and firmware; ``cluster_default`` (or nothing) means the cluster's."""
    chosen = vm.bios.type if vm.bios is not None else None
    if chosen is None or chosen == BiosType.CLUSTER_DEFAULT:
        chosen = cluster.bios_type if cluster is not None else None
    if chosen is None or chosen == BiosType.CLUSTER_DEFAULT:
        return BiosType.I440FX_SEA_BIOS
    return chosen


def machine_type(vm: m.Vm, bios: BiosType) -> str:
    if vm.custom_emulated_machine:
        return vm.custom_emulated_machine
    return "q35" if bios in _Q35 else "pc"


def graphics_protocols(vm: m.Vm) -> list[GraphicsType]:
    """The VM's graphics consoles, in order: those it keeps (none for a headless VM), or while
    it was never given any, one of its ``display.type`` (VNC when it names none)."""
    if vm.graphics_consoles is not None:
        return [c.protocol for c in vm.graphics_consoles if c.protocol is not None]
    display = vm.display.type if vm.display is not None and vm.display.type else None
    return [GraphicsType((display or DisplayType.VNC).value)]


def graphics_specs(vm: m.Vm) -> list[p.GraphicsSpec]:
    """A display per graphics console; each starts locked until a ticket is set. A VNC one
    takes the keyboard layout (oVirt's ``display.keyboard_layout`` is VNC's alone)."""
    layout = vm.display.keyboard_layout if vm.display is not None else None
    return [
        p.GraphicsSpec(type=protocol.value, keymap=layout if protocol == GraphicsType.VNC else None)
        for protocol in graphics_protocols(vm)
    ]


def smbios_serial(conn: Connection, vm: m.Vm) -> str | None:
    """The SMBIOS serial number the guest reads, per the VM's ``serial_number`` policy: its own
    id, its host's hardware UUID, a custom value, or none."""
    chosen = vm.serial_number
    policy = chosen.policy if chosen is not None else None
    if policy == SerialNumberPolicy.VM:
        return vm.id
    if policy == SerialNumberPolicy.CUSTOM:
        return (chosen.value if chosen is not None else None) or None
    if policy == SerialNumberPolicy.HOST and vm.host is not None and vm.host.id is not None:
        host = repos.hosts.find(conn, vm.host.id)
        hardware = host.hardware_information if host is not None else None
        return hardware.uuid if hardware is not None else None
    return None


def build_spec(conn: Connection, vm_id: str, now: datetime | None = None) -> p.VmSpec:
    """What the agent needs to define and start the VM, from the VM, its cluster and devices;
    ``now`` fixes the time zone's offset (summer time) for this run."""
    vm = repos.vms.get(conn, vm_id)
    cluster_id = vm.cluster.id if vm.cluster is not None else None
    cluster = repos.clusters.find(conn, cluster_id) if cluster_id else None
    bios = effective_bios(vm, cluster)
    topology = vm.cpu.topology if vm.cpu is not None else None
    boot = vm.os.boot.devices if vm.os is not None and vm.os.boot is not None else None
    kernel_boot = vm.os or m.OperatingSystem()
    return p.VmSpec(
        id=vm_id,
        name=vm.name or vm_id,
        memory_bytes=vm.memory or 0,
        cpu_sockets=(topology.sockets if topology else None) or 1,
        cpu_cores=(topology.cores if topology else None) or 1,
        cpu_threads=(topology.threads if topology else None) or 1,
        machine=machine_type(vm, bios),
        firmware="uefi" if bios in _UEFI else "bios",
        secure_boot=bios == BiosType.Q35_SECURE_BOOT,
        tpm=bool(vm.tpm_enabled),
        cpu_type=(cluster.cpu.type if cluster is not None and cluster.cpu is not None else None)
        or None,
        graphics=graphics_specs(vm),
        os_type=(vm.os.type if vm.os is not None else None) or "other",
        boot_devices=[device.value for device in boot] if boot else ["hd"],
        disks=disk_specs(conn, vm_id),
        nics=nic_specs(conn, vm_id),
        serial_log_path=console_log_path(conn, vm_id),
        serial_number=smbios_serial(conn, vm),
        kernel=kernel_boot.kernel or None,
        initrd=kernel_boot.initrd or None,
        cmdline=kernel_boot.cmdline or None,
        **tuning_fields(vm, now or datetime.now(UTC)),
    )
