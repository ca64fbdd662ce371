"""Disks and disk attachments through the API, with real qcow2/raw files made by a real agent."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_storage_lab import GIB, Lab, lab_fixture, volume_path  # noqa: F401

from virtfleet.agent.storage import qemuimg
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import VmStatus
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.persistence import tables

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


def _events(lab: Lab, code: int) -> list[str]:
    with lab.ctx.database.read() as conn:
        rows = conn.execute(select(tables.events.c.description).where(tables.events.c.code == code))
        return [row.description for row in rows]


async def _reply(lab: Lab, method: str, path: str, body: Any = None) -> int:
    reply = await lab.http.request(method, f"/ovirt-engine/api{path}", json=body)
    return reply.status_code


@pytest.fixture
async def domain(lab: Lab) -> dict[str, Any]:
    return await lab.active_domain()


async def test_added_disk_is_a_real_qcow2_of_the_provisioned_size(
    lab: Lab, domain: dict[str, Any]
) -> None:
    added = await lab.post(
        "/disks",
        {
            "name": "d1",
            "format": "cow",
            "provisioned_size": GIB,
            "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
        },
    )
    assert added["status"] == "locked"
    await lab.wait_idle()
    disk = await lab.get(f"/disks/{added['id']}")
    info = qemuimg.info(str(volume_path(domain, disk)), "qcow2")
    assert (info.format, info.virtual_size) == ("qcow2", GIB)
    assert disk["status"] == "ok"
    assert int(disk["actual_size"]) == info.actual_size
    assert disk["image_id"] != disk["id"]
    assert _events(lab, EventCode.DISK_ADDED)


async def test_raw_disk_is_a_raw_file(lab: Lab, domain: dict[str, Any]) -> None:
    disk = await lab.add_disk(domain["id"], format="raw")
    info = qemuimg.info(str(volume_path(domain, disk)), "raw")
    assert (info.format, info.virtual_size) == ("raw", GIB)


async def test_alias_is_accepted_as_the_disk_name(lab: Lab, domain: dict[str, Any]) -> None:
    body = {
        "alias": "old-style",
        "provisioned_size": GIB,
        "storage_domains": {"storage_domain": [{"name": "data1"}]},
    }
    disk = await lab.post("/disks", body)
    assert (disk["name"], disk["alias"]) == ("old-style", "old-style")


async def test_disk_in_a_domain_that_is_not_active_is_refused(lab: Lab) -> None:
    unattached = await lab.add_domain("data2")
    body = {
        "name": "d",
        "provisioned_size": GIB,
        "storage_domains": {"storage_domain": [{"id": unattached["id"]}]},
    }
    assert await _reply(lab, "POST", "/disks", body) == 409


async def test_disk_without_a_size_is_invalid_input(lab: Lab, domain: dict[str, Any]) -> None:
    body = {"name": "d", "storage_domains": {"storage_domain": [{"id": domain["id"]}]}}
    assert await _reply(lab, "POST", "/disks", body) == 400


async def test_failed_volume_creation_leaves_the_disk_illegal_with_an_error_event(
    lab: Lab, domain: dict[str, Any]
) -> None:
    (Path(domain["storage"]["path"]) / domain["id"] / "dom_md" / "metadata").unlink()
    disk = await lab.add_disk(domain["id"])
    assert disk["status"] == "illegal"
    assert any("Adding disk d1 failed" in t for t in _events(lab, EventCode.JOB_FAILED))


async def test_removed_disk_loses_its_file(lab: Lab, domain: dict[str, Any]) -> None:
    disk = await lab.add_disk(domain["id"])
    path = volume_path(domain, disk)
    assert path.is_file()
    await lab.delete(f"/disks/{disk['id']}")
    await lab.wait_idle()
    assert not path.exists()
    assert await _reply(lab, "GET", f"/disks/{disk['id']}") == 404
    assert _events(lab, EventCode.DISK_REMOVED)


async def test_illegal_disk_can_be_removed(lab: Lab, domain: dict[str, Any]) -> None:
    metadata = Path(domain["storage"]["path"]) / domain["id"] / "dom_md" / "metadata"
    saved = metadata.read_bytes()
    metadata.unlink()
    disk = await lab.add_disk(domain["id"])
    metadata.write_bytes(saved)
    await lab.delete(f"/disks/{disk['id']}")
    await lab.wait_idle()
    assert await _reply(lab, "GET", f"/disks/{disk['id']}") == 404


async def test_domain_lists_its_disks_and_commits_their_size(
    lab: Lab, domain: dict[str, Any]
) -> None:
    disk = await lab.add_disk(domain["id"])
    listed = await lab.get(f"/storagedomains/{domain['id']}/disks")
    assert [d["id"] for d in listed["disk"]] == [disk["id"]]
    assert int((await lab.get(f"/storagedomains/{domain['id']}"))["committed"]) == GIB


async def test_existing_disk_attaches_with_the_disks_id(lab: Lab, domain: dict[str, Any]) -> None:
    disk = await lab.add_disk(domain["id"])
    vm_id = lab.add_vm()
    attachment = await lab.post(
        f"/vms/{vm_id}/diskattachments",
        {"disk": {"id": disk["id"]}, "interface": "virtio_scsi", "bootable": True},
    )
    assert attachment["id"] == disk["id"]
    listed = await lab.get(f"/vms/{vm_id}/diskattachments")
    (only,) = listed["disk_attachment"]
    assert (only["interface"], only["bootable"], only["active"]) == ("virtio_scsi", True, True)
    assert only["disk"]["id"] == disk["id"]


async def test_inline_disk_is_created_and_attached(lab: Lab, domain: dict[str, Any]) -> None:
    vm_id = lab.add_vm()
    body = {
        "disk": {
            "name": "vm1_disk",
            "format": "cow",
            "provisioned_size": GIB,
            "storage_domains": {"storage_domain": [{"name": "data1"}]},
        },
        "interface": "virtio",
        "bootable": True,
        "active": True,
    }
    attachment = await lab.post(f"/vms/{vm_id}/diskattachments", body)
    disk = await lab.wait_status(f"/disks/{attachment['id']}", "ok")
    assert volume_path(domain, disk).is_file()
    await lab.wait_idle()
    assert any(vm_id in str(v) for v in _vm_events(lab))


def _vm_events(lab: Lab) -> list[str | None]:
    with lab.ctx.database.read() as conn:
        rows = conn.execute(
            select(tables.events.c.vm_id).where(tables.events.c.code == EventCode.DISK_ADDED)
        )
        return [row.vm_id for row in rows]


async def test_disk_attached_elsewhere_is_refused(lab: Lab, domain: dict[str, Any]) -> None:
    disk = await lab.add_disk(domain["id"])
    first, second = lab.add_vm("vm1"), lab.add_vm("vm2")
    await lab.post(f"/vms/{first}/diskattachments", {"disk": {"id": disk["id"]}})
    body = {"disk": {"id": disk["id"]}}
    assert await _reply(lab, "POST", f"/vms/{second}/diskattachments", body) == 409


async def test_second_bootable_disk_is_refused(lab: Lab, domain: dict[str, Any]) -> None:
    one, two = await lab.add_disk(domain["id"], "a"), await lab.add_disk(domain["id"], "b")
    vm_id = lab.add_vm()
    await lab.post(f"/vms/{vm_id}/diskattachments", {"disk": {"id": one["id"]}, "bootable": True})
    body = {"disk": {"id": two["id"]}, "bootable": True}
    assert await _reply(lab, "POST", f"/vms/{vm_id}/diskattachments", body) == 409


async def test_attachments_do_not_change_while_the_vm_runs(
    lab: Lab, domain: dict[str, Any]
) -> None:
    one, two = await lab.add_disk(domain["id"], "a"), await lab.add_disk(domain["id"], "b")
    vm_id = lab.add_vm()
    await lab.post(f"/vms/{vm_id}/diskattachments", {"disk": {"id": one["id"]}})
    lab.set_vm_status(vm_id, VmStatus.UP)
    base = f"/vms/{vm_id}/diskattachments"
    assert await _reply(lab, "POST", base, {"disk": {"id": two["id"]}}) == 409
    assert await _reply(lab, "DELETE", f"{base}/{one['id']}") == 409
    assert await _reply(lab, "PUT", f"{base}/{one['id']}", {"interface": "sata"}) == 409
    assert await _reply(lab, "DELETE", f"/disks/{one['id']}") == 409


async def test_detach_keeps_the_disk(lab: Lab, domain: dict[str, Any]) -> None:
    disk = await lab.add_disk(domain["id"])
    vm_id = lab.add_vm()
    await lab.post(f"/vms/{vm_id}/diskattachments", {"disk": {"id": disk["id"]}})
    await lab.delete(f"/vms/{vm_id}/diskattachments/{disk['id']}")
    assert (await lab.get(f"/vms/{vm_id}/diskattachments")).get("disk_attachment", []) == []
    assert (await lab.get(f"/disks/{disk['id']}"))["status"] == "ok"


async def test_detach_with_detach_only_false_removes_the_disk(
    lab: Lab, domain: dict[str, Any]
) -> None:
    disk = await lab.add_disk(domain["id"])
    vm_id = lab.add_vm()
    await lab.post(f"/vms/{vm_id}/diskattachments", {"disk": {"id": disk["id"]}})
    await lab.delete(f"/vms/{vm_id}/diskattachments/{disk['id']}?detach_only=false")
    await lab.wait_idle()
    assert await _reply(lab, "GET", f"/disks/{disk['id']}") == 404
    assert not volume_path(domain, disk).exists()


class StallingConnections(HostConnections):
    """Host connections whose Volume.create never returns: the engine dies mid-command."""

    def __init__(self, pki_dir: Path) -> None:
        super().__init__(pki_dir)
        self.stalled = asyncio.Event()

    async def call(
        self, host_id: str, method: Any, params: Any, timeout: float | None = None
    ) -> Any:
        if method is p.VOLUME_CREATE:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super().call(host_id, method, params, timeout)


async def test_disk_creation_cut_off_by_a_restart_resumes_and_ends_ok(
    lab: Lab, domain: dict[str, Any]
) -> None:
    stalling = StallingConnections(lab.pki_dir)
    await lab.restart(stalling)
    added = await lab.post(
        "/disks",
        {
            "name": "d1",
            "provisioned_size": GIB,
            "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
        },
    )
    await asyncio.wait_for(stalling.stalled.wait(), 10)
    await lab.restart()
    disk = await lab.wait_status(f"/disks/{added['id']}", "ok")
    assert qemuimg.info(str(volume_path(domain, disk)), "qcow2").virtual_size == GIB
