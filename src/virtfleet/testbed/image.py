"""The tiny guest: a host kernel, a busybox initramfs and an ext4 data disk, cached by content."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from virtfleet.testbed.guestagentfiles import guest_agent_files
from virtfleet.testbed.initramfs import (
    ACPID_CONF,
    DATA_FILE,
    INIT_SCRIPT,
    OS_RELEASE,
    POWER_BUTTON_SCRIPT,
    SHUTDOWN_SCRIPT,
    UDHCPC_SCRIPT,
    build_initramfs,
    resolve_modules,
)
from virtfleet.testbed.proc import TestbedError, run

log = logging.getLogger(__name__)

# no_timer_check: under TCG on a busy machine the kernel may find its timer too slow and panic
GUEST_CMDLINE = "console=ttyS0 quiet no_timer_check"
DEFAULT_DATA_LINES: tuple[str, ...] = ("DATA: hello-from-base",)
DATA_DISK_SIZE = "64M"
_BUILDER_VERSION = "3"
_KERNEL_NAME = "vmlinuz"
_INITRD_NAME = "initrd.gz"
_DISK_NAME = "data.qcow2"


@dataclass(frozen=True)
class GuestImage:
    """Files to boot the tiny guest directly: kernel, initrd, and a qcow2 base data disk."""

    kernel: Path
    initrd: Path
    data_disk: Path
    cmdline: str = GUEST_CMDLINE


def find_kernel(boot_dir: Path = Path("/boot")) -> tuple[Path, str]:
    """The newest /boot/vmlinuz-<version> and its version (guests need its modules too)."""
    kernels = sorted(boot_dir.glob("vmlinuz-*"), key=lambda p: _version_key(p.name))
    if not kernels:
        raise TestbedError(f"no kernel in {boot_dir}; install linux-image-amd64")
    newest = kernels[-1]
    return newest, newest.name.removeprefix("vmlinuz-")


def find_busybox() -> Path:
    found = shutil.which("busybox")
    if found is None:
        raise TestbedError("busybox is not installed; install busybox-static")
    return Path(found)


def build_guest_image(
    out_dir: Path, *, data_lines: Sequence[str] = DEFAULT_DATA_LINES
) -> GuestImage:
    """Build (or reuse, when the inputs are unchanged) the guest image under ``out_dir``."""
    kernel, version = find_kernel()
    busybox = find_busybox()
    modules = resolve_modules(version)
    agent = guest_agent_files()
    key = _cache_key(kernel, busybox, [*modules, *agent], data_lines)
    target = out_dir / key
    image = GuestImage(
        kernel=target / _KERNEL_NAME, initrd=target / _INITRD_NAME, data_disk=target / _DISK_NAME
    )
    if target.is_dir():
        log.debug("guest image cached path=%s", target)
        return image
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    work.chmod(0o755)
    try:
        shutil.copyfile(kernel, work / _KERNEL_NAME)
        (work / _INITRD_NAME).write_bytes(build_initramfs(busybox, modules, agent))
        build_data_disk(work / _DISK_NAME, {DATA_FILE: "".join(f"{x}\n" for x in data_lines)})
        try:
            work.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # Another build of the same inputs finished first; its files are identical in use.
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("guest image built path=%s kernel=%s modules=%d", target, version, len(modules))
    return image


def build_data_disk(dest: Path, files: dict[str, str], *, size: str = DATA_DISK_SIZE) -> None:
    """A qcow2 ext4 disk holding ``files``, made without loop mounts (mkfs.ext4 -d)."""
    with tempfile.TemporaryDirectory(prefix="vf-disk-") as tmp:
        content = Path(tmp, "content")
        content.mkdir()
        for name, text in files.items():
            (content / name).write_text(text)
        raw = Path(tmp, "disk.raw")
        run(["truncate", "-s", size, str(raw)])
        run(["mkfs.ext4", "-q", "-d", str(content), str(raw)])
        run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(dest)])


def thin_clone(base: Path, dest: Path) -> None:
    """A qcow2 overlay on ``base``: the guest writes there and the base stays untouched."""
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(dest)])


def _cache_key(
    kernel: Path, busybox: Path, modules: Sequence[Path], data_lines: Sequence[str]
) -> str:
    digest = hashlib.sha256()
    digest.update(f"builder {_BUILDER_VERSION}\n{INIT_SCRIPT}\n".encode())
    digest.update(f"{ACPID_CONF}\n{POWER_BUTTON_SCRIPT}\n".encode())
    digest.update(f"{UDHCPC_SCRIPT}\n{SHUTDOWN_SCRIPT}\n{OS_RELEASE}\n".encode())
    for path in (kernel, busybox, *modules):
        digest.update(f"{path.name}\n".encode())
        digest.update(hashlib.sha256(path.resolve().read_bytes()).digest())
    digest.update("\n".join(data_lines).encode())
    return digest.hexdigest()[:16]


def _version_key(name: str) -> tuple[tuple[int, str], ...]:
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name)
    )
