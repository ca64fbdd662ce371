"""VMs run on real agents (libvirt test driver) through commands and host monitoring."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.common.protocol import VmRunState, VmState
from virtfleet.engine.core.eventlog import EventCode


async def test_a_started_vm_comes_up_on_an_up_host(vmlab: VmLab) -> None:
    agent, host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    up = await vmlab.start_vm(vm["id"])
    assert up["host"]["id"] == host_id
    assert up["start_time"]
    assert vmlab.domains(vm["id"]) == {agent.host_uuid: "running"}
    started = [e for e in vmlab.events() if e.code == EventCode.VM_STARTED]
    assert started and "vm1 started on Host h1" in (started[0].description or "")


async def test_two_concurrent_starts_run_the_vm_once(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    await vmlab.up_host("h2")
    vm = await vmlab.add_vm("vm1")
    replies = await asyncio.gather(*(vmlab.vm_action(vm["id"], "start") for _ in range(4)))
    accepted = [r for r in replies if r.status_code == 200]
    assert len(accepted) == 1, [r.text for r in replies]
    assert all(r.status_code == 409 for r in replies if r.status_code != 200)
    await vmlab.wait_job(accepted[0].json()["job"]["id"])
    await vmlab.wait_vm(vm["id"], "up")
    assert len(vmlab.domains(vm["id"])) == 1
    again = await vmlab.vm_action(vm["id"], "start")
    assert again.status_code == 409
    assert "Cannot run VM. VM vm1 is running." in again.json()["detail"]


async def test_stop_powers_the_vm_off(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await vmlab.run_action(vm["id"], "stop")
    down = await vmlab.wait_vm(vm["id"], "down")
    assert "host" not in down
    assert vmlab.domains(vm["id"]) == {}
    texts = [e.description for e in vmlab.events()]
    assert "VM vm1 powered off by admin@internal." in texts
    again = await vmlab.vm_action(vm["id"], "stop")
    assert again.status_code == 409
    assert "Cannot stop VM. VM is not running." in again.json()["detail"]


async def test_shutdown_brings_the_vm_down(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await vmlab.run_action(vm["id"], "shutdown")
    await vmlab.wait_vm(vm["id"], "down")
    assert vmlab.domains(vm["id"]) == {}


async def test_reboot_keeps_the_vm_up(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await vmlab.run_action(vm["id"], "reboot")
    assert (await vmlab.vm(vm["id"]))["status"] == "up"


async def test_a_suspended_vm_resumes_on_its_host_when_started(vmlab: VmLab) -> None:
    agent, host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await vmlab.run_action(vm["id"], "suspend")
    suspended = await vmlab.wait_vm(vm["id"], "suspended")
    assert suspended["host"]["id"] == host_id
    assert vmlab.domains(vm["id"]) == {agent.host_uuid: "suspended"}
    await vmlab.start_vm(vm["id"])
    assert vmlab.domains(vm["id"]) == {agent.host_uuid: "running"}


async def test_a_running_vm_cannot_be_removed_even_forced_or_resized(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    for query in ("", "?force=true"):
        refused = await vmlab.http.delete(f"{API}/vms/{vm['id']}{query}")
        assert refused.status_code == 409
        assert refused.json()["detail"] == "Cannot remove VM. VM is running."
    assert (await vmlab.vm(vm["id"]))["status"] == "up"
    assert list(vmlab.domains(vm["id"]).values()) == ["running"]
    resized = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"memory": 2 * GiB})
    assert resized.status_code == 409
    renamed = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"name": "web"})
    assert renamed.status_code == 200, renamed.text
    await vmlab.run_action(vm["id"], "stop")
    await vmlab.wait_vm(vm["id"], "down")
    assert (await vmlab.http.delete(f"{API}/vms/{vm['id']}")).status_code == 200


async def test_a_domain_destroyed_behind_the_engines_back_is_reported_down(
    vmlab: VmLab,
) -> None:
    agent, _host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    assert agent.driver is not None
    await asyncio.to_thread(agent.driver.destroy_vm, vm["id"])
    down = await vmlab.wait_vm(vm["id"], "down")
    assert "host" not in down
    downs = [e for e in vmlab.events() if e.code == EventCode.VM_DOWN]
    assert downs and downs[0].vm is not None and downs[0].vm.id == vm["id"]


async def test_a_running_vm_reports_statistics_and_a_console(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    base = f"{API}/vms/{vm['id']}"
    names: set[str] = set()
    for _ in range(100):
        stats = (await vmlab.http.get(f"{base}/statistics")).json()["statistic"]
        names = {s["name"] for s in stats}
        used = [s for s in stats if s["name"] == "memory.used"]
        if used and used[0]["values"]["value"][0]["datum"] > 0:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("no memory usage reported")
    assert {"cpu.current.guest", "memory.installed", "memory.used"} <= names
    consoles = (await vmlab.http.get(f"{base}/graphicsconsoles")).json()["graphics_console"]
    assert [c["id"] for c in consoles] == ["766e63"]


async def test_vm_statuses_survive_an_engine_restart(vmlab: VmLab) -> None:
    _agent, host_id = await vmlab.up_host("h1")
    running, idle = await vmlab.add_vm("vm1"), await vmlab.add_vm("vm2")
    await vmlab.start_vm(running["id"])
    await vmlab.restart_engine()
    await vmlab.wait_status(host_id, "up")
    assert (await vmlab.vm(running["id"]))["status"] == "up"
    assert (await vmlab.vm(running["id"]))["host"]["id"] == host_id
    assert (await vmlab.vm(idle["id"]))["status"] == "down"
    await vmlab.run_action(running["id"], "stop")
    await vmlab.wait_vm(running["id"], "down")


async def test_a_report_from_a_host_the_vm_is_not_on_changes_nothing_but_a_copy_is_reported(
    vmlab: VmLab,
) -> None:
    _first, first_id = await vmlab.up_host("h1")
    _second, second_id = await vmlab.up_host("h2")
    vm = await vmlab.add_vm("vm1")
    up = await vmlab.start_vm(vm["id"])
    stranger = second_id if up["host"]["id"] == first_id else first_id
    tracker = vmlab.engine.vm_states
    await tracker.on_vm_state(stranger, VmState(vm_id=vm["id"], state=VmRunState.DOWN))
    await tracker.on_vm_list(stranger, [VmState(vm_id=vm["id"], state=VmRunState.RUNNING)])
    after = await vmlab.vm(vm["id"])
    assert after["status"] == "up"
    assert after["host"]["id"] == up["host"]["id"]
    # a second running copy is left alone, and said loudly
    [event] = [e for e in vmlab.events() if e.code == EventCode.VM_RUNNING_ON_TWO_HOSTS]
    assert event.severity == "error" and "stop one of them" in (event.description or "")


async def test_a_vm_running_unknown_to_the_engine_is_adopted_on_reconciliation(
    vmlab: VmLab,
) -> None:
    _agent, host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    tracker = vmlab.engine.vm_states
    await tracker.on_vm_list(host_id, [VmState(vm_id=vm["id"], state=VmRunState.RUNNING)])
    adopted = await vmlab.vm(vm["id"])
    assert adopted["status"] == "up"
    assert adopted["host"]["id"] == host_id
    assert any("was found running on Host h1" in (e.description or "") for e in vmlab.events())


async def test_vms_of_a_lost_host_are_unknown_and_down_once_it_returns_without_them(
    vmlab: VmLab,
) -> None:
    agent, host_id = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await vmlab.start_vm(vm["id"])
    await agent.stop()
    await vmlab.wait_status(host_id, "non_responsive")
    unknown = await vmlab.wait_vm(vm["id"], "unknown")
    assert unknown["host"]["id"] == host_id
    await agent.start()  # a fresh test-driver node: the VM's domain is gone
    await vmlab.wait_status(host_id, "up")
    await vmlab.wait_vm(vm["id"], "down")


@pytest.mark.parametrize("policy", ["vm", "host", "custom"])
async def test_the_serial_number_policy_gives_the_guest_its_smbios_serial(
    vmlab: VmLab, policy: str
) -> None:
    agent, host_id = await vmlab.up_host("h1")
    serial = {"policy": policy, **({"value": "asset-7"} if policy == "custom" else {})}
    vm = await vmlab.add_vm("vm1", serial_number=serial)
    await vmlab.start_vm(vm["id"])

    assert isinstance(agent.driver, LibvirtDriver)
    root = ET.fromstring(agent.driver.domain_xml(vm["id"]))
    host = (await vmlab.http.get(f"{API}/hosts/{host_id}")).json()
    wanted = {"vm": vm["id"], "host": host["hardware_information"]["uuid"], "custom": "asset-7"}
    assert root.findtext("sysinfo/system/entry[@name='serial']") == wanted[policy]


async def test_a_custom_serial_number_without_a_value_is_refused(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    reply = await vmlab.http.put(
        f"{API}/vms/{vm['id']}", json={"serial_number": {"policy": "custom"}}
    )
    assert reply.status_code == 400, reply.text
    assert "custom serial number needs a value" in reply.json()["detail"]
