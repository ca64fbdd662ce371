"""The tiny guest boots under plain QEMU (TCG), shows its data and keeps what it writes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtfleet.testbed import GuestImage, build_guest_image, thin_clone
from virtfleet.testbed.initramfs import SYNCED_MARKER, UP_MARKER

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("qemu-system-x86_64", "qemu-img", "busybox"))
        or not list(Path("/boot").glob("vmlinuz-*")),
        reason="needs qemu-system-x86_64, qemu-img, busybox-static and linux-image-amd64",
    ),
]
BOOT_LIMIT = 60.0


def _boot_until(image: GuestImage, disk: Path, console: Path, text: str) -> str:
    """Boot the guest under TCG until ``text`` is on its console; always kill QEMU by PID."""
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot"]
    argv += ["-kernel", str(image.kernel), "-initrd", str(image.initrd)]
    argv += ["-append", image.cmdline, "-drive", f"file={disk},if=virtio"]
    with console.open("wb") as out:
        qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + BOOT_LIMIT
        while time.monotonic() < deadline and qemu.poll() is None:
            seen = console.read_text(errors="replace")
            if text in seen:
                return seen
            time.sleep(0.2)
        pytest.fail(f"guest did not print {text!r} within {BOOT_LIMIT:g} s:\n{console.read_text()}")
    finally:
        qemu.terminate()
        try:
            qemu.wait(10)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()


@pytest.fixture
def overlay(image: GuestImage, tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "vm.qcow2"
    thin_clone(image.data_disk, disk)
    yield disk


def test_guest_boots_to_its_marker_and_prints_the_base_disk_data_through_an_overlay(
    image: GuestImage, overlay: Path, tmp_path: Path
) -> None:
    base_before = hashlib.sha256(image.data_disk.read_bytes()).digest()
    console = _boot_until(image, overlay, tmp_path / "console.log", SYNCED_MARKER)
    assert hashlib.sha256(image.data_disk.read_bytes()).digest() == base_before
    assert UP_MARKER in console
    assert "DATA: hello-from-base" in console
    assert "BOOT 1" in console


def test_second_boot_sees_the_line_the_first_boot_appended(
    image: GuestImage, overlay: Path, tmp_path: Path
) -> None:
    _boot_until(image, overlay, tmp_path / "first.log", SYNCED_MARKER)
    second = _boot_until(image, overlay, tmp_path / "second.log", SYNCED_MARKER)
    assert "DATA: boot 1" in second
    assert "BOOT 2" in second


def test_second_build_reuses_the_cached_files(image: GuestImage) -> None:
    before = {p: os.stat(p).st_mtime_ns for p in (image.kernel, image.initrd, image.data_disk)}
    again = build_guest_image(image.kernel.parent.parent)
    assert again == image
    assert {p: os.stat(p).st_mtime_ns for p in before} == before
