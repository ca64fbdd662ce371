"""Decide KVM or TCG by booting a tiny guest under KVM with a time limit, once per agent.

``/dev/kvm`` can exist while KVM guests hang (nested virtualisation that does not work), so only
a guest that really prints on its serial port proves KVM. The answer is cached in the agent's
data directory, keyed by the kernel and QEMU versions, since either changing can change it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

KVM = "kvm"
TCG = "qemu"
# The kernel prints this once it runs in long mode. Here KVM guests got through the real-mode
# set-up (and a BIOS boot sector ran) but never reached it, so nothing less proves KVM works.
MARKER = b"Linux version"
CACHE_FILE = "kvm-probe.json"
DEFAULT_QEMU = "qemu-system-x86_64"
DEFAULT_TIMEOUT_S = 10.0
_NUMBERS = re.compile(r"(\d+)")
_CMDLINE = "console=ttyS0 earlyprintk=serial panic=-1 no_timer_check"


def host_kernel(boot_dir: Path = Path("/boot")) -> Path | None:
    """The running kernel's image, else the newest one in ``boot_dir``; None without any."""
    running = boot_dir / f"vmlinuz-{os.uname().release}"
    if running.is_file():
        return running
    images = [p for p in boot_dir.glob("vmlinuz-*") if p.is_file()]
    return max(images, key=_version_key) if images else None


def _version_key(path: Path) -> list[tuple[int, str]]:
    """Numbers compare as numbers, so 6.10 sorts after 6.9."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in _NUMBERS.split(path.name)]


def qemu_version(qemu: str = DEFAULT_QEMU) -> str:
    """The first line of ``qemu --version``; empty when QEMU is missing."""
    try:
        done = subprocess.run(
            [qemu, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.splitlines()[0] if done.stdout else ""


def boots(
    accel: str, kernel: Path, *, qemu: str = DEFAULT_QEMU, timeout_s: float = DEFAULT_TIMEOUT_S
) -> bool:
    """Whether ``kernel`` under ``accel`` (kvm or tcg) prints the marker within ``timeout_s``."""
    command = [
        qemu,
        "-accel",
        accel,
        "-machine",
        "pc",
        "-m",
        "128",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-kernel",
        str(kernel),
        "-append",
        _CMDLINE,
    ]
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except OSError as exc:
        log.warning("cannot run %s: %s", qemu, exc)
        return False
    try:
        return _wait_for_marker(proc, time.monotonic() + timeout_s)
    finally:
        proc.kill()
        proc.communicate()


def _wait_for_marker(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    seen = b""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            seen += chunk
            if MARKER in seen:
                return True
        elif proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


class KvmProbe:
    """Answers ``kvm`` or ``qemu`` (TCG) for libvirt's ``<domain type>``; asks QEMU once."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        qemu: str = DEFAULT_QEMU,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        kvm_device: Path = Path("/dev/kvm"),
        kernel: Path | None = None,
        try_boot: Callable[[str, Path], bool] | None = None,
        versions: Callable[[], str] | None = None,
    ) -> None:
        self._cache = None if cache_dir is None else cache_dir / CACHE_FILE
        self._kvm_device = kvm_device
        self._kernel = kernel
        self._try_boot = try_boot or (
            lambda accel, image: boots(accel, image, qemu=qemu, timeout_s=timeout_s)
        )
        self._versions = versions or (lambda: f"{os.uname().release}|{qemu_version(qemu)}")

    def domain_type(self) -> str:
        key = self._versions()
        cached = self._read_cache(key)
        if cached is not None:
            return cached
        answer = self._probe()
        self._write_cache(key, answer)
        return answer

    def _probe(self) -> str:
        if not os.access(self._kvm_device, os.R_OK | os.W_OK):
            log.info("no usable %s; guests run under TCG", self._kvm_device)
            return TCG
        kernel = self._kernel or host_kernel()
        if kernel is None:
            log.warning("no kernel image to probe KVM with; guests run under TCG")
            return TCG
        if self._try_boot("kvm", kernel):
            log.info("KVM probe guest booted; guests run under KVM")
            return KVM
        log.warning("KVM probe guest printed nothing in time; guests run under TCG")
        return TCG

    def _read_cache(self, key: str) -> str | None:
        if self._cache is None:
            return None
        try:
            data = json.loads(self._cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        answer = data.get("domain_type")
        return answer if answer in (KVM, TCG) else None

    def _write_cache(self, key: str, answer: str) -> None:
        if self._cache is None:
            return
        try:
            self._cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key, "domain_type": answer}), encoding="utf-8")
            tmp.replace(self._cache)
        except OSError as exc:
            log.warning("cannot cache the KVM probe answer in %s: %s", self._cache, exc)
