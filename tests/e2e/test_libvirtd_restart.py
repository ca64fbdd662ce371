"""libvirtd restarted under a running VM: QEMU keeps running, the driver reconnects by itself,
still lists the VM and still delivers its lifecycle events; what changed while libvirtd was
away is reported after the reconnect."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from support.e2e import clean_testbed, requires, tiny_guest_spec
from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.common.errors import AgentError
from virtfleet.common.protocol import VmRunState, VmState
from virtfleet.testbed import GuestImage, Testbed, thin_clone
from virtfleet.testbed.daemons import restart_libvirtd, start_libvirtd_again, stop_libvirtd
from virtfleet.testbed.initramfs import UP_MARKER
from virtfleet.testbed.lab import LAB_TOOLS
from virtfleet.testbed.namespaces import netns_pids
from virtfleet.testbed.plan import HostPlan
from virtfleet.testbed.processes import is_alive

log = logging.getLogger(__name__)
T = TypeVar("T")
pytestmark = [*requires(*LAB_TOOLS, "nsenter"), pytest.mark.timeout(240)]

MIB = 1024**2
GUEST_S = 90.0
RECONNECT_S = 30.0
EVENT_S = 30.0


class Events:
    """A subscriber that records every VmState and lets the test wait for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seen: list[VmState] = []

    def __call__(self, state: VmState) -> None:
        with self._cond:
            self.seen.append(state)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.seen)

    def wait(self, since: int, match: Callable[[VmState], bool], timeout: float) -> VmState:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for state in self.seen[since:]:
                    if match(state):
                        return state
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching VM state within {timeout} s: {self.seen}")
                self._cond.wait(remaining)


@pytest.fixture(name="bed")
def bed_fixture(tmp_path: Path) -> Iterator[Testbed]:
    with clean_testbed(tmp_path / "bed", 1, prefix="vfl", subnet="10.77.0.0/24") as bed:
        yield bed


@pytest.fixture(name="host")
def host_fixture(bed: Testbed) -> HostPlan:
    return bed.plan.hosts[0]


@pytest.fixture(name="events")
def events_fixture() -> Events:
    return Events()


@pytest.fixture(name="driver")
def driver_fixture(host: HostPlan, events: Events) -> Iterator[LibvirtDriver]:
    driver = LibvirtDriver(host.libvirt_uri, domain_type="qemu")
    driver.open()
    driver.subscribe(events)
    try:
        yield driver
    finally:
        try:
            for state in _when_connected(driver.list_vms):
                driver.destroy_vm(state.vm_id)
        finally:
            driver.close()


def _when_connected(call: Callable[[], T]) -> T:
    """``call`` once the driver has reconnected; each attempt fails fast while it has not."""
    deadline = time.monotonic() + RECONNECT_S
    while True:
        try:
            return call()
        except AgentError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _start_guest(driver: LibvirtDriver, image: GuestImage, tmp_path: Path) -> tuple[str, Path]:
    disk = tmp_path / "vm.qcow2"
    thin_clone(image.data_disk, disk)
    console = tmp_path / "console.log"
    spec = tiny_guest_spec(image, disk, console)
    vm_id = spec.id
    assert driver.create_vm(spec).state is VmRunState.RUNNING
    _wait_console(console, UP_MARKER)
    return vm_id, console


def _wait_console(console: Path, wanted: str, after: int = 0) -> str:
    deadline = time.monotonic() + GUEST_S
    while time.monotonic() < deadline:
        text = console.read_text(errors="replace") if console.exists() else ""
        if wanted in text[after:]:
            return text
        time.sleep(0.3)
    raise AssertionError(f"{wanted!r} not on the console within {GUEST_S} s")


def _qemu_pid(host: HostPlan, vm_id: str) -> int:
    for pid in netns_pids(host.netns):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0] and any(vm_id.encode() in a for a in argv):
            return pid
    raise AssertionError(f"no QEMU process for VM {vm_id} in {host.netns}")


def _state_of(driver: LibvirtDriver, vm_id: str) -> VmRunState | None:
    states = {s.vm_id: s.state for s in driver.list_vms()}
    return states.get(vm_id)


def test_vm_keeps_running_and_tracked_across_a_libvirtd_restart(
    driver: LibvirtDriver, host: HostPlan, image: GuestImage, events: Events, tmp_path: Path
) -> None:
    vm_id, console = _start_guest(driver, image, tmp_path)
    qemu = _qemu_pid(host, vm_id)
    old_libvirtd = host.libvirtd_pidfile.read_text().strip()

    new_libvirtd = restart_libvirtd(host)

    assert str(new_libvirtd) != old_libvirtd
    assert is_alive(qemu) and _qemu_pid(host, vm_id) == qemu
    assert _when_connected(lambda: _state_of(driver, vm_id)) is VmRunState.RUNNING
    ticks = len(console.read_text(errors="replace"))
    _wait_console(console, "TICK", after=ticks)

    since = events.mark()
    os.kill(qemu, signal.SIGKILL)
    stopped = events.wait(
        since,
        lambda s: s.vm_id == vm_id and s.state in (VmRunState.DOWN, VmRunState.CRASHED),
        EVENT_S,
    )
    log.info(
        "after the restart the killed QEMU was reported %s (%s)", stopped.state, stopped.reason
    )


def test_a_vm_that_died_while_libvirtd_was_down_is_reported_after_the_reconnect(
    driver: LibvirtDriver, host: HostPlan, image: GuestImage, events: Events, tmp_path: Path
) -> None:
    vm_id, _console = _start_guest(driver, image, tmp_path)
    qemu = _qemu_pid(host, vm_id)

    stop_libvirtd(host)
    since = events.mark()
    os.kill(qemu, signal.SIGKILL)
    with pytest.raises(AgentError, match="libvirt"):
        driver.list_vms()
    start_libvirtd_again(host)

    gone = events.wait(
        since,
        lambda s: s.vm_id == vm_id and s.state in (VmRunState.DOWN, VmRunState.CRASHED),
        EVENT_S,
    )
    log.info("the VM killed while libvirtd was down was reported %s (%s)", gone.state, gone.reason)
    assert _when_connected(lambda: _state_of(driver, vm_id)) in (
        VmRunState.DOWN,
        VmRunState.CRASHED,
        None,
    )
