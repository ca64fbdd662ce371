"""Preflight of ``virtfleet up``'s real local host: each missing piece is named with the package
to install or the command to run, before anything starts."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from virtfleet.common.errors import VirtfleetError
from virtfleet.localhost_libvirtd import start_system_libvirtd, systemd_running

log = logging.getLogger(__name__)

SYSTEM_URI = "qemu:///system"
SESSION_URI = "qemu:///session"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
DEFAULT_QEMU_USER = "libvirt-qemu"  # Debian's qemu.conf default for qemu:///system
REASON = "The local host cannot start"
# (binary, Debian package that provides it)
QEMU_TOOLS = (("qemu-system-x86_64", "qemu-system-x86"), ("qemu-img", "qemu-utils"))
_DAEMON_DOWN = ("No such file or directory", "Connection refused")
_QEMU_USER = re.compile(r'^\s*user\s*=\s*"([^"]+)"', re.MULTILINE)


def default_uri(euid: int) -> str:
    """The system daemon as root; a per-user session daemon otherwise (no root on a laptop)."""
    return SYSTEM_URI if euid == 0 else SESSION_URI


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _connect(uri: str) -> str | None:
    """None once a connection to ``uri`` opened and closed; else libvirt's reason."""
    from virtfleet.agent.hypervisor.libvirt import LibvirtDriver
    from virtfleet.common.errors import AgentError

    driver = LibvirtDriver(uri)
    try:
        driver.open()
    except AgentError as exc:
        return exc.detail
    driver.close()
    return None


def qemu_user(conf: Path = QEMU_CONF) -> str:
    """The user QEMU runs as under ``qemu:///system``, from libvirt's qemu.conf."""
    try:
        found = _QEMU_USER.findall(conf.read_text())
    except OSError:
        return DEFAULT_QEMU_USER
    return found[-1] if found else DEFAULT_QEMU_USER


@dataclass(frozen=True)
class LocalMachine:
    """What the preflight asks of this machine; tests pass fakes."""

    which: Callable[[str], str | None] = shutil.which
    has_module: Callable[[str], bool] = _has_module
    connect: Callable[[str], str | None] = _connect
    euid: Callable[[], int] = os.geteuid
    systemd: Callable[[], bool] = systemd_running
    start_libvirtd: Callable[[], None] = start_system_libvirtd
    read_qemu_user: Callable[[], str] = qemu_user


def _fail(detail: str) -> VirtfleetError:
    return VirtfleetError(detail, reason=REASON)


def check_binding(machine: LocalMachine) -> None:
    if not machine.has_module("libvirt"):
        raise _fail(
            "the libvirt Python binding is missing: run `pip install libvirt-python` in "
            "virtfleet's environment (needs Debian packages libvirt-dev and pkg-config), or "
            "install python3-libvirt for the system Python"
        )


def check_qemu(machine: LocalMachine) -> None:
    missing = [package for tool, package in QEMU_TOOLS if machine.which(tool) is None]
    if missing:
        names = " ".join(missing)
        raise _fail(f"QEMU is missing: install it with `apt-get install {names}`")


def ensure_daemon(uri: str, machine: LocalMachine) -> None:
    """Connect to ``uri``; as root without a service manager, start the system daemon first."""
    error = machine.connect(uri)
    if error is None:
        return
    if machine.which("libvirtd") is None:
        raise _fail(
            "the libvirt daemon is not installed: install it with "
            "`apt-get install libvirt-daemon-system`"
        )
    down = any(text in error for text in _DAEMON_DOWN)
    if uri == SYSTEM_URI and down:
        if machine.euid() != 0:
            raise _fail(
                "the libvirt daemon is not running: start it with `sudo systemctl start libvirtd`"
            )
        if machine.systemd():
            raise _fail(
                "the libvirt daemon is not running: start it with `systemctl start libvirtd`"
            )
        log.info("no service manager runs libvirtd here; starting it")
        machine.start_libvirtd()
        error = machine.connect(uri)
        if error is None:
            return
    if "Permission denied" in error and machine.euid() != 0:
        raise _fail(
            f"no permission to use {uri}: run `sudo adduser $USER libvirt` and log in again, "
            f"or use --libvirt-uri {SESSION_URI}"
        )
    raise _fail(f"cannot connect to libvirt at {uri}: {error}")


def check_storage_reachable(uri: str, storage_dir: Path, machine: LocalMachine) -> None:
    """Under ``qemu:///system`` QEMU runs as an unprivileged user, who must reach the disks."""
    if uri != SYSTEM_URI or machine.euid() != 0:
        return
    user = machine.read_qemu_user()
    if user in ("root", "+0"):
        return
    for directory in [storage_dir, *storage_dir.parents]:
        try:
            mode = directory.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            raise _fail(
                f"QEMU runs as {user} under {uri} and cannot reach {storage_dir}: {directory} is "
                f"closed to other users; run `chmod o+x {directory}` or choose another --data-dir"
            )


def check_local_host(uri: str, storage_dir: Path, machine: LocalMachine | None = None) -> None:
    """Raise a VirtfleetError naming what to install or run if the local host cannot start."""
    machine = machine or LocalMachine()
    check_binding(machine)
    check_qemu(machine)
    ensure_daemon(uri, machine)
    check_storage_reachable(uri, storage_dir, machine)
