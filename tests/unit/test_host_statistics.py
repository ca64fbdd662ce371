"""Host and host-NIC statistics under oVirt's names, each from the figure it names."""

from __future__ import annotations

from virtfleet.common.protocol import HostNicReport, HostStats, NicAddress
from virtfleet.engine.services.host_nics import host_nic, host_nic_statistics
from virtfleet.engine.services.hosts import host_statistics

HOST = "0b8a2e4c-1111-4222-8333-944455556666"
GIB = 1024**3


def _by_name(stats: HostStats) -> dict[str, float | None]:
    return {s.name or "": s.values[0].datum for s in host_statistics(HOST, stats) if s.values}


def test_the_five_minute_load_is_the_five_minute_one() -> None:
    stats = HostStats(
        memory_total_bytes=GIB,
        memory_free_bytes=GIB // 4,
        vms_total=0,
        vms_running=0,
        load_avg_1m=3.0,
        load_avg_5m=1.5,
        load_avg_15m=0.5,
    )
    assert _by_name(stats)["cpu.load.avg.5m"] == 1.5


def test_unmeasured_figures_are_not_listed() -> None:
    stats = HostStats(memory_total_bytes=GIB, memory_free_bytes=GIB, vms_total=0, vms_running=0)
    assert set(_by_name(stats)) == {"memory.total", "memory.used", "memory.free"}


def test_swap_used_is_total_less_free() -> None:
    stats = HostStats(
        memory_total_bytes=GIB,
        memory_free_bytes=GIB,
        vms_total=0,
        vms_running=0,
        swap_total_bytes=2 * GIB,
        swap_free_bytes=GIB // 2,
        boot_time=1796354887,
    )
    named = _by_name(stats)
    assert named["swap.used"] == 1.5 * GIB
    assert named["boot.time"] == 1796354887


def test_host_nic_speed_is_in_bits_per_second_and_addresses_have_netmasks() -> None:
    nic = HostNicReport(
        name="eth0",
        mac="52:54:00:00:00:01",
        speed_mbps=1000,
        up=True,
        bridge="ovirtmgmt",
        addresses=[
            NicAddress(address="203.0.113.5", prefix=26, version=4),
            NicAddress(address="2001:db8::5", prefix=64, version=6),
        ],
    )
    shown = host_nic(HOST, nic)
    assert shown.speed == 1_000_000_000
    assert shown.ip is not None and shown.ip.netmask == "255.255.255.192"
    assert shown.ipv6 is not None and shown.ipv6.netmask == "64"
    assert shown.bridged is True
    assert shown.id == host_nic(HOST, nic).id


def test_nic_rates_appear_only_once_measured() -> None:
    first = HostNicReport(name="eth0", rx_bytes=100)
    names = {s.name for s in host_nic_statistics(HOST, first)}
    assert "data.total.rx" in names and "data.current.rx" not in names
    later = first.model_copy(update={"rx_rate": 10.0, "tx_rate": 2.0})
    rates = {s.name: s.values[0].datum for s in host_nic_statistics(HOST, later) if s.values}
    assert rates["data.current.rx"] == 10.0
    assert rates["data.current.rx.bps"] == 80.0
