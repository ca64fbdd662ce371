"""Where VMs start: placement policies (pinned, preferred) by host name or id, run-once's
"start on this host" and why it refuses, the built-in scheduling policies, a full runner."""

from __future__ import annotations

from typing import Any

import pytest
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hostprobe import MachineProbe

NONE_POLICY = "b4ed2332-a7ac-4d5f-9596-99a439cb2812"
POWER_SAVING = "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53"


@pytest.fixture(autouse=True)
def no_cpu_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated hosts measure the CPU of the machine they all share, each at its own moment,
    so its busy share would tip the CPU weights at random: here they report none."""
    monkeypatch.setattr(MachineProbe, "cpu_ticks", lambda _self: None)


async def _two_hosts(vmlab: VmLab) -> tuple[str, str]:
    _, first = await vmlab.up_host("h1")
    _, second = await vmlab.up_host("h2")
    return first, second


async def _start_on(vmlab: VmLab, vm_id: str, host: dict[str, str]) -> Any:
    return await vmlab.http.post(f"{API}/vms/{vm_id}/start", json={"vm": {"host": host}})


async def _jobs(vmlab: VmLab) -> list[Any]:
    listed: list[Any] = (await vmlab.http.get(f"{API}/jobs")).json().get("job", [])
    return listed


# --- placement policies --------------------------------------------------------------------------


async def test_a_vm_pinned_to_a_host_by_name_stores_its_id_and_starts_there(
    vmlab: VmLab,
) -> None:
    _, second = await _two_hosts(vmlab)
    policy = {"affinity": "pinned", "hosts": {"host": [{"name": "h2"}]}}
    vm = await vmlab.add_vm("vm1", placement_policy=policy)
    assert vm["placement_policy"]["hosts"]["host"] == [
        {"id": second, "href": f"{API}/hosts/{second}"}
    ]
    up = await vmlab.start_vm(vm["id"])
    assert up["host"]["id"] == second


async def test_a_preferred_host_given_by_id_is_chosen_first(vmlab: VmLab) -> None:
    _, second = await _two_hosts(vmlab)
    policy = {"affinity": "migratable", "hosts": {"host": [{"id": second}]}}
    vm = await vmlab.add_vm("vm1", placement_policy=policy)
    assert (await vmlab.start_vm(vm["id"]))["host"]["id"] == second


async def test_a_preferred_host_without_room_gives_way_to_another(vmlab: VmLab) -> None:
    first, second = await _two_hosts(vmlab)
    big = await vmlab.add_vm(
        "big", memory=12 * GiB, placement_policy={"hosts": {"host": [{"id": second}]}}
    )
    await vmlab.start_vm(big["id"])
    vm = await vmlab.add_vm(
        "vm1", memory=8 * GiB, placement_policy={"hosts": {"host": [{"id": second}]}}
    )
    assert (await vmlab.start_vm(vm["id"]))["host"]["id"] == first


async def test_a_start_pinned_to_a_host_in_maintenance_is_refused_and_changes_nothing(
    vmlab: VmLab,
) -> None:
    _, second = await _two_hosts(vmlab)
    vm = await vmlab.add_vm(
        "vm1", placement_policy={"affinity": "pinned", "hosts": {"host": [{"id": second}]}}
    )
    deactivated = await vmlab.act(second, "deactivate")
    assert deactivated.status_code == 200, deactivated.text
    await vmlab.wait_status(second, "maintenance")
    jobs_before = await _jobs(vmlab)
    reply = await vmlab.vm_action(vm["id"], "start")
    assert reply.status_code == 409
    detail = reply.json()["detail"]
    assert "h2: HostStatus: host h2 is maintenance" in detail
    assert "h1: PinToHost: the VM is pinned to other hosts than h1" in detail
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    assert await _jobs(vmlab) == jobs_before


async def test_a_placement_policy_naming_an_unknown_host_is_refused(vmlab: VmLab) -> None:
    body = {
        "name": "vm1",
        "cluster": {"name": "Default"},
        "memory": GiB,
        "placement_policy": {"hosts": {"host": [{"name": "nowhere"}]}},
    }
    reply = await vmlab.http.post(f"{API}/vms", json=body)
    assert reply.status_code == 404
    assert "host named 'nowhere'" in reply.json()["detail"]


async def test_a_placement_policy_can_be_changed_by_host_name(vmlab: VmLab) -> None:
    first, _ = await _two_hosts(vmlab)
    vm = await vmlab.add_vm("vm1")
    policy = {"affinity": "user_migratable", "hosts": {"host": [{"name": "h1"}]}}
    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"placement_policy": policy})
    assert reply.status_code == 200, reply.text
    stored = reply.json()["placement_policy"]
    assert stored["affinity"] == "user_migratable"
    assert [h["id"] for h in stored["hosts"]["host"]] == [first]


# --- run once: start on this host ----------------------------------------------------------------


async def test_a_start_on_a_given_host_runs_the_vm_there(vmlab: VmLab) -> None:
    _, second = await _two_hosts(vmlab)
    vm = await vmlab.add_vm("vm1")
    reply = await _start_on(vmlab, vm["id"], {"name": "h2"})
    assert reply.status_code == 200, reply.text
    await vmlab.wait_job(reply.json()["job"]["id"])
    assert (await vmlab.wait_vm(vm["id"], "up"))["host"]["id"] == second


async def test_a_start_on_a_host_without_enough_memory_is_refused_saying_why(
    vmlab: VmLab,
) -> None:
    _, second = await _two_hosts(vmlab)
    big = await vmlab.add_vm("big", memory=12 * GiB)
    started = await _start_on(vmlab, big["id"], {"id": second})
    assert started.status_code == 200, started.text
    await vmlab.wait_vm(big["id"], "up")
    vm = await vmlab.add_vm("vm1", memory=8 * GiB)
    reply = await _start_on(vmlab, vm["id"], {"id": second})
    assert reply.status_code == 409
    assert reply.json()["detail"].startswith("Cannot run VM vm1 on host h2: Memory: host h2 has")
    assert (await vmlab.vm(vm["id"]))["status"] == "down"


async def test_a_start_on_a_host_in_maintenance_is_refused_saying_why(vmlab: VmLab) -> None:
    _, second = await _two_hosts(vmlab)
    assert (await vmlab.act(second, "deactivate")).status_code == 200
    await vmlab.wait_status(second, "maintenance")
    vm = await vmlab.add_vm("vm1")
    reply = await _start_on(vmlab, vm["id"], {"name": "h2"})
    assert reply.status_code == 409
    assert (
        reply.json()["detail"] == "Cannot run VM vm1 on host h2: HostStatus: host h2 is maintenance"
    )
    assert (await vmlab.vm(vm["id"]))["status"] == "down"


async def test_a_start_on_a_host_that_does_not_exist_is_refused(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    reply = await _start_on(vmlab, vm["id"], {"name": "h9"})
    assert reply.status_code == 404
    assert (await vmlab.vm(vm["id"]))["status"] == "down"


# --- a full runner -------------------------------------------------------------------------------


async def test_a_start_while_the_runner_is_full_is_a_503_with_retry_after(vmlab: VmLab) -> None:
    _, first = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", memory=12 * GiB)
    runner = vmlab.engine.runner
    runner.max_live = runner.live
    reply = await vmlab.vm_action(vm["id"], "start")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "2"
    assert "busy" in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    runner.max_live = 100
    # the refused start's placement was released: the host still has room for the same VM
    assert (await vmlab.start_vm(vm["id"]))["host"]["id"] == first


# --- scheduling policies -------------------------------------------------------------------------


async def test_the_five_ovirt_scheduling_policies_are_listed(vmlab: VmLab) -> None:
    listed = (await vmlab.http.get(f"{API}/schedulingpolicies")).json()["scheduling_policy"]
    names = {p["name"]: p for p in listed}
    assert set(names) == {
        "none",
        "evenly_distributed",
        "power_saving",
        "vm_evenly_distributed",
        "cluster_maintenance",
    }
    assert names["none"]["id"] == NONE_POLICY and names["none"]["default_policy"] is True
    props = {p["name"]: p["value"] for p in names["power_saving"]["properties"]["property"]}
    assert props["HighUtilization"] == "80" and props["LowUtilization"] == "20"


async def test_a_policys_filters_weights_and_balance_name_their_units(vmlab: VmLab) -> None:
    base = f"{API}/schedulingpolicies/{POWER_SAVING}"
    filters = (await vmlab.http.get(f"{base}/filters")).json()["filter"]
    weights = (await vmlab.http.get(f"{base}/weights")).json()["weight"]
    [balance] = (await vmlab.http.get(f"{base}/balances")).json()["balance"]
    units = (await vmlab.http.get(f"{API}/schedulingpolicyunits")).json()
    unit_ids = {u["id"]: u for u in units["scheduling_policy_unit"]}
    assert all(f["scheduling_policy_unit"]["id"] in unit_ids for f in filters)
    assert {w["name"]: w["factor"] for w in weights} == {
        "OptimalForCpuPowerSaving": 2,
        "OptimalForMemoryPowerSaving": 1,
        "PreferredHosts": 99,
    }
    assert unit_ids[balance["scheduling_policy_unit"]["id"]]["type"] == "load_balancing"
    memory = unit_ids["c9ddbb34-0e1d-4061-a8d7-b0893fa80932"]
    assert (memory["name"], memory["type"]) == ("Memory", "filter")


async def test_scheduling_policies_are_read_only(vmlab: VmLab) -> None:
    added = await vmlab.http.post(f"{API}/schedulingpolicies", json={"name": "mine"})
    assert added.status_code == 400
    assert "Custom scheduling policies are not supported" in added.json()["detail"]
    removed = await vmlab.http.delete(f"{API}/schedulingpolicies/{NONE_POLICY}")
    assert removed.status_code == 400


async def test_a_cluster_names_its_policy_by_name_and_an_unknown_one_is_refused(
    vmlab: VmLab,
) -> None:
    clusters = (await vmlab.http.get(f"{API}/clusters")).json()["cluster"]
    url = f"{API}/clusters/{clusters[0]['id']}"
    changed = await vmlab.http.put(url, json={"scheduling_policy": {"name": "power_saving"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["scheduling_policy"]["id"] == POWER_SAVING
    refused = await vmlab.http.put(url, json={"scheduling_policy": {"name": "fastest"}})
    assert refused.status_code == 400
    assert "no scheduling policy 'fastest'" in refused.json()["detail"]
    assert (await vmlab.http.get(url)).json()["scheduling_policy"]["id"] == POWER_SAVING


async def test_power_saving_fills_one_host_before_the_next(vmlab: VmLab) -> None:
    await _two_hosts(vmlab)
    clusters = (await vmlab.http.get(f"{API}/clusters")).json()["cluster"]
    url = f"{API}/clusters/{clusters[0]['id']}"
    await vmlab.http.put(url, json={"scheduling_policy": {"name": "power_saving"}})
    hosts = set()
    for index in range(3):
        vm = await vmlab.add_vm(f"vm{index}")
        hosts.add((await vmlab.start_vm(vm["id"]))["host"]["id"])
    assert len(hosts) == 1
