"""Keeping the libvirt connection across libvirtd restarts, with fake connections."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from virtfleet.agent.hypervisor.libvirt.reconnect import (
    Backoff,
    ReconnectingConnection,
    VmStateTracker,
)
from virtfleet.common.errors import AgentError
from virtfleet.common.protocol import VmRunState, VmState

FAST = Backoff(first=0.01, limit=0.05)
LIFECYCLE = libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE


class FakeConn:
    """Just the libvirt connection calls the reconnector makes."""

    def __init__(self) -> None:
        self.alive = True
        self.closed = False
        self.events: dict[int, Any] = {}
        self.close_callback: Any = None

    def domainEventRegisterAny(self, _dom: Any, event_id: int, callback: Any, _opaque: Any) -> int:
        self.events[event_id] = callback
        return event_id

    def domainEventDeregisterAny(self, event_id: int) -> None:
        if not self.alive:
            raise libvirt.libvirtError("client socket is closed")
        del self.events[event_id]

    def registerCloseCallback(self, callback: Any, _opaque: Any) -> None:
        self.close_callback = callback

    def unregisterCloseCallback(self) -> None:
        self.close_callback = None

    def close(self) -> None:
        self.closed = True

    def isAlive(self) -> bool:
        return self.alive

    def die(self) -> None:
        """libvirtd went away: the socket hit EOF and libvirt calls the close callback."""
        self.alive = False
        self.close_callback(self, libvirt.VIR_CONNECT_CLOSE_REASON_EOF, None)


class Opener:
    """Hands out fresh FakeConns; fails while ``down`` is set, as when libvirtd is stopped."""

    def __init__(self) -> None:
        self.opened: list[FakeConn] = []
        self.attempts = 0
        self.down = False

    def __call__(self, uri: str) -> FakeConn:
        self.attempts += 1
        if self.down:
            raise AgentError(f"cannot connect to {uri}")
        conn = FakeConn()
        self.opened.append(conn)
        return conn


def _on_lifecycle(*_args: Any) -> None:
    """A stand-in lifecycle callback."""


@pytest.fixture
def opener() -> Opener:
    return Opener()


@pytest.fixture
def reopened() -> threading.Event:
    return threading.Event()


@pytest.fixture
def link(opener: Opener, reopened: threading.Event) -> Iterator[ReconnectingConnection]:
    conn = ReconnectingConnection(
        "qemu+tcp://10.0.0.1/system",
        events={LIFECYCLE: _on_lifecycle},
        on_reopen=reopened.set,
        opener=opener,
        backoff=FAST,
        wait_s=0.3,
    )
    conn.open()
    yield conn
    conn.close()


def test_open_registers_the_event_callbacks_and_the_close_callback(
    link: ReconnectingConnection, opener: Opener
) -> None:
    (conn,) = opener.opened
    assert conn.events == {LIFECYCLE: _on_lifecycle}
    assert conn.close_callback is not None
    assert link.connection() is conn


def test_a_lost_connection_is_reopened_with_its_callbacks_and_then_reconciled(
    link: ReconnectingConnection, opener: Opener, reopened: threading.Event
) -> None:
    first = opener.opened[0]
    first.die()
    assert reopened.wait(5)
    second = opener.opened[1]
    assert link.connection() is second
    assert second.events == {LIFECYCLE: _on_lifecycle}
    assert second.close_callback is not None
    assert first.closed


def test_reconnect_attempts_go_on_with_backoff_until_libvirtd_is_back(
    link: ReconnectingConnection, opener: Opener, reopened: threading.Event
) -> None:
    opener.down = True
    opener.opened[0].die()
    deadline = time.monotonic() + 5
    while opener.attempts < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not reopened.is_set()
    opener.down = False
    assert reopened.wait(5)
    assert link.connection() is opener.opened[-1]


def test_calls_while_disconnected_fail_with_a_clear_error_after_a_short_wait(
    link: ReconnectingConnection, opener: Opener
) -> None:
    opener.down = True
    opener.opened[0].die()
    started = time.monotonic()
    with pytest.raises(AgentError, match="lost; reconnecting"):
        link.connection()
    assert time.monotonic() - started < 2


def test_a_call_waiting_for_the_reconnect_gets_the_new_connection(
    link: ReconnectingConnection, opener: Opener
) -> None:
    opener.down = True
    opener.opened[0].die()
    threading.Timer(0.05, lambda: setattr(opener, "down", False)).start()
    conn = link.connection()
    assert conn is opener.opened[-1] and conn.alive


def test_a_dead_connection_seen_by_a_call_starts_reconnecting_without_the_close_callback(
    link: ReconnectingConnection, opener: Opener, reopened: threading.Event
) -> None:
    opener.opened[0].alive = False
    assert link.connection() is opener.opened[1]
    assert reopened.wait(5)


def test_close_stops_reconnecting_and_later_calls_say_the_driver_is_not_open(
    link: ReconnectingConnection, opener: Opener
) -> None:
    opener.down = True
    opener.opened[0].die()
    link.close()
    attempts = opener.attempts
    time.sleep(0.2)
    assert opener.attempts == attempts
    with pytest.raises(AgentError, match="not open"):
        link.connection()


def test_a_close_callback_after_close_does_not_reconnect(
    link: ReconnectingConnection, opener: Opener
) -> None:
    conn = opener.opened[0]
    callback = conn.close_callback
    link.close()
    callback(conn, libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT, None)
    time.sleep(0.1)
    assert opener.attempts == 1
    assert conn.closed


def test_backoff_doubles_up_to_its_limit() -> None:
    delays = list(itertools.islice(Backoff(first=0.5, limit=3.0).delays(), 5))
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def _vm(vm_id: str, state: VmRunState, reason: str = "") -> VmState:
    return VmState(vm_id=vm_id, state=state, reason=reason)


def test_tracker_reports_vms_whose_state_changed_and_vms_that_are_gone() -> None:
    tracker = VmStateTracker()
    tracker.reset([_vm("a", VmRunState.RUNNING), _vm("b", VmRunState.RUNNING)])
    tracker.seen(_vm("c", VmRunState.PAUSED))
    changes = tracker.changes([_vm("a", VmRunState.RUNNING), _vm("c", VmRunState.RUNNING)])
    assert {(s.vm_id, s.state) for s in changes} == {
        ("c", VmRunState.RUNNING),
        ("b", VmRunState.DOWN),
    }


def test_tracker_reports_a_vm_that_appeared_running_but_not_one_that_is_defined_and_down() -> None:
    tracker = VmStateTracker()
    changes = tracker.changes([_vm("new", VmRunState.RUNNING), _vm("off", VmRunState.DOWN)])
    assert [s.vm_id for s in changes] == ["new"]


def test_tracker_forgets_vms_that_went_down_so_they_are_reported_once() -> None:
    tracker = VmStateTracker()
    tracker.reset([_vm("a", VmRunState.RUNNING)])
    assert [s.state for s in tracker.changes([])] == [VmRunState.DOWN]
    assert tracker.changes([]) == []
