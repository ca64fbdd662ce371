"""Translation of libvirt domain states and lifecycle events into ``VmRunState``."""

from __future__ import annotations

import libvirt

from virtfleet.common.protocol import VmRunState

_STATE: dict[int, VmRunState] = {
    libvirt.VIR_DOMAIN_NOSTATE: VmRunState.RUNNING,
    libvirt.VIR_DOMAIN_RUNNING: VmRunState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: VmRunState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: VmRunState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: VmRunState.SHUTTING_DOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: VmRunState.DOWN,
    libvirt.VIR_DOMAIN_CRASHED: VmRunState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: VmRunState.PAUSED,
}


def domain_run_state(state: int, reason: int, has_saved_image: bool) -> tuple[VmRunState, str]:
    """The run state for ``virDomain.state()`` and whether a managed-save image exists."""
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        if has_saved_image:
            return VmRunState.SUSPENDED, "saved"
        if reason in (libvirt.VIR_DOMAIN_SHUTOFF_CRASHED, libvirt.VIR_DOMAIN_SHUTOFF_FAILED):
            return VmRunState.CRASHED, "crashed"
        return VmRunState.DOWN, ""
    if state == libvirt.VIR_DOMAIN_PAUSED:
        if reason == libvirt.VIR_DOMAIN_PAUSED_MIGRATION:
            return VmRunState.MIGRATING, "paused for migration"
        if reason == libvirt.VIR_DOMAIN_PAUSED_IOERROR:
            return VmRunState.PAUSED, "I/O error"
        return VmRunState.PAUSED, ""
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return VmRunState.PAUSED, "guest power-management suspend"
    return _STATE.get(state, VmRunState.RUNNING), ""


_STOPPED: dict[int, tuple[VmRunState, str]] = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: (VmRunState.DOWN, "shutdown"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: (VmRunState.DOWN, "destroyed"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: (VmRunState.CRASHED, "crashed"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: (VmRunState.DOWN, "migrated"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: (VmRunState.SUSPENDED, "saved"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: (VmRunState.CRASHED, "failed"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: (VmRunState.DOWN, "from snapshot"),
}

_STARTED_REASON: dict[int, str] = {
    libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED: "booted",
    libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED: "migrated",
    libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED: "restored",
    libvirt.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT: "from snapshot",
}

_SUSPENDED: dict[int, tuple[VmRunState, str]] = {
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED: (VmRunState.PAUSED, "paused"),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED: (VmRunState.MIGRATING, "migrating"),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR: (VmRunState.PAUSED, "I/O error"),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG: (VmRunState.PAUSED, "watchdog"),
}


def event_run_state(event: int, detail: int) -> tuple[VmRunState, str] | None:
    """The run state a lifecycle event announces, or None for events that change none."""
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return VmRunState.RUNNING, _STARTED_REASON.get(detail, "started")
    if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        return _SUSPENDED.get(detail, (VmRunState.PAUSED, "paused"))
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        reason = "migrated" if detail == libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED else "resumed"
        return VmRunState.RUNNING, reason
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        return _STOPPED.get(detail, (VmRunState.DOWN, "stopped"))
    if event == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN:
        return VmRunState.SHUTTING_DOWN, "guest shutdown"
    if event == libvirt.VIR_DOMAIN_EVENT_CRASHED:
        return VmRunState.CRASHED, "crashed"
    if event == libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED:
        return VmRunState.PAUSED, "guest power-management suspend"
    return None
