"""The host's own figures: /proc parsers, NICs from `ip -j` JSON, and rates between samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtfleet.agent import hostnics, procfs
from virtfleet.agent.hostnics import NicRateSampler, parse_links, parse_speed
from virtfleet.agent.hostprobe import MachineProbe
from virtfleet.common.protocol import HostNicReport

DATA = Path(__file__).parent.parent / "data" / "hostnics"
MEMINFO = """MemTotal:       24568820 kB
MemFree:         1234567 kB
Buffers:          204800 kB
Cached:          8388608 kB
SwapCached:         1024 kB
Shmem:             65536 kB
SwapTotal:       2097152 kB
SwapFree:        2000000 kB
HugePages_Total:       0
"""
STAT = """cpu  100 5 50 800 20 3 2 7 0 0
cpu0 50 2 25 400 10 1 1 3 0 0
btime 1796354887
"""
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ifname",
                    "flags",
                    "mtu",
                    "address",
                    "addr_info",
                    "family",
                    "local",
                    "prefixlen",
                    "scope",
                    "linkinfo",
                    "info_kind",
                    "info_slave_kind",
                    "info_data",
                    "id",
                    "master",
                    "link",
                    "stats64",
                    "rx",
                    "tx",
                    "bytes",
                    "errors",
                    "link_type",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def test_loadavg_gives_the_one_five_and_fifteen_minute_averages_apart() -> None:
    load = procfs.parse_loadavg("0.52 1.75 2.10 3/812 12345\n")
    assert load == procfs.LoadAverage(0.52, 1.75, 2.10)


def test_cpu_line_is_split_into_libvirts_counter_names() -> None:
    assert procfs.parse_cpu_ticks(STAT) == {
        "user": 105,
        "kernel": 55,
        "idle": 800,
        "iowait": 20,
    }
    assert procfs.parse_boot_time(STAT) == 1796354887


def test_meminfo_is_read_in_bytes_by_its_own_names() -> None:
    info = procfs.parse_meminfo(MEMINFO)
    assert info["MemTotal"] == 24568820 * 1024
    assert info["SwapFree"] == 2000000 * 1024
    assert info["HugePages_Total"] == 0


def test_process_ticks_survive_a_command_name_with_spaces_and_parentheses() -> None:
    fields = " ".join(["S"] + ["0"] * 10 + ["7", "5"] + ["0"] * 30)
    assert procfs.parse_process_cpu_ticks(f"39 (my (odd) proc) {fields}") == 12


@given(st.text(max_size=200))
def test_proc_parsers_never_crash_on_garbage(text: str) -> None:
    procfs.parse_loadavg(text)
    procfs.parse_cpu_ticks(text)
    procfs.parse_boot_time(text)
    procfs.parse_meminfo(text)
    procfs.parse_process_cpu_ticks(text)
    parse_speed(text)


def test_host_nics_hide_loopback_bridges_and_vm_taps() -> None:
    nics = parse_links(json.loads((DATA / "ip-addr-bridge-bond-vlan.json").read_text()))
    assert [n.name for n in nics] == ["eth0", "eth1", "bond0", "bond0.100", "eth2"]


def test_a_bridge_port_shows_the_bridges_addresses_and_its_own_counters() -> None:
    nics = parse_links(
        json.loads((DATA / "ip-addr-bridge-bond-vlan.json").read_text()), {"eth0": 1000}
    )
    eth0 = nics[0]
    assert eth0.bridge == "ovirtmgmt"
    assert eth0.up and eth0.speed_mbps == 1000 and eth0.mtu == 1500
    assert eth0.mac == "52:54:00:12:34:56"
    assert [(a.address, a.prefix, a.version) for a in eth0.addresses] == [
        ("203.0.113.5", 24, 4),
        ("2001:db8::5", 64, 6),
    ]
    assert (eth0.rx_bytes, eth0.tx_bytes, eth0.rx_errors, eth0.rx_dropped) == (1000, 500, 2, 3)


def test_bond_slaves_vlans_and_down_links_are_described() -> None:
    by_name = {
        n.name: n
        for n in parse_links(json.loads((DATA / "ip-addr-bridge-bond-vlan.json").read_text()))
    }
    assert by_name["eth1"].bond == "bond0" and by_name["eth1"].bridge is None
    assert by_name["bond0"].kind == "bond"
    vlan = by_name["bond0.100"]
    assert (vlan.kind, vlan.vlan_id, vlan.base_interface) == ("vlan", 100, "bond0")
    assert vlan.addresses[0].address == "198.51.100.7"
    assert not by_name["eth2"].up


@given(JSON)
def test_ip_json_garbage_gives_no_crash(value: object) -> None:
    for nic in parse_links(value, {"x": 10}):
        assert nic.name


def test_rates_come_from_two_samples_and_a_counter_reset_gives_none() -> None:
    now = [100.0]
    sampler = NicRateSampler(lambda: now[0])
    first = sampler.sample([HostNicReport(name="eth0", rx_bytes=1000, tx_bytes=0)])
    assert first[0].rx_rate is None
    now[0] = 102.0
    second = sampler.sample([HostNicReport(name="eth0", rx_bytes=5000, tx_bytes=200)])
    assert (second[0].rx_rate, second[0].tx_rate) == (2000.0, 100.0)
    now[0] = 104.0
    reset = sampler.sample([HostNicReport(name="eth0", rx_bytes=10, tx_bytes=10)])
    assert reset[0].rx_rate is None


def test_machine_probe_reads_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "loadavg").write_text("0.10 0.20 0.30 1/100 42\n")
    (tmp_path / "stat").write_text(STAT)
    (tmp_path / "meminfo").write_text(MEMINFO)

    class NoNics:
        def sample(self) -> list[HostNicReport]:
            return []

    probe = MachineProbe(tmp_path, nics=NoNics())
    found = probe.figures(memory=True)
    assert (found["load_avg_1m"], found["load_avg_5m"], found["load_avg_15m"]) == (0.1, 0.2, 0.3)
    assert found["boot_time"] == 1796354887
    assert found["swap_total_bytes"] == 2097152 * 1024
    assert found["memory_shared_bytes"] == 65536 * 1024
    assert found["ksm_cpu_pct"] is None  # no ksmd in this tree
    assert "swap_total_bytes" not in probe.figures(memory=False)


def test_agents_of_one_process_share_one_ip_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []

    def fake_ip() -> list[object]:
        runs.append(1)
        return []

    monkeypatch.setattr(hostnics, "_run_ip", fake_ip)
    shared = hostnics._SharedLinks(fresh_s=3600)
    assert shared.read() == [] and shared.read() == []
    assert len(runs) == 1
    stale = hostnics._SharedLinks(fresh_s=0)
    stale.read()
    stale.read()
    assert len(runs) == 3


def test_a_failed_ip_listing_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[object] = [None, []]
    monkeypatch.setattr(hostnics, "_run_ip", lambda: answers.pop(0))
    shared = hostnics._SharedLinks(fresh_s=3600)
    assert shared.read() is None
    assert shared.read() == []  # asked again at once, not an hour later
