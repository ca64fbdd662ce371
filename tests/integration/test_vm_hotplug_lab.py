"""NICs and disks plugged into and out of a running VM on a simulated host, each through a
persisted command; what cannot be plugged is refused and changes nothing."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from test_vms_disks import _active_domain, _one_new_disk, _wait
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver

needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


async def _running(vmlab: VmLab, **extra: Any) -> tuple[dict[str, Any], LibvirtDriver]:
    agent, _ = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", **extra)
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    return vm, agent.driver


def _macs(driver: LibvirtDriver, vm_id: str) -> list[str]:
    root = ET.fromstring(driver.definition_xml(vm_id))
    return [m.get("address") or "" for m in root.iterfind("devices/interface/mac")]


def _disk_files(driver: LibvirtDriver, vm_id: str) -> list[str]:
    root = ET.fromstring(driver.definition_xml(vm_id))
    return [s.get("file") or "" for s in root.iterfind("devices/disk/source")]


async def _profile_id(vmlab: VmLab) -> str:
    profiles = (await vmlab.http.get(f"{API}/vnicprofiles")).json()["vnic_profile"]
    return str(profiles[0]["id"])


async def test_a_nic_added_to_a_running_vm_is_plugged_into_its_domain(vmlab: VmLab) -> None:
    vm, driver = await _running(vmlab)
    body = {"name": "nic1", "vnic_profile": {"id": await _profile_id(vmlab)}}

    reply = await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json=body)

    assert reply.status_code == 201, reply.text
    nic = reply.json()
    assert nic["plugged"] is True
    assert _macs(driver, vm["id"]) == [nic["mac"]["address"]]
    jobs = (await vmlab.http.get(f"{API}/jobs")).json()["job"]
    assert any("Hot-plugging NIC nic1" in (j.get("description") or "") for j in jobs)


async def test_a_nic_unplugged_or_removed_leaves_the_running_domain(vmlab: VmLab) -> None:
    vm, driver = await _running(vmlab)
    body = {"name": "nic1", "vnic_profile": {"id": await _profile_id(vmlab)}}
    nic = (await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json=body)).json()
    url = f"{API}/vms/{vm['id']}/nics/{nic['id']}"

    unplugged = await vmlab.http.put(url, json={"plugged": False})
    gone_while_unplugged = _macs(driver, vm["id"])
    replugged = await vmlab.http.put(url, json={"plugged": True})
    back = _macs(driver, vm["id"])
    removed = await vmlab.http.delete(url)

    assert unplugged.status_code == 200 and unplugged.json()["plugged"] is False
    assert gone_while_unplugged == []
    assert replugged.status_code == 200 and replugged.json()["plugged"] is True
    assert back == [nic["mac"]["address"]]
    assert removed.status_code == 200, removed.text
    assert _macs(driver, vm["id"]) == []


async def test_a_plugged_nic_of_a_running_vm_keeps_its_mac(vmlab: VmLab) -> None:
    vm, _ = await _running(vmlab)
    body = {"name": "nic1", "vnic_profile": {"id": await _profile_id(vmlab)}}
    nic = (await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json=body)).json()

    reply = await vmlab.http.put(
        f"{API}/vms/{vm['id']}/nics/{nic['id']}", json={"mac": {"address": "56:6f:01:02:03:04"}}
    )

    assert reply.status_code == 409 and "unplug it first" in reply.json()["detail"]
    kept = (await vmlab.http.get(f"{API}/vms/{vm['id']}/nics/{nic['id']}")).json()
    assert kept["mac"] == nic["mac"]


async def test_a_nic_without_a_network_is_not_plugged_and_not_kept(vmlab: VmLab) -> None:
    vm, driver = await _running(vmlab)

    reply = await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json={"name": "nic1"})

    assert reply.status_code == 409, reply.text
    assert "vnic_profile" in reply.json()["detail"]
    assert (await vmlab.http.get(f"{API}/vms/{vm['id']}/nics")).json().get("nic", []) == []
    assert _macs(driver, vm["id"]) == []


async def _floating_disk(vmlab: VmLab, domain: dict[str, Any], alias: str) -> dict[str, Any]:
    body = {
        "alias": alias,
        "format": "cow",
        "provisioned_size": GiB,
        "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
    }
    reply = await vmlab.http.post(f"{API}/disks", json=body)
    assert reply.status_code == 201, reply.text
    return await _wait(vmlab, f"/disks/{reply.json()['id']}", "ok")


@needs_qemu_img
async def test_a_disk_attached_to_a_running_vm_is_plugged_and_detached_unplugged(
    vmlab: VmLab,
) -> None:
    agent, _ = await vmlab.up_host("h1")
    domain = await _active_domain(vmlab)
    vm = await vmlab.add_vm("vm1", disk_attachments=_one_new_disk(domain))
    await vmlab.wait_vm(vm["id"], "down")
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    driver = agent.driver
    data = await _floating_disk(vmlab, domain, "data1")
    url = f"{API}/vms/{vm['id']}/diskattachments"

    attached = await vmlab.http.post(url, json={"disk": {"id": data["id"]}, "interface": "virtio"})
    with_data = _disk_files(driver, vm["id"])
    detached = await vmlab.http.delete(f"{url}/{data['id']}")

    assert attached.status_code == 201, attached.text
    assert attached.json()["active"] is True
    assert len(with_data) == 2 and with_data[1].endswith(f"/images/{data['id']}/{data['image_id']}")
    assert detached.status_code == 200, detached.text
    assert _disk_files(driver, vm["id"]) == with_data[:1]


@needs_qemu_img
async def test_the_boot_disk_of_a_running_vm_cannot_be_unplugged(vmlab: VmLab) -> None:
    agent, _ = await vmlab.up_host("h1")
    domain = await _active_domain(vmlab)
    vm = await vmlab.add_vm("vm1", disk_attachments=_one_new_disk(domain))
    await vmlab.wait_vm(vm["id"], "down")
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    url = f"{API}/vms/{vm['id']}/diskattachments"
    [boot] = (await vmlab.http.get(url)).json()["disk_attachment"]

    deactivated = await vmlab.http.put(f"{url}/{boot['id']}", json={"active": False})
    detached = await vmlab.http.delete(f"{url}/{boot['id']}")

    for reply in (deactivated, detached):
        assert reply.status_code == 409 and "boot disk" in reply.json()["detail"]
    assert (await vmlab.http.get(f"{url}/{boot['id']}")).json()["active"] is True
    assert len(_disk_files(agent.driver, vm["id"])) == 1
