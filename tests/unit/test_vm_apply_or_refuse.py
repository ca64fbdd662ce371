"""The VM fields that used to be accepted and ignored: CPU mode, video card and monitors,
keyboard layout, NIC queues, virtio-scsi, a paused start, the memory ceiling, migration
settings and the VM type. Each reaches the spec and the domain, or is refused naming it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from virtfleet.agent.hypervisor.libvirt.domainxml import build_domain
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    CpuMode,
    DiskInterface,
    DisplayType,
    InheritableBoolean,
    VideoType,
    VmType,
)
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DiskSpec, GraphicsSpec, NicSpec, VmSpec
from virtfleet.engine.commands.runonce import RunOnce, apply_run_once
from virtfleet.engine.commands.vmspec import graphics_specs
from virtfleet.engine.commands.vmtuning import nic_queues, tuning_fields
from virtfleet.engine.services.vm_hardware import (
    refuse_scsi_disks_without_virtio_scsi,
    validate_hardware,
)
from virtfleet.engine.services.vm_migration import refuse_migration_changes
from virtfleet.engine.services.vms import validate_config, with_defaults

VM_ID = "6f1a1b0e-3c3e-4b8e-9a57-2f4c8a9d0e11"
GIB = 1024**3
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
VNC = GraphicsSpec(type="vnc")
SPICE = GraphicsSpec(type="spice")


def _root(domain_type: str = "kvm", **fields: object) -> ET.Element:
    spec = VmSpec.model_validate({"id": VM_ID, "name": "vm", "memory_bytes": GIB, **fields})
    return ET.fromstring(build_domain(spec, domain_type).to_xml())


def _cpus(count: int) -> m.Cpu:
    return m.Cpu(topology=m.CpuTopology(sockets=count, cores=1, threads=1))


# --- cpu.mode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "libvirt"),
    [
        (CpuMode.HOST_PASSTHROUGH, "host-passthrough"),
        (CpuMode.HOST_MODEL, "host-model"),
        (CpuMode.CUSTOM, None),
    ],
)
def test_cpu_mode_reaches_the_spec(mode: CpuMode, libvirt: str | None) -> None:
    assert tuning_fields(m.Vm(cpu=m.Cpu(mode=mode)), NOW)["cpu_mode"] == libvirt


def test_a_host_cpu_mode_replaces_the_cluster_model_and_keeps_the_topology() -> None:
    cpu = _root(cpu_type="Secure Intel Skylake Client Family", cpu_mode="host-passthrough").find(
        "cpu"
    )
    assert cpu is not None and cpu.get("mode") == "host-passthrough"
    assert cpu.find("model") is None and cpu.findall("feature") == []
    assert cpu.find("topology") is not None


def test_a_host_cpu_mode_with_a_custom_cpu_model_is_refused() -> None:
    vm = m.Vm(cpu=m.Cpu(mode=CpuMode.HOST_MODEL), custom_cpu_model="EPYC")
    with pytest.raises(InvalidInput, match=r"cpu\.mode"):
        validate_hardware(vm)


def test_an_unknown_cpu_mode_never_reaches_libvirt() -> None:
    with pytest.raises(InvalidInput):
        _root(cpu_mode="maximum")


# --- display -------------------------------------------------------------------------------------


def test_the_video_type_and_monitors_reach_the_video_card() -> None:
    vm = m.Vm(display=m.Display(type=DisplayType.SPICE, video_type=VideoType.QXL, monitors=4))
    fields = tuning_fields(vm, NOW)
    assert (fields["video"], fields["video_heads"]) == ("qxl", 4)
    model = _root(graphics=[SPICE], video="qxl", video_heads=4).find("devices/video/model")
    assert model is not None and (model.get("type"), model.get("heads")) == ("qxl", "4")


def test_an_unset_video_type_follows_the_protocol() -> None:
    assert _root(graphics=[VNC]).find("devices/video/model").get("type") == "vga"  # type: ignore[union-attr]
    assert _root(graphics=[SPICE]).find("devices/video/model").get("type") == "qxl"  # type: ignore[union-attr]
    assert _root(graphics=[VNC], video="bochs").find("devices/video/model").get("type") == "bochs"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "display",
    [
        m.Display(monitors=3),
        m.Display(type=DisplayType.VNC, monitors=2),
        m.Display(type=DisplayType.SPICE, video_type=VideoType.VGA, monitors=2),
        m.Display(keyboard_layout="klingon"),
    ],
)
def test_a_display_no_video_card_could_drive_is_refused_naming_the_field(
    display: m.Display,
) -> None:
    field = "keyboard_layout" if display.keyboard_layout else "monitors"
    with pytest.raises(InvalidInput, match=rf"display\.{field}"):
        validate_hardware(m.Vm(display=display))


def test_a_single_head_card_with_several_heads_never_reaches_libvirt() -> None:
    with pytest.raises(InvalidInput):
        _root(graphics=[VNC], video="vga", video_heads=2)


def test_the_keyboard_layout_is_the_keymap_of_the_vnc_display_only() -> None:
    vm = m.Vm(
        display=m.Display(keyboard_layout="de"),
        graphics_consoles=[m.GraphicsConsole(protocol="vnc"), m.GraphicsConsole(protocol="spice")],
    )
    assert [(g.type, g.keymap) for g in graphics_specs(vm)] == [("vnc", "de"), ("spice", None)]
    graphics = _root(graphics=[GraphicsSpec(type="vnc", keymap="de")]).find("devices/graphics")
    assert graphics is not None and graphics.get("keymap") == "de"
    assert _root(graphics=[VNC]).find("devices/graphics").get("keymap") is None  # type: ignore[union-attr]


# --- multi_queues_enabled ------------------------------------------------------------------------


@pytest.mark.parametrize(("vcpus", "queues"), [(1, 1), (2, 2), (4, 4), (16, 4)])
def test_multi_queue_nics_get_a_queue_per_vcpu_up_to_four(vcpus: int, queues: int) -> None:
    assert nic_queues(m.Vm(multi_queues_enabled=True, cpu=_cpus(vcpus))) == queues
    assert nic_queues(m.Vm(multi_queues_enabled=False, cpu=_cpus(vcpus))) is None


def test_nic_queues_reach_the_virtio_interface_driver() -> None:
    nics = [NicSpec(mac="52:54:00:00:00:01", network="br0", queues=4)]
    driver = _root(nics=nics).find("devices/interface/driver")
    assert driver is not None and driver.get("queues") == "4"
    single = [NicSpec(mac="52:54:00:00:00:01", network="br0", queues=1)]
    assert _root(nics=single).find("devices/interface/driver") is None


def test_queues_on_an_emulated_nic_never_reach_libvirt() -> None:
    with pytest.raises(InvalidInput):
        _root(nics=[NicSpec(mac="52:54:00:00:00:01", network="br0", model="e1000", queues=2)])


# --- virtio_scsi ---------------------------------------------------------------------------------


def _scsi_controllers(root: ET.Element) -> list[ET.Element]:
    return root.findall("devices/controller[@type='scsi']")


def test_virtio_scsi_enabled_adds_the_controller_without_a_scsi_disk() -> None:
    assert tuning_fields(m.Vm(virtio_scsi=m.VirtioScsi(enabled=True)), NOW)["virtio_scsi"]
    controllers = _scsi_controllers(_root(virtio_scsi=True))
    assert [c.get("model") for c in controllers] == ["virtio-scsi"]
    assert _scsi_controllers(_root(virtio_scsi=False)) == []
    assert _scsi_controllers(_root()) == []


def test_virtio_scsi_disabled_refuses_scsi_disks() -> None:
    vm = m.Vm(name="vm1", virtio_scsi=m.VirtioScsi(enabled=False))
    with pytest.raises(InvalidInput, match=r"virtio_scsi\.enabled"):
        refuse_scsi_disks_without_virtio_scsi(vm, [DiskInterface.VIRTIO_SCSI])
    refuse_scsi_disks_without_virtio_scsi(vm, [DiskInterface.VIRTIO, None])
    with pytest.raises(InvalidInput):
        _root(virtio_scsi=False, disks=[DiskSpec(path="/d0", bus="scsi")])


# --- start_paused --------------------------------------------------------------------------------


def test_start_paused_reaches_the_spec_and_run_once_keeps_it() -> None:
    spec = VmSpec(
        id=VM_ID, name="vm", memory_bytes=GIB, **tuning_fields(m.Vm(start_paused=True), NOW)
    )
    assert spec.start_paused
    assert apply_run_once(spec, RunOnce(volatile=True)).start_paused
    plain = spec.model_copy(update={"start_paused": False})
    assert apply_run_once(plain, RunOnce(pause=True)).start_paused


# --- memory_policy.max ---------------------------------------------------------------------------


def test_the_memory_ceiling_defaults_to_four_times_the_memory() -> None:
    vm = with_defaults(m.Vm(memory=2 * GIB))
    assert vm.memory_policy is not None and vm.memory_policy.max == 8 * GIB
    kept = with_defaults(m.Vm(memory=2 * GIB, memory_policy=m.MemoryPolicy(max=3 * GIB)))
    assert kept.memory_policy is not None and kept.memory_policy.max == 3 * GIB


def test_memory_above_the_ceiling_is_refused_naming_it() -> None:
    vm = m.Vm(memory=4 * GIB, memory_policy=m.MemoryPolicy(max=2 * GIB))
    with pytest.raises(InvalidInput, match=r"memory_policy\.max"):
        validate_config(vm)
    validate_config(m.Vm(memory=2 * GIB, memory_policy=m.MemoryPolicy(max=2 * GIB)))


# --- migration -----------------------------------------------------------------------------------


def test_migration_settings_sent_back_unchanged_or_neutral_pass() -> None:
    current = m.Vm(migration_downtime=500)
    refuse_migration_changes(current, m.Vm(migration_downtime=500))
    neutral = m.Vm(
        migration=m.MigrationOptions(auto_converge=InheritableBoolean.INHERIT),
        migration_downtime=-1,
        tunnel_migration=False,
    )
    refuse_migration_changes(m.Vm(), neutral)


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (
            m.Vm(migration=m.MigrationOptions(auto_converge=InheritableBoolean.TRUE)),
            "migration.auto_converge",
        ),
        (
            m.Vm(migration=m.MigrationOptions(compressed=InheritableBoolean.FALSE)),
            "migration.compressed",
        ),
        (
            m.Vm(migration=m.MigrationOptions(policy=m.MigrationPolicy(id="p1"))),
            "migration.policy.id",
        ),
        (m.Vm(migration_downtime=200), "migration_downtime"),
        (m.Vm(tunnel_migration=True), "tunnel_migration"),
    ],
)
def test_a_migration_change_is_refused_naming_the_field(wanted: m.Vm, field: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"{field} cannot be changed")):
        refuse_migration_changes(m.Vm(), wanted)


# --- type ----------------------------------------------------------------------------------------


def test_a_high_performance_vm_has_no_usb_unless_it_asks() -> None:
    vm = with_defaults(m.Vm(type=VmType.HIGH_PERFORMANCE))
    assert vm.usb is not None and vm.usb.enabled is False
    asked = with_defaults(m.Vm(type=VmType.HIGH_PERFORMANCE, usb=m.Usb(enabled=True)))
    assert asked.usb is not None and asked.usb.enabled
    assert with_defaults(m.Vm(type=VmType.DESKTOP)).usb is None
