"""Namespace hosts on this machine: own libvirtd each, real guests, and nothing left after down."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.e2e import names
from virtfleet.testbed import GuestImage, Testbed, TestbedError, thin_clone
from virtfleet.testbed.initramfs import UP_MARKER
from virtfleet.testbed.namespaces import netns_pids
from virtfleet.testbed.processes import is_alive

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the testbed needs root"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64")),
        reason="needs libvirt-daemon-system, libvirt-clients and qemu-system-x86",
    ),
]
BOOT_LIMIT = 60.0


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    base = tmp_path_factory.mktemp("testbed") / "base"
    with Testbed.up(base, 2, prefix="vfe", subnet="10.78.0.0/24") as bed:
        yield bed


def _domain_xml(name: str, image: GuestImage, disk: Path, console: Path) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image.kernel}</kernel>
    <initrd>{image.initrd}</initrd>
    <cmdline>{image.cmdline}</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='{console}' append='on'/><target port='0'/></serial>
    <console type='file'>
      <source path='{console}' append='on'/><target type='serial' port='0'/>
    </console>
  </devices>
</domain>
"""


def _start_domain(bed: Testbed, host: str, name: str, image: GuestImage) -> Path:
    """Define and start a guest on ``host`` with its disk and console on shared storage."""
    disk = bed.shared_dir / f"{name}.qcow2"
    console = bed.shared_dir / f"{name}.log"
    thin_clone(image.data_disk, disk)
    xml = bed.shared_dir / f"{name}.xml"
    xml.write_text(_domain_xml(name, image, disk, console))
    uri = bed.host(host).libvirt_uri
    bed.run_in(host, ["virsh", "-c", uri, "define", str(xml)])
    bed.run_in(host, ["virsh", "-c", uri, "start", name])
    return console


def _wait_for_text(path: Path, text: str, limit: float) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        seen = path.read_text(errors="replace") if path.exists() else ""
        if text in seen:
            return seen
        time.sleep(0.2)
    pytest.fail(f"{text!r} did not appear in {path} within {limit:g} s")


def _processes_mounting(path: Path) -> list[int]:
    """PIDs of processes whose mount namespace has a mount from ``path`` (any namespace)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(path) in (proc / "mountinfo").read_text():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_each_host_answers_on_its_own_address_with_its_own_uuid(testbed: Testbed) -> None:
    asker = testbed.hosts[1]
    uuids = []
    for host in testbed.hosts:
        caps = testbed.run_in(asker, ["virsh", "-c", host.libvirt_uri, "capabilities"])
        match = re.search(r"<uuid>([0-9a-f-]+)</uuid>", caps)
        assert match is not None
        assert match.group(1) == host.host_uuid
        uuids.append(match.group(1))
    assert len(set(uuids)) == len(testbed.hosts)


def test_spawned_process_lives_in_the_host_network_namespace(testbed: Testbed) -> None:
    host = testbed.hosts[1]
    proc = testbed.spawn_in(host, ["ip", "-4", "-o", "addr", "show"], stdout=subprocess.PIPE)
    try:
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"inet {host.address}/24" in out.decode()
    assert testbed.plan.bridge_address not in out.decode()


def test_status_reports_running_daemons(testbed: Testbed) -> None:
    statuses = testbed.status()
    assert [s.host.name for s in statuses] == ["h1", "h2"]
    assert all(s.netns_present and s.libvirtd_alive and s.virtlogd_alive for s in statuses)


def test_state_file_lets_another_process_find_the_testbed(testbed: Testbed) -> None:
    loaded = Testbed.load(testbed.base_dir)
    assert loaded.hosts == testbed.hosts


def test_guest_defined_on_host_one_boots_to_its_marker(testbed: Testbed, image: GuestImage) -> None:
    host = testbed.hosts[0]
    try:
        console = _start_domain(testbed, host.name, "vfe-boot", image)
        seen = _wait_for_text(console, "DATA: hello-from-base", BOOT_LIMIT)
        assert UP_MARKER in seen
    finally:
        testbed.run_in(host, ["virsh", "-c", host.libvirt_uri, "destroy", "vfe-boot"], timeout=30)
        testbed.run_in(host, ["virsh", "-c", host.libvirt_uri, "undefine", "vfe-boot"])


def test_down_leaves_no_namespace_link_process_mount_or_directory(
    tmp_path: Path, image: GuestImage
) -> None:
    base = tmp_path / "base"
    bed = Testbed.up(base, 2, prefix="vfd", subnet="10.76.0.0/24")
    try:
        _start_domain(bed, "h2", "vfd-guest", image)
        sleeper = bed.spawn_in("h1", ["sleep", "600"])
        pids = [sleeper.pid]
        for status in bed.status():
            pids += [p for p in (status.libvirtd_pid, status.virtlogd_pid) if p is not None]
        pids += netns_pids("vfdh2")
        assert len(pids) >= 6  # sleeper, 2 x (libvirtd, virtlogd), the guest's QEMU
    finally:
        bed.down()
    sleeper.wait(5)
    assert not [pid for pid in pids if is_alive(pid)]
    assert names("/run/netns", "vfd") == []
    assert names("/sys/class/net", "vfd") == []
    assert _processes_mounting(base) == []
    assert "/run/netns/vfd" not in Path("/proc/self/mountinfo").read_text()
    assert not base.exists()


def test_failed_bring_up_removes_everything_it_created(tmp_path: Path) -> None:
    bad_etc = tmp_path / "etc-libvirt"
    shutil.copytree("/etc/libvirt", bad_etc, symlinks=True)
    with (bad_etc / "libvirtd.conf").open("a") as conf:
        conf.write('listen_tcp = "not-a-bool"\n')
    base = tmp_path / "base"
    with pytest.raises(TestbedError, match="libvirtd"):
        Testbed.up(base, 2, prefix="vfr", subnet="10.75.0.0/24", libvirt_etc=bad_etc)
    assert names("/run/netns", "vfr") == []
    assert names("/sys/class/net", "vfr") == []
    assert _processes_mounting(base) == []
    assert not base.exists()
