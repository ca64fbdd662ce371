"""Each tuning and peripheral field a client sets reaches the domain the simulated host defines,
and values no host could apply are refused with the VM unchanged."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from test_vms_lab import API, GiB, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.agent.hypervisor.libvirt.tuning import METADATA_NS

TUNED = {
    "memory_policy": {"guaranteed": GiB // 2, "ballooning": False},
    "cpu_shares": 2048,
    "soundcard_enabled": True,
    "usb": {"enabled": True, "type": "native"},
    "time_zone": {"utc_offset": "+05:30"},
    "custom_cpu_model": "Westmere",
    "io": {"threads": 2},
}


async def _defined(vmlab: VmLab, **fields: object) -> ET.Element:
    """The domain XML the host keeps for a new VM with ``fields``, once started."""
    agent, _ = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", **fields)
    await vmlab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    return ET.fromstring(agent.driver.domain_xml(vm["id"]))


async def test_every_tuning_field_reaches_the_defined_domain(vmlab: VmLab) -> None:
    root = await _defined(vmlab, **TUNED)
    guaranteed = root.find(f"metadata/{{{METADATA_NS}}}vm/{{{METADATA_NS}}}memory_guaranteed")
    assert guaranteed is not None and guaranteed.text == str(GiB // 2 // 1024)
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert root.findtext("cputune/shares") == "2048"
    assert root.find("devices/sound").get("model") == "ich6"  # type: ignore[union-attr]
    usb = root.find("devices/controller[@type='usb']")
    assert usb is not None and usb.get("model") == "qemu-xhci"
    assert root.find("devices/input[@type='tablet'][@bus='usb']") is not None
    clock = root.find("clock")
    assert clock is not None and (clock.get("offset"), clock.get("adjustment")) == (
        "variable",
        "19800",
    )
    assert root.findtext("cpu/model") == "Westmere"
    assert root.findtext("iothreads") == "2"


async def test_usb_disabled_leaves_the_domain_without_a_usb_controller(vmlab: VmLab) -> None:
    root = await _defined(vmlab, usb={"enabled": False})
    controllers = root.findall("devices/controller[@type='usb']")
    assert [c.get("model") for c in controllers] == ["none"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_shares", -2),
        ("custom_cpu_model", "Nonexistent-CPU"),
        ("io", {"threads": 1000}),
        ("time_zone", {"name": "Atlantis/Central"}),
        ("usb", {"enabled": True, "type": "legacy"}),
    ],
)
async def test_an_update_no_host_could_apply_is_a_400_and_changes_nothing(
    vmlab: VmLab, field: str, value: object
) -> None:
    vm = await vmlab.add_vm("vm1")
    before = await vmlab.vm(vm["id"])
    reply = await vmlab.http.put(f"{API}/vms/{vm['id']}", json={field: value})
    assert reply.status_code == 400, reply.text
    assert field in reply.json()["detail"]
    assert await vmlab.vm(vm["id"]) == before
