"""Start the system libvirtd where no service manager does (containers, CI machines without
systemd), so that ``make up`` works as root on a fresh Debian machine."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

from virtfleet.common.errors import VirtfleetError

log = logging.getLogger(__name__)

SYSTEM_SOCKET = Path("/run/libvirt/libvirt-sock")
SYSTEMD_RUNTIME = Path("/run/systemd/system")
START_TIMEOUT_S = 30.0


def systemd_running(runtime_dir: Path = SYSTEMD_RUNTIME) -> bool:
    """systemd's own test (sd_booted): it manages this machine's services."""
    return runtime_dir.is_dir()


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _daemonize(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
    )


def start_system_libvirtd(sock: Path = SYSTEM_SOCKET, timeout_s: float = START_TIMEOUT_S) -> None:
    """Start virtlogd and libvirtd as background daemons with their default configuration.

    They keep running after ``virtfleet up`` stops, as they would under a service manager, so
    the VMs they run are not tied to this process.
    """
    logd = _daemonize(["virtlogd", "-d"])
    if logd.returncode != 0:
        # most often one already runs; libvirtd works without it for everything but QEMU logs
        log.warning("virtlogd did not start: %s", logd.stderr.strip())
    done = _daemonize(["libvirtd", "-d"])
    if done.returncode != 0:
        raise VirtfleetError(
            f"libvirtd did not start: {done.stderr.strip() or done.returncode}",
            reason="The local host cannot start",
        )
    deadline = time.monotonic() + timeout_s
    while not _accepts(sock):
        if time.monotonic() > deadline:
            raise VirtfleetError(
                f"libvirtd started but {sock} accepts no connection after {timeout_s:g} s",
                reason="The local host cannot start",
            )
        time.sleep(0.1)
    log.warning(
        "started libvirtd and virtlogd (no systemd here); they keep running after virtfleet "
        "stops: stop them with `kill $(cat /run/libvirtd.pid /run/virtlogd.pid)`"
    )
