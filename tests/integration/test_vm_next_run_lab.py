"""Changes to a running VM that need a restart are kept as its next-run configuration
(``PUT /vms/{id}?next_run=true``) and become its configuration when it goes down."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver

NEXT = "?next_run=true"


async def _running(vmlab: VmLab) -> tuple[dict[str, Any], LibvirtDriver]:
    agent, _ = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", memory=GiB)
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    return vm, agent.driver


async def test_a_next_run_change_waits_for_the_vm_to_go_down(vmlab: VmLab) -> None:
    vm, driver = await _running(vmlab)
    url = f"{API}/vms/{vm['id']}"

    reply = await vmlab.http.put(
        url + NEXT, json={"memory": 2 * GiB, "cpu_shares": 512, "description": "bigger"}
    )

    assert reply.status_code == 200, reply.text
    now = await vmlab.vm(vm["id"])
    assert (now["memory"], now["description"], now["next_run_configuration_exists"]) == (
        GiB,
        "bigger",  # a field a running VM takes at once changes now
        True,
    )
    assert "cpu_shares" not in now
    planned = (await vmlab.http.get(url + NEXT)).json()
    assert (planned["memory"], planned["cpu_shares"]) == (2 * GiB, 512)

    await vmlab.run_action(vm["id"], "stop")
    down = await vmlab.wait_vm(vm["id"], "down")
    assert (down["memory"], down["cpu_shares"]) == (2 * GiB, 512)
    assert down["next_run_configuration_exists"] is False
    await vmlab.start_vm(vm["id"])
    root = ET.fromstring(driver.domain_xml(vm["id"]))
    assert root.findtext("memory") == str(2 * GiB // 1024)
    assert root.findtext("cputune/shares") == "512"


async def test_without_next_run_a_running_vm_refuses_a_restart_change(vmlab: VmLab) -> None:
    vm, _ = await _running(vmlab)

    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"memory": 2 * GiB})

    assert reply.status_code == 409 and "next_run=true" in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["next_run_configuration_exists"] is False


async def test_next_run_changes_add_up(vmlab: VmLab) -> None:
    vm, _ = await _running(vmlab)
    url = f"{API}/vms/{vm['id']}"

    await vmlab.http.put(url + NEXT, json={"memory": 2 * GiB})
    await vmlab.http.put(url + NEXT, json={"soundcard_enabled": True})
    await vmlab.http.put(url + NEXT, json={"memory": 3 * GiB})

    planned = (await vmlab.http.get(url + NEXT)).json()
    assert (planned["memory"], planned["soundcard_enabled"]) == (3 * GiB, True)
    assert planned["next_run_configuration_exists"] is True


async def test_reverting_every_next_run_change_drops_the_configuration(vmlab: VmLab) -> None:
    vm, _ = await _running(vmlab)
    url = f"{API}/vms/{vm['id']}"
    await vmlab.http.put(url + NEXT, json={"memory": 2 * GiB})

    await vmlab.http.put(url + NEXT, json={"memory": GiB})

    assert (await vmlab.vm(vm["id"]))["next_run_configuration_exists"] is False
    assert (await vmlab.http.get(url + NEXT)).json()["memory"] == GiB


async def test_a_bad_next_run_change_is_refused_and_keeps_nothing(vmlab: VmLab) -> None:
    vm, _ = await _running(vmlab)
    url = f"{API}/vms/{vm['id']}"

    reply = await vmlab.http.put(url + NEXT, json={"custom_cpu_model": "NoSuchCpu"})

    assert reply.status_code == 400 and "custom_cpu_model" in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["next_run_configuration_exists"] is False
    assert "custom_cpu_model" not in (await vmlab.http.get(url + NEXT)).json()


async def test_next_run_on_a_vm_that_is_down_applies_at_once(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", memory=GiB)

    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}{NEXT}", json={"memory": 2 * GiB})

    assert reply.status_code == 200, reply.text
    found = await vmlab.vm(vm["id"])
    assert (found["memory"], found["next_run_configuration_exists"]) == (2 * GiB, False)
