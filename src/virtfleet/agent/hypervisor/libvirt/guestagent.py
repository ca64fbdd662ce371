"""Asking each running VM's qemu-guest-agent (through libvirt) what its guest is, off the
statistics path: VM statistics carry the latest answer while a refresh runs in the background.

A guest agent is the guest's program: it may be absent, slow, or answer garbage. Only a guest
that opened its agent port is asked, every call has libvirt's agent time limit, at most one
refresh per VM is in flight, and a failed refresh leaves no report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import libvirt

from virtfleet.common.protocol import GuestReport

from .guestreport import agent_connected, guest_report

log = logging.getLogger(__name__)

AGENT_TIMEOUT_S = 5
"""libvirt's wait for one guest agent reply."""
REFRESH_S = 10.0
_WORKERS = 4
_INFO_TYPES = (
    libvirt.VIR_DOMAIN_GUEST_INFO_OS,
    libvirt.VIR_DOMAIN_GUEST_INFO_HOSTNAME,
    libvirt.VIR_DOMAIN_GUEST_INFO_TIMEZONE,
    libvirt.VIR_DOMAIN_GUEST_INFO_USERS,
)


def has_agent(dom: Any) -> bool:
    """Whether the running guest has its agent listening on the channel."""
    return agent_connected(dom.XMLDesc(0))


def query_guest(dom: Any, timeout_s: int = AGENT_TIMEOUT_S) -> GuestReport | None:
    """One round of questions to the guest agent; None when it has none or nothing usable.

    Each kind of information is asked apart: an agent that lacks one command (no utmp for the
    users) still reports the others."""
    if not has_agent(dom):
        return None
    dom.agentSetResponseTimeout(timeout_s, 0)
    info: dict[str, object] = {}
    for kind in _INFO_TYPES:
        try:
            answer = dom.guestInfo(kind, 0)
        except libvirt.libvirtError as exc:
            log.debug(
                "guest agent gave no answer vm_id=%s kind=%d: %s", dom.UUIDString(), kind, exc
            )
            continue
        if isinstance(answer, dict):
            info.update(answer)
    try:
        interfaces = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0)
    except libvirt.libvirtError as exc:
        log.debug("guest agent gave no addresses vm_id=%s: %s", dom.UUIDString(), exc)
        interfaces = {}
    return guest_report(info, interfaces)


def shutdown_through_agent(dom: Any) -> bool:
    """Ask the guest agent to power the guest off; False when there is no agent or it refused."""
    try:
        if not has_agent(dom):
            return False
        dom.agentSetResponseTimeout(AGENT_TIMEOUT_S, 0)
        dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)
    except libvirt.libvirtError as exc:
        log.info("guest agent shutdown refused vm_id=%s: %s", dom.UUIDString(), exc)
        return False
    return True


class GuestAgentPoller:
    """The latest guest report of each running VM, refreshed in worker threads."""

    def __init__(
        self,
        query: Callable[[Any], GuestReport | None] = query_guest,
        clock: Callable[[], float] = time.monotonic,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._query = query
        self._clock = clock
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[float, GuestReport | None]] = {}
        self._pending: set[str] = set()
        self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="guest-agent")

    def report(self, dom: Any) -> GuestReport | None:
        """The last answer for this domain (None before the first), refreshing it when stale."""
        vm_id = str(dom.UUIDString())
        now = self._clock()
        with self._lock:
            cached = self._reports.get(vm_id)
            stale = cached is None or now - cached[0] >= self._refresh_s
            if stale and vm_id not in self._pending:
                self._pending.add(vm_id)
                self._executor.submit(self._refresh, dom, vm_id)
        return None if cached is None else cached[1]

    def forget_except(self, vm_ids: set[str]) -> None:
        """Drop the reports of VMs that stopped: a guest that boots again is asked anew."""
        with self._lock:
            for vm_id in set(self._reports) - vm_ids:
                del self._reports[vm_id]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _refresh(self, dom: Any, vm_id: str) -> None:
        try:
            report = self._query(dom)
        except Exception as exc:  # a guest's answer must never take the agent down
            log.debug("guest agent query failed vm_id=%s: %s", vm_id, exc)
            report = None
        with self._lock:
            self._pending.discard(vm_id)
            self._reports[vm_id] = (self._clock(), report)
