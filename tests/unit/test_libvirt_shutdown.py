"""A guest that ignores the ACPI shutdown request: its guest agent is asked after a grace, and
without one the driver gives up in time and says so."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import libvirt
import pytest

from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.common.protocol import VmRunState


class DeafDomain:
    """A running domain whose guest never reacts to the power button."""

    def __init__(self, vm_id: str) -> None:
        self.vm_id = vm_id
        self.shutdown_requests = 0
        self.undefined = False

    def UUIDString(self) -> str:
        return self.vm_id

    def state(self) -> list[int]:
        return [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED]

    def hasManagedSaveImage(self, _flags: int) -> bool:
        return False

    def shutdown(self) -> None:
        self.shutdown_requests += 1

    def isActive(self) -> bool:
        return True

    def undefineFlags(self, _flags: int) -> None:
        self.undefined = True

    def XMLDesc(self, _flags: int) -> str:
        return "<domain><devices><serial type='pty'/></devices></domain>"


class AgentDomain(DeafDomain):
    """A guest that ignores ACPI but whose guest agent powers it off when asked."""

    def __init__(self, vm_id: str) -> None:
        super().__init__(vm_id)
        self.running = True
        self.agent_shutdowns: list[int] = []

    def XMLDesc(self, _flags: int) -> str:
        return (
            "<domain><devices><channel type='unix'>"
            "<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"
            "</channel></devices></domain>"
        )

    def agentSetResponseTimeout(self, _timeout: int, _flags: int) -> int:
        return 0

    def shutdownFlags(self, flags: int) -> None:
        self.agent_shutdowns.append(flags)
        self.running = False

    def isActive(self) -> bool:
        return self.running


def test_shutdown_of_a_guest_that_ignores_acpi_returns_still_running_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = itertools.count()
    driver = LibvirtDriver("qemu:///system", domain_type="qemu", clock=lambda: 10.0 * next(ticks))
    dom = DeafDomain(str(uuid.uuid4()))
    monkeypatch.setattr(driver, "_find", lambda _vm_id: dom)

    started = time.monotonic()
    state = driver.shutdown_vm(dom.vm_id, timeout_s=30)

    assert time.monotonic() - started < 10
    assert state.state is VmRunState.SHUTTING_DOWN
    assert "did not power off within 30 s" in state.reason
    assert "still running" in state.reason
    assert dom.shutdown_requests == 1
    assert not dom.undefined


def test_power_off_is_not_held_up_by_a_shutdown_waiting_for_the_guest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gave_up = threading.Event()
    driver = LibvirtDriver(
        "qemu:///system", domain_type="qemu", clock=lambda: 1e9 if gave_up.is_set() else 0.0
    )
    dom = DeafDomain(str(uuid.uuid4()))
    monkeypatch.setattr(driver, "_find", lambda _vm_id: dom)
    waiting = threading.Thread(target=driver.shutdown_vm, args=(dom.vm_id, 60), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 5
    while dom.shutdown_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    acquired = threading.Event()

    def take_vm_lock() -> None:
        with driver._vm_lock(dom.vm_id):
            acquired.set()

    threading.Thread(target=take_vm_lock, daemon=True).start()
    try:
        assert acquired.wait(2.0)
    finally:
        gave_up.set()
        waiting.join(5)


def test_a_guest_that_ignores_acpi_is_shut_down_through_its_guest_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = itertools.count()
    driver = LibvirtDriver("qemu:///system", domain_type="qemu", clock=lambda: 4.0 * next(ticks))
    dom = AgentDomain(str(uuid.uuid4()))
    monkeypatch.setattr(driver, "_find", lambda _vm_id: dom)

    state = driver.shutdown_vm(dom.vm_id, timeout_s=120)

    assert state.state is VmRunState.DOWN
    assert dom.shutdown_requests == 1
    assert dom.agent_shutdowns == [libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT]
