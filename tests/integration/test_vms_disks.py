"""VMs with disks: inline disks on add (image_locked until created), disks given to the guest."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.engine.commands.vmspec import build_spec

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


async def _wait(vmlab: VmLab, path: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        reply = await vmlab.http.get(f"{API}{path}")
        if reply.status_code == 200 and reply.json().get("status") == status:
            found: dict[str, Any] = reply.json()
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never became {status}")


def _one_new_disk(domain: dict[str, Any]) -> dict[str, Any]:
    """An inline disk_attachment creating a 1 GiB thin disk on ``domain``."""
    disk = {
        "alias": "vm1_disk",
        "format": "cow",
        "provisioned_size": GiB,
        "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
    }
    return {"disk_attachment": [{"bootable": True, "interface": "virtio", "disk": disk}]}


async def _active_domain(vmlab: VmLab) -> dict[str, Any]:
    where = vmlab.tmp_path / "storage"
    where.mkdir()
    body = {
        "name": "data1",
        "type": "data",
        "storage": {"type": "posixfs", "path": str(where), "vfs_type": "none"},
        "host": {"name": "h1"},
    }
    reply = await vmlab.http.post(f"{API}/storagedomains", json=body)
    assert reply.status_code == 201, reply.text
    domain_id = reply.json()["id"]
    await _wait(vmlab, f"/storagedomains/{domain_id}", "unattached")
    dcs = (await vmlab.http.get(f"{API}/datacenters")).json()["data_center"]
    dc_id = dcs[0]["id"]
    attached = await vmlab.http.post(
        f"{API}/datacenters/{dc_id}/storagedomains", json={"id": domain_id}
    )
    assert attached.status_code == 201, attached.text
    return await _wait(vmlab, f"/datacenters/{dc_id}/storagedomains/{domain_id}", "active")


async def test_a_vm_added_with_an_inline_disk_is_locked_until_the_disk_exists(
    vmlab: VmLab,
) -> None:
    await vmlab.up_host("h1")
    domain = await _active_domain(vmlab)
    attachments = _one_new_disk(domain)
    vm = await vmlab.add_vm("vm1", disk_attachments=attachments)
    assert vm["status"] == "image_locked"
    await vmlab.wait_vm(vm["id"], "down")
    listed = (await vmlab.http.get(f"{API}/vms/{vm['id']}/diskattachments")).json()
    disk_id = listed["disk_attachment"][0]["disk"]["id"]
    created = (await vmlab.http.get(f"{API}/disks/{disk_id}")).json()
    assert created["status"] == "ok"
    with vmlab.engine.database.read() as conn:
        spec = build_spec(conn, vm["id"])
    expected = f"{domain['storage']['path']}/{domain['id']}/images/{disk_id}/{created['image_id']}"
    assert [(d.path, d.format, d.bootable) for d in spec.disks] == [(expected, "qcow2", True)]
    await vmlab.start_vm(vm["id"])


async def test_vms_are_found_by_the_storage_domain_of_their_disks(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    domain = await _active_domain(vmlab)
    attachments = _one_new_disk(domain)
    with_disk = await vmlab.add_vm("vm1", disk_attachments=attachments)
    await vmlab.add_vm("vm2")
    await vmlab.wait_vm(with_disk["id"], "down")

    async def names(search: str) -> list[str]:
        found = (await vmlab.http.get(f"{API}/vms", params={"search": search})).json()
        return [vm["name"] for vm in found.get("vm", [])]

    assert await names("Storage.name=data1") == ["vm1"]
    assert await names("storage=nothing-here") == []
    assert await names("cluster.name=Default and name=vm*") == ["vm1", "vm2"]
