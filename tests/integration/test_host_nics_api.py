"""A host's network interfaces and statistics through the API, as its agent measured them.

Simulated hosts run on this machine: their NICs, load and boot time are the machine's own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from test_hosts_lab import API, HostLab, added_up, lab_fixture  # noqa: F401

WAIT_S = 20.0


def _machine_links() -> dict[str, dict[str, Any]]:
    done = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, check=True)
    return {link["ifname"]: link for link in json.loads(done.stdout)}


async def _listed(lab: HostLab, path: str, key: str, wanted: set[str]) -> list[dict[str, Any]]:
    """The collection once it holds items with every name in ``wanted``."""
    items: list[dict[str, Any]] = []
    for _ in range(int(WAIT_S / 0.1)):
        items = (await lab.http.get(f"{API}{path}")).json().get(key, [])
        if wanted <= {item["name"] for item in items}:
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never listed {sorted(wanted)}: {items}")


async def test_host_nics_are_this_machines_interfaces_with_their_macs(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    links = {name: link for name, link in _machine_links().items() if name != "lo"}

    nics = await _listed(lab, f"/hosts/{host_id}/nics", "host_nic", set(links))

    assert {n["name"] for n in nics} == set(links)
    for nic in nics:
        link = links[nic["name"]]
        assert nic["mac"]["address"] == link["address"]
        assert int(nic["mtu"]) == link["mtu"]
        assert nic["status"] == ("up" if "LOWER_UP" in link["flags"] else "down")
        assert nic["host"]["id"] == host_id
        v4 = [a for a in link["addr_info"] if a["family"] == "inet" and a["scope"] == "global"]
        if v4:
            assert nic["ip"]["address"] == v4[0]["local"]
    one = nics[0]
    got = (await lab.http.get(f"{API}/hosts/{host_id}/nics/{one['id']}")).json()
    assert got["name"] == one["name"]


async def test_host_nic_statistics_carry_counters_then_rates(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    name = next(n for n in _machine_links() if n != "lo")
    [nic] = [
        n
        for n in await _listed(lab, f"/hosts/{host_id}/nics", "host_nic", {name})
        if n["name"] == name
    ]
    path = f"/hosts/{host_id}/nics/{nic['id']}/statistics"

    stats = await _listed(lab, path, "statistic", {"data.total.rx", "data.current.rx"})

    by_name = {s["name"]: s for s in stats}
    assert by_name["data.total.rx"]["unit"] == "bytes"
    assert by_name["data.current.rx"]["unit"] == "bytes_per_second"
    assert float(by_name["errors.total.rx"]["values"]["value"][0]["datum"]) >= 0
    missing = await lab.http.get(
        f"{API}/hosts/{host_id}/nics/{'0' * 8}-0000-0000-0000-{'0' * 12}/statistics"
    )
    assert missing.status_code == 404


async def test_host_statistics_are_measured_on_the_machine(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")

    stats = await _listed(lab, f"/hosts/{host_id}/statistics", "statistic", {"boot.time"})

    by_name = {s["name"]: float(s["values"]["value"][0]["datum"]) for s in stats}
    btime = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    assert by_name["boot.time"] == btime
    assert "cpu.load.avg.5m" in by_name
    idle = by_name["cpu.current.idle"] + by_name["cpu.current.user"] + by_name["cpu.current.system"]
    assert 99.0 <= idle <= 100.5
    # a simulated host's memory is its test-driver node's: no swap of this machine is claimed
    assert "swap.total" not in by_name
