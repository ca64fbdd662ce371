"""Disks attached through the API to a running VM on a real host reach the guest: the tiny
guest prints each new /dev/vdX, and prints it gone once the attachment is removed. On i440fx a
disk takes a slot of the PCI bus; on q35 one of the VM's spare PCIe root ports."""

from __future__ import annotations

import pytest

from support.e2e import lab_fixtures, requires
from virtfleet.testbed.initramfs import BLOCK_GONE_PREFIX, BLOCK_PREFIX, UP_MARKER
from virtfleet.testbed.lab import (
    API,
    JOB_S,
    LAB_TOOLS,
    Lab,
    active_data_domain,
    add_hosts,
    console_log,
    guest_vm,
    wait_console,
)

pytestmark = requires(*LAB_TOOLS, "mkfs.ext4")

BOOT_S = 120.0
PLUG_S = 60.0
MiB = 1024**2

bed_fixture, lab_fixture = lab_fixtures(1, prefix="vfp", subnet="10.97.0.0/24")


@pytest.mark.parametrize("bios", ["i440fx_sea_bios", "q35_sea_bios"])
async def test_disks_hot_plugged_through_the_api_are_seen_by_the_guest(lab: Lab, bios: str) -> None:
    """Two disks, one after the other: libvirt keeps a single spare PCIe port on its own, so on
    q35 the second needs the VM's root ports."""
    await add_hosts(lab)
    domain = await active_data_domain(lab)
    vm, _ = await guest_vm(lab, domain, "hot1", bios={"type": bios})
    path = f"/vms/{vm['id']}"
    await lab.api.act(path, "start")
    await lab.api.wait_status(path, "up", BOOT_S)
    console = console_log(domain, vm["id"])
    await wait_console(console, [UP_MARKER, f"{BLOCK_PREFIX}vda"], timeout=BOOT_S)
    extras = []
    for target in ("vdb", "vdc"):
        extra = await lab.api.post(
            "/disks",
            {
                "alias": f"hot1_{target}",
                "format": "cow",
                "provisioned_size": 16 * MiB,
                "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
            },
        )
        await lab.api.wait_status(f"/disks/{extra['id']}", "ok", JOB_S)
        attached = await lab.api.post(
            f"{path}/diskattachments", {"disk": {"id": extra["id"]}, "interface": "virtio"}
        )
        assert attached["active"] is True
        await wait_console(console, [f"{BLOCK_PREFIX}{target}"], timeout=PLUG_S)
        extras.append((target, extra["id"]))

    for target, disk_id in extras:
        removed = await lab.api.http.delete(f"{API}{path}/diskattachments/{disk_id}")
        assert removed.status_code == 200, removed.text
        await wait_console(console, [f"{BLOCK_GONE_PREFIX}{target}"], timeout=PLUG_S)
    assert (await lab.api.get(path))["status"] == "up"

    await lab.api.act(path, "stop")
    await lab.api.wait_status(path, "down", JOB_S)
