"""Tuning and peripherals: from the VM's oVirt fields to its spec, the values refused, and the
domain XML they give."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from virtfleet.agent.hypervisor.libvirt.domainxml import build_domain
from virtfleet.agent.hypervisor.libvirt.tuning import METADATA_NS
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import UsbType
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DiskSpec, VmSpec
from virtfleet.common.timezones import utc_offset_s
from virtfleet.engine.commands.vmtuning import tuning_fields
from virtfleet.engine.services.vm_hardware import validate_hardware

VM_ID = "6f1a1b0e-3c3e-4b8e-9a57-2f4c8a9d0e11"
GIB = 1024**3
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def _root(domain_type: str = "kvm", **fields: object) -> ET.Element:
    spec = VmSpec.model_validate({"id": VM_ID, "name": "vm", "memory_bytes": GIB, **fields})
    return ET.fromstring(build_domain(spec, domain_type).to_xml())


def test_a_vm_that_asks_for_nothing_keeps_the_spec_defaults() -> None:
    fields = tuning_fields(m.Vm(), WINTER)
    defaults = VmSpec(id=VM_ID, name="vm", memory_bytes=GIB)
    assert fields == {name: getattr(defaults, name) for name in fields}


def test_every_tuning_field_reaches_the_spec() -> None:
    vm = m.Vm(
        memory_policy=m.MemoryPolicy(guaranteed=GIB // 2, ballooning=False),
        cpu_shares=512,
        soundcard_enabled=True,
        usb=m.Usb(enabled=True, type=UsbType.NATIVE),
        time_zone=m.TimeZone(name="Europe/Berlin"),
        custom_cpu_model="EPYC",
        io=m.Io(threads=3),
    )
    assert tuning_fields(vm, WINTER) == {
        "memballoon": False,
        "memory_guaranteed_bytes": GIB // 2,
        "cpu_shares": 512,
        "soundcard": True,
        "usb": "qemu-xhci",
        "clock_offset_s": 3600,
        "cpu_model": "EPYC",
        "iothreads": 3,
        "cpu_mode": None,
        "virtio_scsi": None,
        "start_paused": False,
        "video": None,
        "video_heads": 1,
    }


def test_usb_disabled_removes_the_controller_and_unset_leaves_libvirts() -> None:
    assert tuning_fields(m.Vm(usb=m.Usb(enabled=False)), WINTER)["usb"] == "none"
    assert tuning_fields(m.Vm(usb=m.Usb(type=UsbType.NATIVE)), WINTER)["usb"] is None


def test_cpu_shares_zero_means_the_hosts_default() -> None:
    assert tuning_fields(m.Vm(cpu_shares=0), WINTER)["cpu_shares"] is None


@pytest.mark.parametrize(
    ("name", "offset", "at", "expected"),
    [
        ("Europe/Berlin", None, WINTER, 3600),
        ("Europe/Berlin", None, SUMMER, 7200),
        ("GMT Standard Time", None, SUMMER, 3600),
        ("Etc/GMT", None, SUMMER, 0),
        ("Eastern Standard Time", None, WINTER, -5 * 3600),
        (None, "+05:30", WINTER, 19800),
        (None, "-03:00", WINTER, -10800),
        (None, None, WINTER, None),
    ],
)
def test_a_time_zone_is_its_offset_from_utc_at_start_time(
    name: str | None, offset: str | None, at: datetime, expected: int | None
) -> None:
    assert utc_offset_s(name, offset, at) == expected


@pytest.mark.parametrize(
    ("vm", "field"),
    [
        (m.Vm(cpu_shares=-1), "cpu_shares"),
        (m.Vm(cpu_shares=300_000), "cpu_shares"),
        (m.Vm(memory_policy=m.MemoryPolicy(guaranteed=-5)), "memory_policy.guaranteed"),
        (m.Vm(usb=m.Usb(enabled=True, type=UsbType.LEGACY)), "usb.type"),
        (m.Vm(custom_cpu_model="Pentium-9000"), "custom_cpu_model"),
        (m.Vm(io=m.Io(threads=65)), "io.threads"),
        (m.Vm(time_zone=m.TimeZone(name="Mars/Olympus")), "time_zone.name"),
        (m.Vm(time_zone=m.TimeZone(utc_offset="5 hours")), "time_zone.utc_offset"),
        (m.Vm(time_zone=m.TimeZone(utc_offset="+15:00")), "time_zone.utc_offset"),
    ],
)
def test_values_no_host_could_apply_are_refused_naming_the_field(vm: m.Vm, field: str) -> None:
    with pytest.raises(InvalidInput, match=field.replace(".", r"\.")):
        validate_hardware(vm)


def test_accepted_values_pass() -> None:
    validate_hardware(
        m.Vm(
            cpu_shares=1024,
            usb=m.Usb(enabled=False, type=UsbType.LEGACY),
            custom_cpu_model="Skylake-Client",
            io=m.Io(threads=0),
            time_zone=m.TimeZone(name="UTC"),
        )
    )


def test_the_guaranteed_memory_is_kept_in_the_domain_metadata_in_kib() -> None:
    root = _root(memory_guaranteed_bytes=GIB // 2)
    kept = root.find(f"metadata/{{{METADATA_NS}}}vm/{{{METADATA_NS}}}memory_guaranteed")
    assert kept is not None and (kept.text, kept.get("unit")) == ("524288", "KiB")
    assert root.find("memtune") is None  # QEMU refuses min_guarantee


def test_the_sound_card_follows_the_chipset() -> None:
    assert _root(soundcard=True).findall("devices/sound")[0].get("model") == "ich6"
    q35 = _root(soundcard=True, machine="q35")
    assert q35.findall("devices/sound")[0].get("model") == "ich9"
    assert _root().find("devices/sound") is None


def test_native_usb_is_an_xhci_controller_with_a_tablet() -> None:
    root = _root(usb="qemu-xhci")
    controllers = root.findall("devices/controller[@type='usb']")
    assert [c.get("model") for c in controllers] == ["qemu-xhci"]
    assert root.find("devices/input[@type='tablet'][@bus='usb']") is not None


def test_usb_none_has_no_tablet() -> None:
    root = _root(usb="none")
    assert root.find("devices/controller[@type='usb']").get("model") == "none"  # type: ignore[union-attr]
    assert root.find("devices/input") is None


def test_a_disabled_balloon_is_model_none_on_every_driver() -> None:
    for driver in ("kvm", "qemu", "test"):
        balloon = _root(driver, memballoon=False).find("devices/memballoon")
        assert balloon is not None and balloon.get("model") == "none"


def test_a_clock_offset_makes_the_rtc_variable_from_utc() -> None:
    clock = _root(clock_offset_s=-3600, os_type="windows_10x64").find("clock")
    assert clock is not None
    assert (clock.get("offset"), clock.get("adjustment"), clock.get("basis")) == (
        "variable",
        "-3600",
        "utc",
    )


def test_a_custom_cpu_model_replaces_the_cluster_model_and_its_features() -> None:
    cpu = _root(cpu_type="Secure Intel Skylake Client Family", cpu_model="Westmere").find("cpu")
    assert cpu is not None and cpu.findtext("model") == "Westmere"
    assert cpu.findall("feature") == []


def test_virtio_disks_take_the_io_threads_in_turn_and_others_none() -> None:
    disks = [DiskSpec(path=f"/d{i}", bus=bus) for i, bus in enumerate(["virtio", "sata", "virtio"])]
    root = _root(disks=disks, iothreads=1)
    assert root.findtext("iothreads") == "1"
    assert [d.find("driver").get("iothread") for d in root.iter("disk")] == ["1", None, "1"]  # type: ignore[union-attr]


def test_cpu_shares_reach_cputune() -> None:
    assert _root(cpu_shares=2048).findtext("cputune/shares") == "2048"
    assert _root().find("cputune") is None


def test_an_unknown_usb_model_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        _root(usb="ohci")
