"""Storage domains through the API: added on a real directory by a real agent, attached,
activated, deactivated, detached and removed, with the data center's status following."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select
from test_storage_lab import Lab, domain_body, lab_fixture  # noqa: F401

from virtfleet.common.apimodel.enums import JobStatus, VmStatus
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.persistence import tables

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


def _events(lab: Lab, code: int) -> list[str]:
    with lab.ctx.database.read() as conn:
        rows = conn.execute(select(tables.events.c.description).where(tables.events.c.code == code))
        return [row.description for row in rows]


async def test_added_posixfs_domain_is_laid_out_on_disk_and_unattached(lab: Lab) -> None:
    path = lab.storage_dir("data1")
    added = await lab.post("/storagedomains", domain_body("data1", path))
    assert added["status"] == "locked"
    await lab.wait_idle()
    domain = await lab.get(f"/storagedomains/{added['id']}")
    metadata = json.loads((path / added["id"] / "dom_md" / "metadata").read_text())
    assert metadata["id"] == added["id"] and metadata["name"] == "data1"
    assert (path / added["id"] / "images").is_dir()
    assert domain["status"] == "unattached"
    assert int(domain["available"]) > 0
    assert _events(lab, EventCode.STORAGE_DOMAIN_ADDED)


async def test_domain_on_a_missing_path_is_dropped_with_an_error_event(lab: Lab) -> None:
    missing = lab.tmp_path / "nowhere"
    added = await lab.post("/storagedomains", domain_body("bad", missing))
    await lab.wait_idle()
    reply = await lab.http.get(f"/ovirt-engine/api/storagedomains/{added['id']}")
    assert reply.status_code == 404
    failures = _events(lab, EventCode.JOB_FAILED)
    assert any("not an existing directory" in text for text in failures)


async def test_second_domain_on_a_path_holding_one_is_refused(lab: Lab) -> None:
    first = await lab.add_domain("data1")
    path = Path(first["storage"]["path"])
    shutil.copytree(path / first["id"], lab.storage_dir("copy") / first["id"])
    added = await lab.post("/storagedomains", domain_body("data2", lab.storage_dir("copy")))
    await lab.wait_idle()
    reply = await lab.http.get(f"/ovirt-engine/api/storagedomains/{added['id']}")
    assert reply.status_code == 404
    assert any("already holds storage domain" in t for t in _events(lab, EventCode.JOB_FAILED))


async def test_domain_with_a_relative_path_is_invalid_input(lab: Lab) -> None:
    body = domain_body("rel", Path("relative/dir"))
    reply = await lab.http.post("/ovirt-engine/api/storagedomains", json=body)
    assert reply.status_code == 400


async def test_nfs_domain_needs_the_server_address(lab: Lab) -> None:
    body = domain_body("nfs1", lab.storage_dir("nfs1"))
    body["storage"] = {"type": "nfs", "path": str(lab.storage_dir("nfs1"))}
    reply = await lab.http.post("/ovirt-engine/api/storagedomains", json=body)
    assert reply.status_code == 400


async def test_nfs_domain_on_a_reachable_directory_is_added(lab: Lab) -> None:
    body = domain_body("nfs1", lab.storage_dir("nfs1"))
    body["storage"] = {
        "type": "nfs",
        "address": "nfs.example.org",
        "path": str(lab.storage_dir("nfs1")),
    }
    added = await lab.post("/storagedomains", body)
    await lab.wait_idle()
    assert (await lab.get(f"/storagedomains/{added['id']}"))["status"] == "unattached"


async def test_attached_domain_turns_active_and_the_data_center_up(lab: Lab) -> None:
    dc = lab.default_data_center()
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "uninitialized"
    domain = await lab.add_domain()
    attached = await lab.post(f"/datacenters/{dc}/storagedomains", {"id": domain["id"]})
    assert attached["status"] == "activating"
    await lab.wait_idle()
    active = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert active["status"] == "active"
    assert active["master"] is True
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "up"
    assert _events(lab, EventCode.STORAGE_DOMAIN_ATTACHED)


async def test_domain_attached_by_name_is_found(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.add_domain()
    await lab.post(f"/datacenters/{dc}/storagedomains", {"name": "data1"})
    await lab.wait_idle()
    listed = await lab.get(f"/datacenters/{dc}/storagedomains")
    assert [d["id"] for d in listed["storage_domain"]] == [domain["id"]]


async def test_attach_fails_back_to_maintenance_when_no_host_is_up(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.add_domain()
    with lab.ctx.database.transaction() as conn:
        conn.execute(tables.hosts.update().values(status="maintenance"))
    await lab.post(f"/datacenters/{dc}/storagedomains", {"id": domain["id"]})
    await lab.wait_idle()
    seen = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert seen["status"] == "maintenance"
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "maintenance"


async def test_deactivate_detach_and_remove_walk_the_domain_back_out(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.active_domain()
    base = f"/datacenters/{dc}/storagedomains/{domain['id']}"
    await lab.post(f"{base}/deactivate", {}, expect=200)
    assert (await lab.get(base))["status"] == "maintenance"
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "maintenance"
    await lab.delete(base)
    assert (await lab.get(f"/storagedomains/{domain['id']}"))["status"] == "unattached"
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "uninitialized"
    assert _events(lab, EventCode.STORAGE_DOMAIN_DEACTIVATED)
    assert _events(lab, EventCode.STORAGE_DOMAIN_DETACHED)
    await lab.delete(f"/storagedomains/{domain['id']}")
    reply = await lab.http.get(f"/ovirt-engine/api/storagedomains/{domain['id']}")
    assert reply.status_code == 404
    # without format the files stay, for a later import
    assert (Path(domain["storage"]["path"]) / domain["id"] / "dom_md" / "metadata").is_file()


async def test_reactivated_domain_is_active_again(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.active_domain()
    base = f"/datacenters/{dc}/storagedomains/{domain['id']}"
    await lab.post(f"{base}/deactivate", {}, expect=200)
    reply = await lab.post(f"{base}/activate", {}, expect=200)
    assert reply["status"] == "complete"
    await lab.wait_idle()
    assert (await lab.get(base))["status"] == "active"
    assert _events(lab, EventCode.STORAGE_DOMAIN_ACTIVATED)


async def test_active_domain_cannot_be_detached_or_removed(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.active_domain()
    await lab.delete(f"/datacenters/{dc}/storagedomains/{domain['id']}", expect=409)
    await lab.delete(f"/storagedomains/{domain['id']}", expect=409)


async def test_deactivate_is_refused_while_a_running_vm_has_a_disk_on_the_domain(
    lab: Lab,
) -> None:
    dc = lab.default_data_center()
    domain = await lab.active_domain()
    disk = await lab.add_disk(domain["id"])
    vm_id = lab.add_vm()
    await lab.post(f"/vms/{vm_id}/diskattachments", {"disk": {"id": disk["id"]}})
    lab.set_vm_status(vm_id, VmStatus.UP)
    base = f"/datacenters/{dc}/storagedomains/{domain['id']}"
    reply = await lab.http.post(f"/ovirt-engine/api{base}/deactivate", json={})
    assert reply.status_code == 409
    assert "vm1" in reply.text
    assert (await lab.get(base))["status"] == "active"


async def test_remove_with_format_deletes_the_domain_directory(lab: Lab) -> None:
    domain = await lab.add_domain()
    directory = Path(domain["storage"]["path"]) / domain["id"]
    assert directory.is_dir()
    await lab.delete(f"/storagedomains/{domain['id']}?format=true&host=h1")
    await lab.wait_idle()
    assert not directory.exists()
    reply = await lab.http.get(f"/ovirt-engine/api/storagedomains/{domain['id']}")
    assert reply.status_code == 404
    assert _events(lab, EventCode.STORAGE_DOMAIN_REMOVED)


async def test_destroy_forgets_an_attached_domain_and_its_disks(lab: Lab) -> None:
    dc = lab.default_data_center()
    domain = await lab.active_domain()
    disk = await lab.add_disk(domain["id"])
    await lab.delete(f"/storagedomains/{domain['id']}?destroy=true")
    assert (await lab.http.get(f"/ovirt-engine/api/disks/{disk['id']}")).status_code == 404
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "uninitialized"


async def test_localfs_domain_cannot_join_a_shared_data_center(lab: Lab) -> None:
    dc = lab.default_data_center()
    body = domain_body("local1", lab.storage_dir("local1"))
    body["storage"] = {"type": "localfs", "path": str(lab.storage_dir("local1"))}
    added = await lab.post("/storagedomains", body)
    await lab.wait_idle()
    reply = await lab.http.post(
        f"/ovirt-engine/api/datacenters/{dc}/storagedomains", json={"id": added["id"]}
    )
    assert reply.status_code == 409


async def test_adding_with_a_host_that_is_not_up_fails_the_job(lab: Lab) -> None:
    await lab.add_host("h2")
    with lab.ctx.database.transaction() as conn:
        conn.execute(
            tables.hosts.update().where(tables.hosts.c.name == "h2").values(status="maintenance")
        )
    added = await lab.post("/storagedomains", domain_body("data9", lab.storage_dir("d9"), "h2"))
    await lab.wait_idle()
    assert (
        await lab.http.get(f"/ovirt-engine/api/storagedomains/{added['id']}")
    ).status_code == 404
    assert any("'h2' is not up" in t for t in _events(lab, EventCode.JOB_FAILED))


async def test_unreachable_host_fails_the_add_with_a_clear_reason(lab: Lab) -> None:
    await lab.connections.close_all()
    added = await lab.post("/storagedomains", domain_body("data1", lab.storage_dir("data1")))
    await lab.wait_idle()
    assert (
        await lab.http.get(f"/ovirt-engine/api/storagedomains/{added['id']}")
    ).status_code == 404
    assert any("unreachable" in t for t in _events(lab, EventCode.JOB_FAILED))


async def test_add_job_is_listed_as_finished(lab: Lab) -> None:
    await lab.add_domain()
    with lab.ctx.database.read() as conn:
        statuses = [row.status for row in conn.execute(select(tables.jobs.c.status))]
    assert statuses == [JobStatus.FINISHED.value]


async def test_sdk_shaped_xml_add_and_attach_reach_active(lab: Lab) -> None:
    path = lab.storage_dir("xml1")
    body = (
        "<storage_domain><name>xml1</name><type>data</type>"
        f"<storage><type>posixfs</type><path>{path}</path><vfs_type>none</vfs_type></storage>"
        "<host><name>h1</name></host></storage_domain>"
    )
    xml = {"Content-Type": "application/xml", "Accept": "application/xml"}
    reply = await lab.http.post("/ovirt-engine/api/storagedomains", content=body, headers=xml)
    assert reply.status_code == 201, reply.text
    domain_id = ElementTree.fromstring(reply.text).attrib["id"]
    await lab.wait_idle()
    dc = lab.default_data_center()
    attach = f'<storage_domain id="{domain_id}"/>'
    reply = await lab.http.post(
        f"/ovirt-engine/api/datacenters/{dc}/storagedomains", content=attach, headers=xml
    )
    assert reply.status_code == 201, reply.text
    await lab.wait_idle()
    assert (await lab.get(f"/datacenters/{dc}/storagedomains/{domain_id}"))["status"] == "active"
