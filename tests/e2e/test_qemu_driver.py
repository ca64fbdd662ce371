"""The libvirt driver against real QEMU (TCG) through a private libvirtd this module starts.

The daemons run in their own mount namespace with private /run, /var/lib, /var/log, /var/cache
and /etc for libvirt, so nothing of theirs is left on the machine when they stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.e2e import tiny_guest_spec
from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.agent.hypervisor.libvirt.firmware import uefi_files
from virtfleet.agent.hypervisor.libvirt.kvmprobe import boots, host_kernel
from virtfleet.common.errors import NotFound
from virtfleet.common.protocol import (
    DiskSpec,
    Hypervisor,
    NicSpec,
    VmRunState,
    VmSpec,
    VmState,
)
from virtfleet.testbed import GuestImage, thin_clone
from virtfleet.testbed.initramfs import (
    BLOCK_GONE_PREFIX,
    BLOCK_PREFIX,
    CLEAN_SHUTDOWN_LINE,
    POWEROFF_MARKER,
    SYNCED_MARKER,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

MIB = 1024**2
_NEEDED = ("libvirtd", "virtlogd", "qemu-system-x86_64", "swtpm", "unshare")
_PRIVATE = {
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "log": "/var/log/libvirt",
    "cache": "/var/cache/libvirt",
    "etc": "/etc/libvirt",
}
_QEMU_CONF = """
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
swtpm_user = "root"
swtpm_group = "root"
"""


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a private mount namespace"
    absent = [name for name in _NEEDED if shutil.which(name) is None]
    if absent:
        return f"missing: {', '.join(absent)}"
    secure = uefi_files(secure_boot=True)
    if not Path(secure.code).is_file() or not Path("/etc/libvirt/qemu.conf").is_file():
        return "ovmf or libvirt-daemon-system not installed"
    return None


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout_s} s")
        time.sleep(0.1)


def _stop(pidfile: Path) -> None:
    """SIGTERM the daemon named in ``pidfile``, SIGKILL it if it lingers."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def libvirt_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("libvirtd")
    for name in ("run", "lib", "log", "cache"):
        (base / name).mkdir()
    shutil.copytree("/etc/libvirt", base / "etc", symlinks=True)
    for link in (base / "etc/qemu/networks/autostart").glob("*"):
        link.unlink()
    with (base / "etc/qemu.conf").open("a", encoding="utf-8") as conf:
        conf.write(_QEMU_CONF)
    for target in _PRIVATE.values():
        Path(target).mkdir(parents=True, exist_ok=True)
    mounts = "; ".join(f"mount --bind {base / src} {dst}" for src, dst in _PRIVATE.items())
    script = (
        f"set -e; {mounts}; virtlogd -d -p {base}/virtlogd.pid; libvirtd -d -p {base}/libvirtd.pid"
    )
    try:
        subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            check=True,
            timeout=30,
        )
        _wait_for(base / "run/libvirt-sock", 15)
        yield f"qemu:///system?socket={base}/run/libvirt-sock"
    finally:
        _stop(base / "libvirtd.pid")
        _stop(base / "virtlogd.pid")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def driver(libvirt_uri: str) -> Iterator[LibvirtDriver]:
    drv = LibvirtDriver(libvirt_uri, domain_type="qemu")
    drv.open()
    try:
        yield drv
    finally:
        for state in drv.list_vms():
            drv.destroy_vm(state.vm_id)
        drv.close()


