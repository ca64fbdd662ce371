"""The guest agent of a real guest, read through the API: the tiny guest runs Debian's
qemu-guest-agent on its virtio-serial port and takes a DHCP address on its NIC (QEMU user-mode
networking, since the testbed host has no ``ovirtmgmt`` bridge)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support.e2e import lab_fixtures, requires
from virtfleet.testbed.image import find_kernel
from virtfleet.testbed.initramfs import (
    ADDRESS_PREFIX,
    GUEST_AGENT_MARKER,
    GUEST_HOSTNAME,
    HUNG_AGENT_FLAG,
    NO_ACPI_FLAG,
    POWEROFF_MARKER,
    UP_MARKER,
)
from virtfleet.testbed.lab import (
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
REPORT_S = 60.0  # the agent asks the guest every 10 s; stats reach the engine every second

bed_fixture, lab_fixture = lab_fixtures(1, prefix="vfg", subnet="10.86.0.0/24")


async def _guest(lab: Lab, name: str, flags: str = "") -> tuple[dict[str, Any], str, str]:
    """A running tiny guest with one NIC; its VM, API path and console output once booted."""
    await add_hosts(lab)
    domain = await active_data_domain(lab)
    os_boot = {
        "kernel": str(lab.image.kernel),
        "initrd": str(lab.image.initrd),
        "cmdline": f"{lab.image.cmdline} {flags}".strip(),
    }
    vm, _ = await guest_vm(lab, domain, name, os=os_boot)
    path = f"/vms/{vm['id']}"
    profiles = (await lab.api.get("/vnicprofiles"))["vnic_profile"]
    [profile] = [p for p in profiles if p["name"] == "ovirtmgmt"]
    await lab.api.post(f"{path}/nics", {"name": "nic1", "vnic_profile": {"id": profile["id"]}})
    await lab.api.act(path, "start")
    await lab.api.wait_status(path, "up", BOOT_S)
    output = await wait_console(
        console_log(domain, vm["id"]),
        [GUEST_AGENT_MARKER, UP_MARKER, ADDRESS_PREFIX],
        timeout=BOOT_S,
    )
    return vm, path, output


async def _until(lab: Lab, path: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await lab.api.get(path)
        if check(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not show what was expected: {found}")
        await asyncio.sleep(1.0)


async def test_the_guests_address_os_and_fqdn_are_read_through_the_api(lab: Lab) -> None:
    vm, path, output = await _guest(lab, "agent1")
    # what DHCP gave the guest, as the guest printed it (after the firmware's screen codes)
    address = next(
        (
            line.partition(ADDRESS_PREFIX)[2].strip()
            for line in output.splitlines()
            if ADDRESS_PREFIX in line
        ),
        None,
    )
    assert address, f"DHCP gave the guest no address:\n{output}"
    [nic] = (await lab.api.get(f"{path}/nics"))["nic"]

    shown = await _until(lab, path, lambda v: "guest_operating_system" in v, REPORT_S)

    assert shown["fqdn"] == GUEST_HOSTNAME
    os = shown["guest_operating_system"]
    assert os["distribution"] == "virtfleet tiny guest" and os["codename"] == "busybox"
    assert os["architecture"] == "x86_64"
    assert os["kernel"]["version"]["full_version"] == find_kernel()[1]
    assert shown["guest_time_zone"]["utc_offset"] == "+00:00"
    devices = (await lab.api.get(f"{path}/reporteddevices"))["reported_device"]
    [eth0] = [d for d in devices if d["name"] == "eth0"]
    assert eth0["mac"]["address"] == nic["mac"]["address"]
    assert address in [ip["address"] for ip in eth0["ips"]["ip"]]

    await lab.api.act(path, "stop")
    await lab.api.wait_status(path, "down", JOB_S)
    assert "fqdn" not in await lab.api.get(path)
    assert vm["id"]


async def test_a_guest_that_ignores_acpi_is_shut_down_by_its_agent(lab: Lab) -> None:
    vm, path, _ = await _guest(lab, "deaf1", NO_ACPI_FLAG)
    await _until(lab, path, lambda v: "fqdn" in v, REPORT_S)  # its agent answers

    await lab.api.act(path, "shutdown")
    await lab.api.wait_status(path, "down", JOB_S)

    domain_log = next(iter(lab.bed.shared_dir.glob(f"*/*/consoles/{vm['id']}.log")))
    assert POWEROFF_MARKER in domain_log.read_text(errors="replace")


async def test_a_guest_agent_that_never_answers_gives_no_report_and_changes_nothing(
    lab: Lab,
) -> None:
    vm, path, _ = await _guest(lab, "hung1", HUNG_AGENT_FLAG)
    host = lab.bed.hosts[0]
    domain = lab.bed.run_in(host, ["virsh", "-c", host.libvirt_uri, "dumpxml", vm["id"]])
    assert "org.qemu.guest_agent.0' state='connected'" in domain  # so the agent is asked

    await asyncio.sleep(25.0)  # two rounds of questions, each ending at libvirt's time limit

    shown = await lab.api.get(path)
    assert shown["status"] == "up"
    assert "fqdn" not in shown and "guest_operating_system" not in shown
    assert (await lab.api.get(f"{path}/reporteddevices")).get("reported_device", []) == []
    await lab.api.act(path, "stop")
    await lab.api.wait_status(path, "down", JOB_S)
