"""The VM fields once accepted and ignored reach the domain a simulated host defines, or are
refused with a 400 naming them and the VM left as it was."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver

APPLIED = {
    "cpu": {"mode": "host_passthrough", "topology": {"sockets": 2, "cores": 1, "threads": 1}},
    "display": {"video_type": "qxl", "monitors": 2, "keyboard_layout": "de"},
    "multi_queues_enabled": True,
    "virtio_scsi": {"enabled": True},
}


async def _profile_id(vmlab: VmLab) -> str:
    profiles = (await vmlab.http.get(f"{API}/vnicprofiles")).json()["vnic_profile"]
    return str(profiles[0]["id"])


async def _started(vmlab: VmLab, **fields: object) -> tuple[dict[str, Any], ET.Element]:
    """A new VM with ``fields`` and one NIC, started; its domain as the host defined it."""
    agent, _ = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", **fields)
    nic = {"name": "nic1", "vnic_profile": {"id": await _profile_id(vmlab)}}
    reply = await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json=nic)
    assert reply.status_code == 201, reply.text
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    return vm, ET.fromstring(agent.driver.domain_xml(vm["id"]))


async def test_cpu_mode_video_keymap_queues_and_virtio_scsi_reach_the_domain(
    vmlab: VmLab,
) -> None:
    _, root = await _started(vmlab, **APPLIED)
    assert root.find("cpu").get("mode") == "host-passthrough"  # type: ignore[union-attr]
    assert root.find("cpu/model") is None
    video = root.find("devices/video/model")
    assert video is not None and (video.get("type"), video.get("heads")) == ("qxl", "2")
    assert root.find("devices/graphics[@type='vnc']").get("keymap") == "de"  # type: ignore[union-attr]
    driver = root.find("devices/interface/driver")
    assert driver is not None and driver.get("queues") == "2"
    scsi = root.findall("devices/controller[@type='scsi']")
    assert [c.get("model") for c in scsi] == ["virtio-scsi"]


async def test_a_vm_set_to_start_paused_is_paused_after_an_ordinary_start(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", start_paused=True)
    await vmlab.run_action(vm["id"], "start")
    await vmlab.wait_vm(vm["id"], "paused")
    assert list(vmlab.domains(vm["id"]).values()) == ["paused"]


async def test_the_memory_ceiling_is_four_times_the_memory_and_bounds_an_update(
    vmlab: VmLab,
) -> None:
    vm = await vmlab.add_vm("vm1", memory=2 * GiB)
    assert vm["memory_policy"]["max"] == 8 * GiB
    before = await vmlab.vm(vm["id"])

    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={"memory": 16 * GiB})

    assert reply.status_code == 400, reply.text
    assert "memory_policy.max" in reply.json()["detail"]
    assert await vmlab.vm(vm["id"]) == before
    both = {"memory": 16 * GiB, "memory_policy": {"max": 16 * GiB}}
    assert (await vmlab.http.put(f"{API}/vms/{vm['id']}", json=both)).status_code == 200


async def test_a_vm_document_sent_back_unchanged_keeps_its_migration_settings(
    vmlab: VmLab,
) -> None:
    vm = await vmlab.add_vm("vm1", migration_downtime=-1, migration={"compressed": "inherit"})
    document = await vmlab.vm(vm["id"])
    sent_back = {key: document.get(key) for key in ("name", "memory", "migration_downtime")}
    sent_back["migration"] = document.get("migration") or {}
    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json=sent_back)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("migration", {"auto_converge": "true"}),
        ("migration", {"encrypted": "false"}),
        ("migration_downtime", 300),
        ("cpu", {"mode": "host_model"}),  # with custom_cpu_model below
        ("display", {"monitors": 3}),
        ("display", {"monitors": 2}),  # a VNC display's VGA card drives one monitor
        ("display", {"keyboard_layout": "xx-yy"}),
        ("type", "gaming"),
    ],
)
async def test_an_update_no_host_could_apply_is_a_400_naming_the_field(
    vmlab: VmLab, field: str, value: object
) -> None:
    vm = await vmlab.add_vm("vm1", custom_cpu_model="Westmere")
    before = await vmlab.vm(vm["id"])
    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={field: value})
    assert reply.status_code == 400, reply.text
    assert field in reply.text
    assert await vmlab.vm(vm["id"]) == before


async def test_a_vm_without_virtio_scsi_refuses_a_disk_on_that_interface(vmlab: VmLab) -> None:
    disk = {"disk": {"provisioned_size": GiB, "format": "cow"}, "interface": "virtio_scsi"}
    reply = await vmlab.http.post(
        f"{API}/vms",
        json={
            "name": "vm1",
            "cluster": {"name": "Default"},
            "virtio_scsi": {"enabled": False},
            "disk_attachments": {"disk_attachment": [disk]},
        },
    )
    assert reply.status_code == 400, reply.text
    assert "virtio_scsi.enabled" in reply.json()["detail"]


async def test_a_high_performance_vm_has_no_usb_controller(vmlab: VmLab) -> None:
    vm, root = await _started(vmlab, type="high_performance")
    assert vm["usb"]["enabled"] is False
    controllers = root.findall("devices/controller[@type='usb']")
    assert [c.get("model") for c in controllers] == ["none"]
