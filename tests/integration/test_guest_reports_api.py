"""What a guest agent reports reaches the API as oVirt shows it; simulated guests report none.

libvirt's test driver has no guest agent, so the report a real one would give is added to the
simulated host's VM statistics here: it still travels the real path (agent → JSON-RPC → engine)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_vms_lab import API, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.common.protocol import (
    GuestInterface,
    GuestOs,
    GuestReport,
    GuestTimezone,
    GuestUser,
    NicAddress,
    VmStats,
)

REPORT = GuestReport(
    hostname="web-01.example.test",
    os=GuestOs(
        id="debian",
        name="Debian GNU/Linux",
        version="12 (bookworm)",
        version_id="12",
        kernel_release="6.1.0-28-amd64",
        machine="x86_64",
    ),
    timezone=GuestTimezone(name="CET", offset_s=3600),
    users=[GuestUser(name="root")],
    interfaces=[
        GuestInterface(
            name="eth0",
            mac="56:6f:00:00:00:01",
            addresses=[
                NicAddress(address="203.0.113.9", prefix=24, version=4),
                NicAddress(address="2001:db8::9", prefix=64, version=6),
            ],
        )
    ],
)


async def _until(vmlab: VmLab, path: str, check: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(200):
        body = (await vmlab.http.get(f"{API}{path}")).json()
        if check(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never matched: {body}")


async def test_a_simulated_guest_reports_nothing_of_its_own(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await asyncio.sleep(0.5)  # several stats reports

    shown = await vmlab.vm(vm["id"])
    devices = (await vmlab.http.get(f"{API}/vms/{vm['id']}/reporteddevices")).json()

    assert "fqdn" not in shown and "guest_operating_system" not in shown
    assert devices.get("reported_device", []) == []


async def test_a_guest_agents_report_is_served_while_the_vm_runs(
    vmlab: VmLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, _host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    measured = agent.driver.vm_stats  # type: ignore[union-attr]

    def with_agent() -> list[VmStats]:
        return [s.model_copy(update={"guest": REPORT}) for s in measured()]

    monkeypatch.setattr(agent.driver, "vm_stats", with_agent)

    shown = await _until(vmlab, f"/vms/{vm['id']}", lambda b: "fqdn" in b)
    assert shown["fqdn"] == "web-01.example.test"
    os = shown["guest_operating_system"]
    assert (os["distribution"], os["codename"], os["architecture"]) == (
        "Debian GNU/Linux",
        "bookworm",
        "x86_64",
    )
    assert os["kernel"]["version"]["full_version"] == "6.1.0-28-amd64"
    assert int(os["version"]["major"]) == 12
    assert shown["guest_time_zone"] == {"name": "CET", "utc_offset": "+01:00"}
    devices = (await vmlab.http.get(f"{API}/vms/{vm['id']}/reporteddevices")).json()
    [eth0] = devices["reported_device"]
    assert eth0["mac"]["address"] == "56:6f:00:00:00:01"
    assert [ip["address"] for ip in eth0["ips"]["ip"]] == ["203.0.113.9", "2001:db8::9"]
    sessions = (await vmlab.http.get(f"{API}/vms/{vm['id']}/sessions")).json()
    assert [s["user"]["user_name"] for s in sessions["session"]] == ["root"]

    await vmlab.run_action(vm["id"], "stop")
    await vmlab.wait_vm(vm["id"], "down")
    down = await vmlab.vm(vm["id"])
    assert "fqdn" not in down
    gone = (await vmlab.http.get(f"{API}/vms/{vm['id']}/reporteddevices")).json()
    assert gone.get("reported_device", []) == []


async def test_guest_reported_fields_cannot_be_written(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    refused = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"fqdn": "forged.example"})
    assert refused.status_code == 400
    assert "fqdn" in refused.text
