"""One libvirt connection kept across libvirtd restarts: notice the loss through libvirt's close
callback, reopen with backoff, re-register event callbacks, then let the driver reconcile."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import libvirt

from virtfleet.common.errors import AgentError
from virtfleet.common.protocol import VmRunState, VmState

from .connection import open_connection

log = logging.getLogger(__name__)

EventCallback = Callable[..., None]

_CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "error",
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "end of file",
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: "keepalive timeout",
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed by client",
}


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: ``first``, doubling up to ``limit`` seconds."""

    first: float = 0.2
    limit: float = 5.0

    def delays(self) -> Iterable[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.limit)


class ReconnectingConnection:
    """A libvirt connection that reopens itself after libvirtd goes away.

    ``events`` (libvirt event id -> callback) are registered on every connection it opens;
    ``on_reopen`` runs in the reconnecting thread once a lost connection is back.
    """

    def __init__(
        self,
        uri: str,
        *,
        events: Mapping[int, EventCallback],
        on_reopen: Callable[[], None],
        opener: Callable[[str], Any] = open_connection,
        backoff: Backoff = Backoff(),
        wait_s: float = 3.0,
    ) -> None:
        self._uri = uri
        self._events = dict(events)
        self._on_reopen = on_reopen
        self._opener = opener
        self._backoff = backoff
        self._wait_s = wait_s
        self._cond = threading.Condition()
        self._conn: Any = None
        self._callback_ids: list[int] = []
        self._open = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._conn is not None

    def open(self) -> None:
        """Open the first connection; a failure here is raised, not retried."""
        with self._cond:
            if self._open:
                return
            conn, ids = self._attach()
            self._conn, self._callback_ids, self._open = conn, ids, True
            self._stop.clear()
        log.info("libvirt connection opened uri=%s", self._uri)

    def close(self) -> None:
        """Close the connection and stop reconnecting; callbacks stop at once."""
        with self._cond:
            self._open = False
            self._stop.set()
            conn, self._conn = self._conn, None
            ids, self._callback_ids = self._callback_ids, []
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if conn is not None:
            self._detach(conn, ids)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def connection(self) -> Any:
        """The live connection; while reconnecting wait briefly, then fail with AgentError."""
        deadline = time.monotonic() + self._wait_s
        with self._cond:
            while True:
                if not self._open:
                    raise AgentError(f"the libvirt driver for {self._uri} is not open")
                conn = self._conn
                if conn is not None and conn.isAlive():
                    return conn
                if conn is not None:
                    self._lose(conn, "connection not alive")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AgentError(
                        f"the connection to libvirt at {self._uri} is lost; reconnecting"
                    )
                self._cond.wait(remaining)

    # --- internals -----------------------------------------------------------------------------

    def _attach(self) -> tuple[Any, list[int]]:
        """Open a connection with every event callback and the close callback registered."""
        conn = self._opener(self._uri)
        ids: list[int] = []
        try:
            for event_id, callback in self._events.items():
                ids.append(conn.domainEventRegisterAny(None, event_id, callback, None))
            conn.registerCloseCallback(self._on_close, None)
        except libvirt.libvirtError as exc:
            self._detach(conn, ids)
            raise AgentError(f"registering libvirt callbacks at {self._uri}: {exc}") from exc
        return conn, ids

    def _detach(self, conn: Any, ids: list[int]) -> None:
        """Best-effort release of a connection that may already be dead."""
        for callback_id in ids:
            _quietly(self._uri, conn.domainEventDeregisterAny, callback_id)
        _quietly(self._uri, conn.unregisterCloseCallback)
        _quietly(self._uri, conn.close)

    def _on_close(self, conn: Any, reason: int, _opaque: Any) -> None:
        """libvirt's close callback (event loop thread): only hand over to the reconnector."""
        with self._cond:
            self._lose(conn, _CLOSE_REASONS.get(reason, f"reason {reason}"))

    def _lose(self, conn: Any, why: str) -> None:
        """Forget ``conn`` and start reconnecting; called with the condition held."""
        if not self._open or conn is not self._conn:
            return
        log.warning("libvirt connection lost uri=%s: %s; reconnecting", self._uri, why)
        self._conn = None
        dead, self._callback_ids = self._callback_ids, []
        self._thread = threading.Thread(
            target=self._reconnect, args=(conn, dead), name="libvirt-reconnect", daemon=True
        )
        self._thread.start()

    def _reconnect(self, dead: Any, dead_ids: list[int]) -> None:
        self._detach(dead, dead_ids)
        for attempt, delay in enumerate(self._backoff.delays(), start=1):
            if self._stop.wait(delay):
                return
            try:
                conn, ids = self._attach()
            except AgentError as exc:
                log.info("libvirt reconnect attempt %d uri=%s failed: %s", attempt, self._uri, exc)
                continue
            with self._cond:
                if not self._open:
                    keep = False
                else:
                    keep = True
                    self._conn, self._callback_ids = conn, ids
                    self._cond.notify_all()
            if not keep:
                self._detach(conn, ids)
                return
            log.info("libvirt connection reopened uri=%s after %d attempts", self._uri, attempt)
            try:
                self._on_reopen()
            except Exception:
                log.exception("reconciling after reconnecting to %s failed", self._uri)
            return


class VmStateTracker:
    """The last state reported for each VM, to tell what changed while libvirt was away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, VmState] = {}

    def reset(self, states: Iterable[VmState]) -> None:
        with self._lock:
            self._known = {s.vm_id: s for s in states}

    def seen(self, state: VmState) -> None:
        with self._lock:
            self._known[state.vm_id] = state

    def changes(self, current: Iterable[VmState]) -> list[VmState]:
        """The states in ``current`` that differ from the known ones, plus DOWN for every known
        VM that is gone; ``current`` becomes the known set."""
        now = {s.vm_id: s for s in current}
        with self._lock:
            before, self._known = self._known, dict(now)
        changed = [s for vm_id, s in now.items() if _differs(before.get(vm_id), s)]
        changed += [
            VmState(vm_id=vm_id, state=VmRunState.DOWN, reason="gone while libvirt was away")
            for vm_id, old in before.items()
            if vm_id not in now and old.state is not VmRunState.DOWN
        ]
        return changed


def _quietly(uri: str, call: Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except libvirt.libvirtError as exc:
        log.debug("releasing libvirt connection uri=%s: %s", uri, exc)


def _differs(old: VmState | None, new: VmState) -> bool:
    if old is None:
        return new.state is not VmRunState.DOWN
    return old.state is not new.state
