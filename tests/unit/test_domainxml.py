"""Domain XML built from VM specs, compared with checked-in golden files.

Set VIRTFLEET_REGEN_GOLDEN=1 to rewrite the files after an intended change, then review the diff.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from virtfleet.agent.hypervisor.libvirt.domainxml import build_domain
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DiskSpec, GraphicsSpec, NicSpec, VmSpec

GOLDEN = Path(__file__).parent.parent / "data" / "domainxml"
VM_ID = "6f1a1b0e-3c3e-4b8e-9a57-2f4c8a9d0e11"
GIB = 1024**3
TICKET_END = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

SPECS: dict[str, tuple[VmSpec, str]] = {
    "minimal-test": (VmSpec(id=VM_ID, name="tiny", memory_bytes=GIB // 4), "test"),
    "server-kvm": (
        VmSpec(
            id=VM_ID,
            name="web-01",
            memory_bytes=4 * GIB,
            cpu_sockets=2,
            cpu_cores=2,
            cpu_threads=2,
            machine="q35",
            boot_devices=["hd", "network"],
            disks=[
                DiskSpec(path="/rhev/data/sd/images/a/b", bootable=True),
                DiskSpec(path="/rhev/data/sd/images/c/d", format="raw"),
            ],
            nics=[
                NicSpec(mac="56:6f:00:00:00:01", network="ovirtmgmt"),
                NicSpec(mac="56:6f:00:00:00:02", network="storage", model="e1000"),
            ],
        ),
        "kvm",
    ),
    "scsi-and-ide-qemu": (
        VmSpec(
            id=VM_ID,
            name="legacy",
            memory_bytes=GIB,
            boot_devices=["cdrom", "hd"],
            disks=[
                DiskSpec(path="/images/sys.qcow2", bus="scsi"),
                DiskSpec(path="/images/data.raw", format="raw", bus="sata"),
                DiskSpec(path="/images/iso.raw", format="raw", bus="ide", readonly=True),
            ],
        ),
        "qemu",
    ),
    "i440fx-bios-minimal-kvm": (
        VmSpec(id=VM_ID, name="small", memory_bytes=GIB, machine="pc", memballoon=False),
        "kvm",
    ),
    "q35-uefi-secureboot-tpm-qemu": (
        VmSpec(
            id=VM_ID,
            name="secure",
            memory_bytes=2 * GIB,
            cpu_cores=2,
            machine="q35",
            firmware="uefi",
            secure_boot=True,
            tpm=True,
            cpu_type="Secure Intel Skylake Client Family",
            disks=[DiskSpec(path="/rhev/data/sd/images/img/top-volume", bootable=True)],
            watchdog_action="reset",
        ),
        "qemu",
    ),
    "windows-2019-kvm": (
        VmSpec(
            id=VM_ID,
            name="win-01",
            memory_bytes=8 * GIB,
            cpu_sockets=2,
            cpu_cores=4,
            machine="q35",
            os_type="windows_2019x64",
            firmware="uefi",
            cpu_type="AMD EPYC",
            disks=[DiskSpec(path="/images/win.qcow2", bus="sata")],
            graphics=[GraphicsSpec(type="spice", password="s3cret", password_valid_to=TICKET_END)],
        ),
        "kvm",
    ),
    "bridge-nics-vnc-kvm": (
        VmSpec(
            id=VM_ID,
            name="router",
            memory_bytes=GIB,
            machine="q35",
            nics=[
                NicSpec(mac="56:6f:00:00:00:0a", network="ovirtmgmt"),
                NicSpec(mac="56:6f:00:00:00:0b", network="default", kind="network"),
                NicSpec(mac="56:6f:00:00:00:0c", network="", kind="user", model="e1000"),
            ],
            graphics=[GraphicsSpec(type="vnc", password="ab12cd34", password_valid_to=TICKET_END)],
        ),
        "kvm",
    ),
    "kernel-boot-serial-log-qemu": (
        VmSpec(
            id=VM_ID,
            name="tiny-guest",
            memory_bytes=GIB // 4,
            machine="q35",
            kernel="/boot/vmlinuz-6.1.0-56-amd64",
            initrd="/var/lib/virtfleet/tiny/initrd.gz",
            cmdline="console=ttyS0 quiet",
            disks=[DiskSpec(path="/var/lib/virtfleet/tiny/vm1.qcow2")],
            serial_log_path="/var/log/virtfleet/vm1.log",
            serial_number="tiny-serial-01",
        ),
        "qemu",
    ),
    "tuned-desktop-q35-kvm": (
        VmSpec(
            id=VM_ID,
            name="desk-01",
            memory_bytes=2 * GIB,
            machine="q35",
            disks=[
                DiskSpec(path="/images/sys.qcow2", bootable=True),
                DiskSpec(path="/images/data.qcow2"),
                DiskSpec(path="/images/logs.qcow2"),
            ],
            memory_guaranteed_bytes=GIB,
            cpu_shares=2048,
            soundcard=True,
            usb="qemu-xhci",
            clock_offset_s=3600,
            cpu_model="Skylake-Client",
            cpu_type="Intel SandyBridge Family",
            iothreads=2,
        ),
        "kvm",
    ),
    "no-usb-no-balloon-i440fx-test": (
        VmSpec(
            id=VM_ID,
            name="lean",
            memory_bytes=GIB,
            soundcard=True,
            usb="none",
            memballoon=False,
            clock_offset_s=-18000,
        ),
        "test",
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_domain_xml_matches_golden_file(name: str) -> None:
    spec, domain_type = SPECS[name]
    rendered = build_domain(spec, domain_type).to_xml()
    golden = GOLDEN / f"{name}.xml"
    if os.environ.get("VIRTFLEET_REGEN_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_domain_uuid_is_the_vm_id_and_name_the_vm_name() -> None:
    root = ET.fromstring(build_domain(SPECS["server-kvm"][0], "kvm").to_xml())
    assert (root.findtext("uuid"), root.findtext("name")) == (VM_ID, "web-01")


def test_vcpu_count_is_the_product_of_the_topology() -> None:
    root = ET.fromstring(build_domain(SPECS["server-kvm"][0], "kvm").to_xml())
    assert root.findtext("vcpu") == "8"


def test_names_in_the_spec_are_escaped_not_injected() -> None:
    spec = VmSpec(id=VM_ID, name="a</name><evil/>", memory_bytes=GIB)
    root = ET.fromstring(build_domain(spec, "test").to_xml())
    assert root.findtext("name") == "a</name><evil/>"
    assert root.find(".//evil") is None


def test_disks_on_scsi_and_sata_share_the_sd_names() -> None:
    root = ET.fromstring(build_domain(SPECS["scsi-and-ide-qemu"][0], "qemu").to_xml())
    targets = [t.get("dev") for t in root.iter("target") if t.get("bus")]
    assert targets == ["sda", "sdb", "hda"]


def test_unknown_disk_bus_is_invalid() -> None:
    spec = VmSpec(id=VM_ID, name="x", memory_bytes=GIB, disks=[DiskSpec(path="/a", bus="usb")])
    with pytest.raises(InvalidInput):
        build_domain(spec, "kvm")


def test_unknown_boot_device_is_invalid() -> None:
    spec = VmSpec(id=VM_ID, name="x", memory_bytes=GIB, boot_devices=["floppy-disk"])
    with pytest.raises(InvalidInput):
        build_domain(spec, "kvm")


@pytest.mark.skipif(shutil.which("virt-xml-validate") is None, reason="libvirt schemas missing")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_golden_files_follow_libvirt_domain_schema(name: str) -> None:
    result = subprocess.run(
        ["virt-xml-validate", str(GOLDEN / f"{name}.xml"), "domain"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
