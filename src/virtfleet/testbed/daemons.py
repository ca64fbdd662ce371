"""Each host's own libvirtd and virtlogd, started in a private mount namespace."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from virtfleet.testbed.plan import (
    LIBVIRT_BINDS,
    LIBVIRT_TCP_PORT,
    HostPlan,
    daemon_script,
    libvirtd_conf_extra,
    qemu_conf_extra,
)
from virtfleet.testbed.proc import TestbedError, run
from virtfleet.testbed.processes import is_alive, read_pidfile, terminate

SYSTEM_LIBVIRT_ETC = Path("/etc/libvirt")
START_TIMEOUT = 30.0


def ensure_mount_points() -> None:
    """Bind targets must exist in the root namespace, or the bind fails and a host's libvirtd
    writes into the root's directories instead."""
    for _, target in LIBVIRT_BINDS:
        Path(target).mkdir(parents=True, exist_ok=True)


def prepare_host_dirs(host: HostPlan, etc_source: Path = SYSTEM_LIBVIRT_ETC) -> None:
    """The host's own libvirt directories, with a config copied from the system's and amended."""
    for src, _ in LIBVIRT_BINDS:
        if src != "etc":
            (host.dir / src).mkdir(parents=True, exist_ok=True)
    etc = host.dir / "etc"
    shutil.copytree(etc_source, etc, symlinks=True)
    # Objects defined on the machine's own libvirt must not appear on (or autostart in) every host.
    for pattern in ("qemu/*.xml", "qemu/autostart/*", "qemu/networks/autostart/*"):
        for path in etc.glob(pattern):
            path.unlink()
    with (etc / "libvirtd.conf").open("a") as conf:
        conf.write(libvirtd_conf_extra(host))
    with (etc / "qemu.conf").open("a") as conf:
        conf.write(qemu_conf_extra(host))


def start_daemons(host: HostPlan) -> tuple[int, int]:
    """Start virtlogd and libvirtd inside the host's namespaces; return (libvirtd, virtlogd) PIDs
    once libvirtd accepts TCP connections on the host's address."""
    enter = ["ip", "netns", "exec", host.netns, "unshare", "-m", "--propagation", "private"]
    run(
        [*enter, "sh", "-c", daemon_script(host)],
        timeout=START_TIMEOUT,
        what=f"starting libvirtd and virtlogd of {host.name}",
    )
    libvirtd = read_pidfile(host.libvirtd_pidfile)
    virtlogd = read_pidfile(host.virtlogd_pidfile)
    if libvirtd is None or virtlogd is None:
        raise TestbedError(f"{host.name}: libvirtd or virtlogd wrote no pidfile in {host.dir}")
    wait_listening(host.address, LIBVIRT_TCP_PORT, timeout=START_TIMEOUT)
    return libvirtd, virtlogd


def restart_libvirtd(host: HostPlan) -> int:
    """Stop the host's libvirtd and start a new one in its namespaces; running QEMU processes
    stay and the new libvirtd reattaches to them. Returns the new PID once it listens."""
    stop_libvirtd(host)
    return start_libvirtd_again(host)


def stop_libvirtd(host: HostPlan) -> None:
    """SIGTERM the host's libvirtd by its pidfile; unlike a host crash, its guests keep running."""
    old = read_pidfile(host.libvirtd_pidfile)
    if old is not None:
        terminate([(old, "libvirtd")])
        if is_alive(old, "libvirtd"):
            raise TestbedError(f"{host.name}: libvirtd pid {old} did not stop")
    host.libvirtd_pidfile.unlink(missing_ok=True)


def start_libvirtd_again(host: HostPlan) -> int:
    """Start libvirtd in the mount and network namespaces of the host's virtlogd (which a
    libvirtd restart leaves running), so it sees the same private libvirt directories."""
    virtlogd = read_pidfile(host.virtlogd_pidfile)
    if virtlogd is None or not is_alive(virtlogd, "virtlogd"):
        raise TestbedError(f"{host.name}: virtlogd is not running; cannot find its namespaces")
    enter = ["nsenter", "-t", str(virtlogd), "-m", "-n", "--"]
    run(
        [*enter, "libvirtd", "-d", "--listen", "-p", str(host.libvirtd_pidfile)],
        timeout=START_TIMEOUT,
        what=f"restarting libvirtd of {host.name}",
    )
    new = read_pidfile(host.libvirtd_pidfile)
    if new is None:
        raise TestbedError(f"{host.name}: the restarted libvirtd wrote no pidfile")
    wait_listening(host.address, LIBVIRT_TCP_PORT, timeout=START_TIMEOUT)
    return new


def wait_listening(address: str, port: int, *, timeout: float) -> None:
    """Wait until something accepts TCP connections on address:port (reachable over the bridge)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TestbedError(f"nothing listens on {address}:{port}: {exc}") from exc
            time.sleep(0.1)
