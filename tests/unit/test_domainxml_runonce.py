"""Run-once devices in the domain: volatile disks get a transient overlay, the cloud-init seed a
read-only CD-ROM on the drive after the disks of its bus, and a start paused changes nothing in
the XML (libvirt starts it so)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from virtfleet.agent.hypervisor.libvirt.domainxml import build_domain
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import CloudInitSeed, DiskSpec, VmSpec

VM_ID = "6f1a1b0e-3c3e-4b8e-9a57-2f4c8a9d0e11"
SEED = CloudInitSeed(meta_data="instance-id: i\n", user_data="#cloud-config\n")
SEED_ISO = Path("/var/lib/virtfleet/agent/seeds/vm-cidata.iso")


def _spec(**fields: object) -> VmSpec:
    disks = [DiskSpec(path="/sd/a", bootable=True), DiskSpec(path="/sd/iso", readonly=True)]
    return VmSpec(id=VM_ID, name="vm1", memory_bytes=256 * 1024**2, disks=disks).model_copy(
        update=fields
    )


def _devices(spec: VmSpec, seed_iso: Path | None = None) -> ET.Element:
    root = ET.fromstring(build_domain(spec, "qemu", seed_iso=seed_iso).to_xml())
    devices = root.find("devices")
    assert devices is not None
    return devices


def _attr(node: ET.Element, child: str, name: str) -> str | None:
    found = node.find(child)
    assert found is not None, f"no <{child}>"
    return found.get(name)


def test_a_volatile_run_gives_every_writable_disk_a_transient_overlay() -> None:
    disks = _devices(_spec(volatile=True)).findall("disk")
    transient = {_attr(d, "source", "file"): d.find("transient") is not None for d in disks}
    assert transient == {"/sd/a": True, "/sd/iso": False}


def test_an_ordinary_run_has_no_transient_disk() -> None:
    assert _devices(_spec()).find("disk/transient") is None


@pytest.mark.parametrize(
    ("machine", "bus", "target"), [("pc", "ide", "hda"), ("q35", "sata", "sda")]
)
def test_the_seed_is_a_read_only_cdrom_after_the_disks_of_its_bus(
    machine: str, bus: str, target: str
) -> None:
    spec = _spec(cloud_init=SEED, machine=machine)
    [cdrom] = [d for d in _devices(spec, SEED_ISO).findall("disk") if d.get("device") == "cdrom"]
    assert _attr(cdrom, "source", "file") == str(SEED_ISO)
    assert (_attr(cdrom, "target", "bus"), _attr(cdrom, "target", "dev")) == (bus, target)
    assert cdrom.find("readonly") is not None


def test_the_seed_cdrom_takes_the_next_ide_drive() -> None:
    disks = [DiskSpec(path="/sd/a", bus="ide"), DiskSpec(path="/sd/b", bus="ide")]
    spec = _spec(cloud_init=SEED, disks=disks)
    targets = [_attr(d, "target", "dev") for d in _devices(spec, SEED_ISO).findall("disk")]
    assert targets == ["hda", "hdb", "hdc"]


def test_a_seed_needs_its_image_and_an_image_its_seed() -> None:
    with pytest.raises(InvalidInput):
        build_domain(_spec(cloud_init=SEED), "qemu")
    with pytest.raises(InvalidInput):
        build_domain(_spec(), "qemu", seed_iso=SEED_ISO)


def test_four_ide_disks_leave_no_drive_for_the_seed() -> None:
    disks = [DiskSpec(path=f"/sd/{n}", bus="ide") for n in "abcd"]
    with pytest.raises(InvalidInput, match="no free ide drive"):
        build_domain(_spec(cloud_init=SEED, disks=disks), "qemu", seed_iso=SEED_ISO)
