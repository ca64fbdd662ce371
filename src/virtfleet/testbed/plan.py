"""Pure planning of a namespace testbed: names, addresses, directories and config file text."""

from __future__ import annotations

import ipaddress
import re
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from virtfleet.common.errors import InvalidInput

DEFAULT_PREFIX = "vf"
DEFAULT_SUBNET = "10.77.0.0/24"
LIBVIRT_TCP_PORT = 16509
STATE_FILE_NAME = "testbed.json"
# Interface names are limited to 15 bytes by the kernel; the longest name we build is
# "<prefix>h<N>r", so the prefix keeps room for a three-digit host number.
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_MAX_HOSTS = 250

# Directories each libvirtd sees in its private mount namespace, keyed by the name of the
# per-host directory bound over them.
LIBVIRT_BINDS: tuple[tuple[str, str], ...] = (
    ("run", "/run/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("log", "/var/log/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("etc", "/etc/libvirt"),
)


@dataclass(frozen=True)
class HostPlan:
    """One simulated host: its namespace, link names, address and private directories."""

    index: int
    name: str
    netns: str
    veth_root: str
    veth_inside: str
    address: str
    prefix_len: int
    dir: Path
    host_uuid: str

    @property
    def libvirt_uri(self) -> str:
        return f"qemu+tcp://{self.address}/system"

    @property
    def libvirtd_pidfile(self) -> Path:
        return self.dir / "libvirtd.pid"

    @property
    def virtlogd_pidfile(self) -> Path:
        return self.dir / "virtlogd.pid"

    def bind_sources(self) -> list[tuple[Path, str]]:
        """(host directory, path it is mounted on) pairs for the libvirt daemons."""
        return [(self.dir / src, target) for src, target in LIBVIRT_BINDS]


@dataclass(frozen=True)
class TestbedPlan:
    """Everything a bring-up will create, decided before anything is touched."""

    base_dir: Path
    prefix: str
    subnet: str
    bridge: str
    bridge_address: str
    shared_dir: Path
    hosts: tuple[HostPlan, ...]

    @property
    def state_file(self) -> Path:
        return self.base_dir / STATE_FILE_NAME


def plan_testbed(
    base_dir: Path,
    hosts: int,
    *,
    prefix: str = DEFAULT_PREFIX,
    subnet: str = DEFAULT_SUBNET,
    new_uuid: Callable[[], uuid.UUID] = uuid.uuid4,
) -> TestbedPlan:
    """Plan ``hosts`` hosts: host N gets the Nth address of ``subnet``, the bridge the last one."""
    if not _PREFIX_RE.match(prefix):
        raise InvalidInput(f"testbed prefix {prefix!r} must be 1-10 lowercase letters or digits")
    if not 1 <= hosts <= _MAX_HOSTS:
        raise InvalidInput(f"a testbed has 1 to {_MAX_HOSTS} hosts, not {hosts}")
    try:
        network = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise InvalidInput(f"testbed subnet {subnet!r} is not an IPv4 network: {exc}") from exc
    bridge_address = network.broadcast_address - 1
    if network.network_address + hosts >= bridge_address:
        raise InvalidInput(f"subnet {subnet} is too small for {hosts} hosts and a bridge")
    base = base_dir.absolute()
    planned = tuple(
        HostPlan(
            index=n,
            name=f"h{n}",
            netns=f"{prefix}h{n}",
            veth_root=f"{prefix}h{n}r",
            veth_inside="eth0",
            address=str(network.network_address + n),
            prefix_len=network.prefixlen,
            dir=base / f"h{n}",
            host_uuid=str(new_uuid()),
        )
        for n in range(1, hosts + 1)
    )
    return TestbedPlan(
        base_dir=base,
        prefix=prefix,
        subnet=str(network),
        bridge=f"{prefix}br0",
        bridge_address=str(bridge_address),
        shared_dir=base / "shared",
        hosts=planned,
    )


def libvirtd_conf_extra(host: HostPlan) -> str:
    """Lines appended to the host's copy of libvirtd.conf: own UUID, plain TCP on its address."""
    return (
        "\n# virtfleet testbed host\n"
        f'host_uuid = "{host.host_uuid}"\n'
        "listen_tls = 0\n"
        "listen_tcp = 1\n"
        f'listen_addr = "{host.address}"\n'
        'auth_tcp = "none"\n'
    )


def qemu_conf_extra(host: HostPlan) -> str:
    """Lines appended to qemu.conf: QEMU and swtpm as root without confinement (test hosts
    only; swtpm as root also shares the machine's TPM certificate authority with root's runs).

    All namespaces share one hostname, so migration must advertise and listen on the host's
    own address instead of resolving the hostname.
    """
    return (
        "\n# virtfleet testbed host\n"
        'user = "root"\n'
        'group = "root"\n'
        'swtpm_user = "root"\n'
        'swtpm_group = "root"\n'
        "dynamic_ownership = 0\n"
        'security_driver = "none"\n'
        f'migration_host = "{host.address}"\n'
        f'migration_address = "{host.address}"\n'
    )


def daemon_script(host: HostPlan) -> str:
    """Shell run in the host's fresh mount namespace: bind its directories, start both daemons.

    Its copies of other namespaces' /run/netns mounts are dropped first: they would keep those
    namespaces (and their veths) alive after `ip netns del` for as long as this host runs.
    """
    lines = [
        "set -e",
        'for ns in /run/netns/*; do if [ -e "$ns" ]; then umount "$ns" || true; fi; done',
    ]
    q = shlex.quote
    lines += [f"mount --bind {q(str(src))} {q(target)}" for src, target in host.bind_sources()]
    lines.append(f"virtlogd -d -p {q(str(host.virtlogd_pidfile))}")
    lines.append(f"libvirtd -d --listen -p {q(str(host.libvirtd_pidfile))}")
    return "\n".join(lines) + "\n"
