"""VMs through the API without running them: add from templates, validation, NICs, removal."""

from __future__ import annotations

import asyncio
from typing import Any

from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.services.permissions import SUPER_USER_ROLE_ID, USER_VM_MANAGER_ROLE_ID


async def test_a_new_vm_is_down_and_inherits_the_blank_template(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1", memory=2 * GiB)
    assert vm["status"] == "down"
    assert vm["memory"] == 2 * GiB
    assert vm["os"]["type"] == "other"
    assert vm["os"]["boot"]["devices"]["device"] == ["hd"]
    assert vm["cpu"]["topology"] == {"sockets": 1, "cores": 1, "threads": 1}
    assert vm["template"]["id"] == "00000000-0000-0000-0000-000000000000"
    assert vm["memory_policy"]["guaranteed"] <= vm["memory"]


async def test_vm_names_are_unique(vmlab: VmLab) -> None:
    await vmlab.add_vm("vm1")
    reply = await vmlab.http.post(
        f"{API}/vms", json={"name": "vm1", "cluster": {"name": "Default"}}
    )
    assert reply.status_code == 409
    assert "already in use" in reply.json()["detail"]


async def test_invalid_hardware_is_refused(vmlab: VmLab) -> None:
    bad: list[dict[str, Any]] = [
        {"memory": 0},
        {"memory": 5 * 1024**4},
        {"os": {"type": "beos"}},
        {"cpu": {"topology": {"sockets": 1, "cores": 800, "threads": 1}}},
    ]
    for fields in bad:
        body = {"name": "bad", "cluster": {"name": "Default"}, **fields}
        reply = await vmlab.http.post(f"{API}/vms", json=body)
        assert reply.status_code == 400, (fields, reply.text)


async def test_nics_get_unique_macs_from_the_pool(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    profiles = (await vmlab.http.get(f"{API}/vnicprofiles")).json()["vnic_profile"]
    replies = await asyncio.gather(
        *(
            vmlab.http.post(
                f"{API}/vms/{vm['id']}/nics",
                json={"name": f"nic{i}", "vnic_profile": {"id": profiles[0]["id"]}},
            )
            for i in range(5)
        )
    )
    macs = [r.json()["mac"]["address"] for r in replies if r.status_code == 201]
    assert len(macs) == 5
    assert len(set(macs)) == 5
    assert all(mac.startswith("56:6f:") for mac in macs)
    listed = (await vmlab.http.get(f"{API}/vms/{vm['id']}/nics")).json()["nic"]
    assert sorted(n["mac"]["address"] for n in listed) == sorted(macs)


async def test_a_mac_in_use_cannot_be_given_to_another_nic(vmlab: VmLab) -> None:
    first, second = await vmlab.add_vm("vm1"), await vmlab.add_vm("vm2")
    body = {"name": "nic1", "mac": {"address": "56:6f:00:00:00:01"}}
    assert (await vmlab.http.post(f"{API}/vms/{first['id']}/nics", json=body)).status_code == 201
    reply = await vmlab.http.post(f"{API}/vms/{second['id']}/nics", json=body)
    assert reply.status_code == 409


async def test_a_down_vm_is_removed_with_its_nics(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json={"name": "nic1"})
    assert (await vmlab.http.delete(f"{API}/vms/{vm['id']}")).status_code == 200
    assert (await vmlab.http.get(f"{API}/vms/{vm['id']}")).status_code == 404
    assert (await vmlab.http.get(f"{API}/vms/{vm['id']}/nics")).status_code == 404
    with vmlab.engine.database.read() as conn:
        assert repos.nics.count(conn) == 0


async def test_a_down_vm_can_be_edited_and_renamed(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    reply = await vmlab.http.put(
        f"{API}/vms/{vm['id']}", json={"name": "renamed", "memory": 2 * GiB}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "renamed"
    assert reply.json()["memory"] == 2 * GiB


async def test_a_start_no_host_could_take_is_refused_before_it_is_accepted(
    vmlab: VmLab,
) -> None:
    vm = await vmlab.add_vm("vm1")
    jobs_before = (await vmlab.http.get(f"{API}/jobs")).json().get("job", [])

    reply = await vmlab.vm_action(vm["id"], "start")

    assert reply.status_code == 409, reply.text
    assert "There is no host in status up in cluster 'Default'" in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    assert (await vmlab.http.get(f"{API}/jobs")).json().get("job", []) == jobs_before


async def test_a_start_whose_placement_fails_later_fails_its_job_with_the_reason(
    vmlab: VmLab,
) -> None:
    # the host may go away between the API's check and the command's placement
    vm = await vmlab.add_vm("vm1")
    job_id = await asyncio.to_thread(
        vmlab.engine.runner.submit, "vm.start", {"vm_id": vm["id"]}, locks=[(vm["id"], "vm")]
    )
    job = await vmlab.wait_job(job_id)
    assert job.status == JobStatus.FAILED
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    assert any("no host in status up" in (e.description or "") for e in vmlab.events())


async def test_sub_collections_of_a_down_vm(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    base = f"{API}/vms/{vm['id']}"
    assert (await vmlab.http.get(f"{base}/numanodes")).json().get("vm_numa_node", []) == []
    consoles = (await vmlab.http.get(f"{base}/graphicsconsoles?current=true")).json()
    [console] = consoles["graphics_console"]
    assert (console["id"], console["protocol"], console["vm"]["id"]) == ("766e63", "vnc", vm["id"])
    assert "address" not in console and "port" not in console
    permissions = (await vmlab.http.get(f"{base}/permissions")).json()["permission"]
    assert [p["role"]["id"] for p in permissions] == [SUPER_USER_ROLE_ID, USER_VM_MANAGER_ROLE_ID]
    stats = (await vmlab.http.get(f"{base}/statistics")).json()["statistic"]
    by_name = {s["name"]: s["values"]["value"][0]["datum"] for s in stats}
    assert by_name["memory.installed"] == GiB


async def test_tags_are_assigned_to_a_vm_and_unassigned_without_being_removed(
    vmlab: VmLab,
) -> None:
    vm, other = await vmlab.add_vm("vm1"), await vmlab.add_vm("vm2")
    tags = f"{API}/vms/{vm['id']}/tags"
    tag = (await vmlab.http.post(f"{API}/tags", json={"name": "web"})).json()
    spare = (await vmlab.http.post(f"{API}/tags", json={"name": "spare"})).json()

    by_name = await vmlab.http.post(tags, json={"name": "web"})
    again = await vmlab.http.post(tags, json={"id": tag["id"]})
    unknown = await vmlab.http.post(tags, json={"name": "nope"})
    nameless = await vmlab.http.post(tags, json={})
    by_id = await vmlab.http.post(tags, json={"id": spare["id"]})

    assert by_name.status_code == 201, by_name.text
    assert again.status_code == 409 and "already assigned" in again.json()["detail"]
    assert unknown.status_code == 404 and nameless.status_code == 400
    assert by_id.status_code == 201, by_id.text
    listed = (await vmlab.http.get(tags)).json()["tag"]
    assert sorted(t["name"] for t in listed) == ["spare", "web"]
    assert (await vmlab.http.get(f"{API}/vms/{other['id']}/tags")).json().get("tag", []) == []

    assert (await vmlab.http.delete(f"{tags}/{tag['id']}")).status_code == 200
    assert (await vmlab.http.delete(f"{tags}/{tag['id']}")).status_code == 404
    assert (await vmlab.http.get(f"{API}/tags/{tag['id']}")).status_code == 200
    # removing the tag itself, or the VM, unassigns it
    assert (await vmlab.http.delete(f"{API}/tags/{spare['id']}")).status_code == 200
    assert (await vmlab.http.get(tags)).json().get("tag", []) == []
    await vmlab.http.post(tags, json={"id": tag["id"]})
    assert (await vmlab.http.delete(f"{API}/vms/{vm['id']}")).status_code == 200
    assert (await vmlab.http.delete(f"{API}/tags/{tag['id']}")).status_code == 200


async def test_a_vms_permissions_are_the_stored_grants_and_go_with_the_vm(vmlab: VmLab) -> None:
    vm = await vmlab.add_vm("vm1")
    base = f"{API}/vms/{vm['id']}/permissions"
    first = (await vmlab.http.get(base)).json()["permission"]
    again = (await vmlab.http.get(base)).json()["permission"]
    assert first == again  # the same rows, not made up per call
    [manager] = [p for p in first if p["role"]["id"] == USER_VM_MANAGER_ROLE_ID]
    assert manager["vm"]["id"] == vm["id"]
    admin = (await vmlab.http.get(f"{API}/users")).json()["user"][0]
    assert manager["user"]["id"] == admin["id"]
    got = (await vmlab.http.get(f"{base}/{manager['id']}")).json()
    assert got["id"] == manager["id"]

    assert (await vmlab.http.delete(f"{API}/vms/{vm['id']}")).status_code == 200
    with vmlab.engine.database.read() as conn:
        left = conn.execute(
            tables.permissions.select().where(tables.permissions.c.object_id == vm["id"])
        ).all()
    assert left == []
