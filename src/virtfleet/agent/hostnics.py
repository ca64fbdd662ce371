"""The host's network interfaces, from ``ip -j -d -s addr`` (iproute2's JSON, never its text)
and each interface's link speed in /sys/class/net; rates come from counters of two samples.

Loopback, bridges (a bridge is a network on its ports, as oVirt shows it) and VM taps are not
host NICs; a bridge's addresses are shown on its port when the port has none of its own.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from virtfleet.agent.procfs import is_count
from virtfleet.common.protocol import HostNicReport, NicAddress

log = logging.getLogger(__name__)

_IP_TIMEOUT_S = 10.0
_HIDDEN_KINDS = frozenset({"bridge", "tun"})
_COUNTERS = ("bytes", "errors", "dropped")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _addresses(link: Mapping[str, Any]) -> list[NicAddress]:
    found: list[NicAddress] = []
    infos = link.get("addr_info")
    for info in infos if isinstance(infos, list) else []:
        if not isinstance(info, dict) or info.get("scope") not in ("global", "site", None):
            continue
        version = {"inet": 4, "inet6": 6}.get(str(info.get("family")))
        address, prefix = _text(info.get("local")), _count(info.get("prefixlen"))
        if version is None or address is None or prefix is None:
            continue
        if prefix <= (32 if version == 4 else 128):
            found.append(NicAddress(address=address, prefix=prefix, version=version))
    return found


def _counters(link: Mapping[str, Any]) -> dict[str, int]:
    stats = link.get("stats64") or link.get("stats")
    out: dict[str, int] = {}
    if not isinstance(stats, dict):
        return out
    for direction in ("rx", "tx"):
        block = stats.get(direction)
        if isinstance(block, dict):
            for name in _COUNTERS:
                value = _count(block.get(name))
                if value is not None:
                    out[f"{direction}_{name}"] = value
    return out


def _kinds(link: Mapping[str, Any]) -> tuple[str | None, str | None, Mapping[str, Any]]:
    """The link's own kind, its port kind (``bridge_slave``, ``bond_slave``) and kind data."""
    info = link.get("linkinfo")
    if not isinstance(info, dict):
        return None, None, {}
    data = info.get("info_data")
    return (
        _text(info.get("info_kind")),
        _text(info.get("info_slave_kind")),
        (data if isinstance(data, dict) else {}),
    )


def parse_links(links: object, speeds: Mapping[str, int] | None = None) -> list[HostNicReport]:
    """Host NICs from the decoded JSON of ``ip -j -d -s addr show``; entries that are not
    well-formed are skipped. ``speeds`` are link speeds in Mb/s by name (from sysfs)."""
    if not isinstance(links, list):
        return []
    entries = [link for link in links if isinstance(link, dict) and _text(link.get("ifname"))]
    bridges = {
        str(link["ifname"]): _addresses(link) for link in entries if _kinds(link)[0] == "bridge"
    }
    nics: list[HostNicReport] = []
    for link in entries:
        name = str(link["ifname"])
        kind, port_kind, data = _kinds(link)
        flags = link.get("flags")
        if kind in _HIDDEN_KINDS or link.get("link_type") == "loopback":
            continue
        master = _text(link.get("master"))
        bridge = master if port_kind == "bridge" or master in bridges else None
        addresses = _addresses(link) or (bridges.get(bridge, []) if bridge else [])
        mtu = _count(link.get("mtu"))
        vlan_id = _count(data.get("id")) if kind == "vlan" else None
        nics.append(
            HostNicReport(
                name=name,
                mac=_text(link.get("address")),
                mtu=mtu,
                speed_mbps=(speeds or {}).get(name),
                up=isinstance(flags, list) and "UP" in flags and "LOWER_UP" in flags,
                addresses=addresses,
                kind=kind,
                bridge=bridge,
                bond=master if port_kind == "bond" else None,
                vlan_id=vlan_id,
                base_interface=_text(link.get("link")) if kind == "vlan" else None,
                **_counters(link),
            )
        )
    return nics


def parse_speed(text: str) -> int | None:
    """``/sys/class/net/<nic>/speed``: Mb/s, or -1 (unknown) which is no figure."""
    text = text.strip()
    return int(text) if is_count(text) and int(text) > 0 else None


class NicRateSampler:
    """Receive and transmit rates (bytes/s) of each NIC since its previous sample."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._previous: dict[str, tuple[float, int, int]] = {}

    def sample(self, nics: Sequence[HostNicReport]) -> list[HostNicReport]:
        now = self._clock()
        with self._lock:
            previous, self._previous = (
                self._previous,
                {nic.name: (now, nic.rx_bytes, nic.tx_bytes) for nic in nics},
            )
        return [_with_rates(nic, previous.get(nic.name), now) for nic in nics]


def _with_rates(
    nic: HostNicReport, previous: tuple[float, int, int] | None, now: float
) -> HostNicReport:
    if previous is None or now <= previous[0]:
        return nic
    elapsed = now - previous[0]
    rx, tx = nic.rx_bytes - previous[1], nic.tx_bytes - previous[2]
    if rx < 0 or tx < 0:  # counters reset (interface recreated): no rate this time
        return nic
    rates = {"rx_rate": round(rx / elapsed, 2), "tx_rate": round(tx / elapsed, 2)}
    return nic.model_copy(update=rates)


class _SharedLinks:
    """The ``ip`` listing, run once for every agent of this process that asks within
    ``fresh_s``: a process sees one network namespace, and a thousand simulated hosts in a few
    processes would otherwise fork ``ip`` once per stats report each."""

    def __init__(self, fresh_s: float = 2.0) -> None:
        self._fresh_s = fresh_s
        self._lock = threading.Lock()
        self._taken: tuple[float, Any] | None = None

    def read(self) -> Any:
        with self._lock:
            now = time.monotonic()
            if self._taken is not None and now - self._taken[0] < self._fresh_s:
                return self._taken[1]
            links = _run_ip()
            self._taken = None if links is None else (now, links)
            return links


def _run_ip() -> Any:
    try:
        done = subprocess.run(
            ["ip", "-j", "-d", "-s", "addr", "show"],
            capture_output=True,
            text=True,
            timeout=_IP_TIMEOUT_S,
            check=True,
        )
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("host NICs unreadable: %s", exc)
        return None


_LINKS = _SharedLinks()


class HostNics:
    """Reads this machine's (this network namespace's) NICs; no ``ip`` command means none."""

    def __init__(
        self, sysfs: Path = Path("/sys/class/net"), clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sysfs = sysfs
        self._rates = NicRateSampler(clock)

    def sample(self) -> list[HostNicReport]:
        links = _LINKS.read()
        if links is None:
            return []
        return self._rates.sample(parse_links(links, self._speeds()))

    def _speeds(self) -> dict[str, int]:
        speeds: dict[str, int] = {}
        for entry in self._sysfs.glob("*/speed"):
            try:
                speed = parse_speed(entry.read_text())
            except OSError:  # the kernel refuses to read a virtual link's speed (EINVAL)
                continue
            if speed is not None:
                speeds[entry.parent.name] = speed
        return speeds