def _serial_output(path: Path, wanted: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            if wanted in text:
                return text
        time.sleep(0.5)
    return text


def test_tcg_host_reports_uefi_secure_boot_tpm_and_runnable_cpu_types(
    driver: LibvirtDriver,
) -> None:
    caps = driver.capabilities()
    assert caps.hypervisor is Hypervisor.TCG
    assert (caps.uefi, caps.secure_boot, caps.tpm) == (True, True, True)
    assert "Intel Nehalem Family" in caps.cluster_cpu_types


def test_q35_secure_boot_guest_with_tpm_boots_under_tcg(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    kernel = host_kernel()
    log_path = tmp_path / "serial.log"
    vm_id = str(uuid.uuid4())
    spec = VmSpec(
        id=vm_id,
        name=f"vf-e2e-{vm_id[:8]}",
        memory_bytes=512 * MIB,
        machine="q35",
        firmware="uefi",
        secure_boot=True,
        tpm=True,
        cpu_type="Intel Nehalem Family",
        kernel=None if kernel is None else str(kernel),
        cmdline=None if kernel is None else "console=ttyS0 panic=-1 no_timer_check",
        serial_log_path=str(log_path),
        nics=[NicSpec(mac="52:54:00:7f:00:01", network="", kind="user")],
    )
    assert driver.create_vm(spec).state is VmRunState.RUNNING
    if kernel is not None:
        output = _serial_output(log_path, "secureboot: Secure boot enabled", 60)
        assert "secureboot: Secure boot enabled" in output
        assert "TPM2" in output
    else:
        assert _serial_output(log_path, "\x1b", 60), "the firmware printed nothing"
    assert driver.destroy_vm(vm_id).state is VmRunState.DOWN
    with pytest.raises(NotFound):
        driver.destroy_vm(vm_id)


def test_probe_guest_prints_its_marker_under_tcg() -> None:
    kernel = host_kernel()
    if kernel is None or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("needs a kernel in /boot and qemu-system-x86_64")
    assert boots("tcg", kernel, timeout_s=30)


def test_guest_powers_itself_off_on_shutdown_and_its_data_survives_to_the_next_boot(
    driver: LibvirtDriver, image: GuestImage, tmp_path: Path
) -> None:
    stopped: list[VmState] = []
    got_stop = threading.Event()

    def on_state(state: VmState) -> None:
        if state.state is VmRunState.DOWN:
            stopped.append(state)
            got_stop.set()

    driver.subscribe(on_state)
    disk = tmp_path / "vm.qcow2"
    thin_clone(image.data_disk, disk)
    first = tiny_guest_spec(image, disk, tmp_path / "first.log")
    driver.create_vm(first)
    assert SYNCED_MARKER in _serial_output(tmp_path / "first.log", SYNCED_MARKER, 90)

    result = driver.shutdown_vm(first.id, timeout_s=60)

    assert (result.state, result.reason) == (VmRunState.DOWN, "shutdown")
    assert got_stop.wait(30)
    assert [(s.vm_id, s.reason) for s in stopped] == [(first.id, "shutdown")]
    assert POWEROFF_MARKER in (tmp_path / "first.log").read_text(errors="replace")
    assert first.id not in {s.vm_id for s in driver.list_vms()}

    second = first.model_copy(update={"serial_log_path": str(tmp_path / "second.log")})
    driver.create_vm(second)
    boot = _serial_output(tmp_path / "second.log", SYNCED_MARKER, 90)
    assert "DATA: boot 1" in boot
    assert f"{CLEAN_SHUTDOWN_LINE} 1" in boot
    assert "BOOT 2" in boot


def test_a_guest_with_every_tuning_field_runs_under_tcg_and_keeps_them(
    driver: LibvirtDriver,
) -> None:
    vm_id = str(uuid.uuid4())
    spec = VmSpec(
        id=vm_id,
        name=f"vf-e2e-{vm_id[:8]}",
        memory_bytes=256 * MIB,
        machine="q35",
        memballoon=False,
        memory_guaranteed_bytes=128 * MIB,
        cpu_shares=512,
        soundcard=True,
        usb="qemu-xhci",
        clock_offset_s=3600,
        cpu_model="qemu64",
        iothreads=2,
    )
    assert driver.create_vm(spec).state is VmRunState.RUNNING
    live = ET.fromstring(driver.domain_xml(vm_id))
    assert live.findtext("cputune/shares") == "512"
    assert live.findtext("iothreads") == "2"
    assert live.find("devices/sound").get("model") == "ich9"  # type: ignore[union-attr]
    assert live.find("devices/controller[@type='usb'][@model='qemu-xhci']") is not None
    assert live.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert live.find("clock").get("adjustment") == "3600"  # type: ignore[union-attr]
    assert live.findtext("cpu/model") == "qemu64"
    assert driver.destroy_vm(vm_id).state is VmRunState.DOWN


def test_a_hot_plugged_disk_appears_in_the_guest_and_goes_when_unplugged(
    driver: LibvirtDriver, image: GuestImage, tmp_path: Path
) -> None:
    disk, extra, log_path = tmp_path / "vm.qcow2", tmp_path / "extra.qcow2", tmp_path / "hot.log"
    thin_clone(image.data_disk, disk)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(extra), "16M"], check=True)
    spec = tiny_guest_spec(image, disk, log_path)
    driver.create_vm(spec)
    assert SYNCED_MARKER in _serial_output(log_path, SYNCED_MARKER, 90)
    assert f"{BLOCK_PREFIX}vda" in _serial_output(log_path, f"{BLOCK_PREFIX}vda", 30)

    target = driver.plug_disk(spec.id, DiskSpec(path=str(extra)))

    assert target == "vdb"
    assert f"{BLOCK_PREFIX}vdb" in _serial_output(log_path, f"{BLOCK_PREFIX}vdb", 60)
    driver.unplug_disk(spec.id, str(extra))
    assert f"{BLOCK_GONE_PREFIX}vdb" in _serial_output(log_path, f"{BLOCK_GONE_PREFIX}vdb", 60)
    live = ET.fromstring(driver.domain_xml(spec.id))
    assert [t.get("dev") for t in live.iterfind("devices/disk/target")] == ["vda"]
