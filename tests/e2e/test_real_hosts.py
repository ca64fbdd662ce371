"""The engine drives real QEMU guests on two testbed hosts through its API: a guest's data
survives its own shutdown and a start on the other host, and a killed QEMU is reported down."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from support.e2e import lab_fixtures, requires
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.testbed import TestbedHost
from virtfleet.testbed.initramfs import (
    CLEAN_SHUTDOWN_LINE,
    POWEROFF_MARKER,
    SYNCED_MARKER,
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
from virtfleet.testbed.namespaces import netns_pids

log = logging.getLogger(__name__)
pytestmark = requires(*LAB_TOOLS, "mkfs.ext4")

GUEST_S = 90.0  # TCG boot of the tiny guest: about 8 s here, much more on a loaded machine
CRASH_REPORT_S = 30.0


bed_fixture, lab_fixture = lab_fixtures(2, prefix="vfa", subnet="10.74.0.0/24")


def _vm_events(lab: Lab, vm_id: str, codes: Collection[int]) -> list[Any]:
    with lab.ctx.database.read() as conn:
        found = lab.ctx.eventlog.list(conn)
    return [e for e in found if e.vm is not None and e.vm.id == vm_id and e.code in codes]


def _fill_volume(base: Path, volume: Path) -> None:
    """Test set-up, as there is no upload API yet: the new volume gets the guest's data disk."""
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(base), str(volume)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _qemu_pids(host: TestbedHost, vm_id: str) -> list[int]:
    found = []
    for pid in netns_pids(host.netns):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0] and any(vm_id.encode() in a for a in argv):
            found.append(pid)
    return found


async def test_guest_data_survives_a_restart_on_another_host_and_a_killed_qemu_is_reported_down(
    lab: Lab,
) -> None:
    started = time.monotonic()
    host_ids = await add_hosts(lab)
    by_id = {host_id: name for name, host_id in host_ids.items()}
    domain = await active_data_domain(lab)
    vm, volume = await guest_vm(lab, domain)
    vm_path = f"/vms/{vm['id']}"
    _fill_volume(lab.image.data_disk, volume)
    console = console_log(domain, vm["id"])

    await lab.api.act(vm_path, "start")
    first = await lab.api.wait_status(vm_path, "up", GUEST_S)
    first_host = first["host"]["id"]
    boot = await wait_console(
        console, [UP_MARKER, "DATA: hello-from-base", SYNCED_MARKER], timeout=GUEST_S
    )
    log.info("first boot synced after %.1f s", time.monotonic() - started)
    assert "BOOT 1" in boot

    offset = console.stat().st_size
    await lab.api.act(vm_path, "shutdown")
    await lab.api.wait_status(vm_path, "down", JOB_S)
    await wait_console(console, [POWEROFF_MARKER], timeout=JOB_S, start=offset)
    assert _qemu_pids(lab.bed.host(by_id[first_host]), vm["id"]) == []

    await lab.api.act(f"/hosts/{first_host}", "deactivate")
    await lab.api.wait_status(f"/hosts/{first_host}", "maintenance", JOB_S)
    offset = console.stat().st_size
    await lab.api.act(vm_path, "start")
    second = await lab.api.wait_status(vm_path, "up", GUEST_S)
    second_host = second["host"]["id"]
    assert second_host != first_host
    again = await wait_console(
        console, ["DATA: boot 1", SYNCED_MARKER], timeout=GUEST_S, start=offset
    )
    log.info("second boot synced after %.1f s", time.monotonic() - started)
    assert "DATA: hello-from-base" in again and "BOOT 2" in again
    assert f"{CLEAN_SHUTDOWN_LINE} 1" in again, "the guest's own shutdown did not sync its data"

    qemu = _qemu_pids(lab.bed.host(by_id[second_host]), vm["id"])
    assert len(qemu) == 1, qemu
    codes = {EventCode.VM_DOWN, EventCode.VM_CRASHED}
    before = len(_vm_events(lab, vm["id"], codes))
    killed_at = time.monotonic()
    os.kill(qemu[0], signal.SIGKILL)
    down = await lab.api.wait_status(vm_path, "down", CRASH_REPORT_S)
    log.info("killed QEMU reported down in %.1f s", time.monotonic() - killed_at)
    assert down.get("host") is None
    assert len(_vm_events(lab, vm["id"], codes)) > before, "no event tells that the VM went down"
    assert time.monotonic() - started < 240
