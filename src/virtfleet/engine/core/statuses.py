"""Status sets that more than one layer decides by."""

from __future__ import annotations

from virtfleet.common.apimodel.enums import HostStatus, VmStatus

# Hosts the engine keeps a connection to; the others wait for an operator (activate, install).
MONITORED_HOSTS = frozenset(
    {
        HostStatus.UP,
        HostStatus.INITIALIZING,
        HostStatus.NON_RESPONSIVE,
        HostStatus.CONNECTING,
        HostStatus.UNASSIGNED,
    }
)

# Statuses in which a VM holds memory on its host; the first ones are not in host stats yet.
PENDING_VM_STATUSES = frozenset(
    {VmStatus.WAIT_FOR_LAUNCH, VmStatus.POWERING_UP, VmStatus.RESTORING_STATE}
)
HOLDING_VM_STATUSES = PENDING_VM_STATUSES | {
    VmStatus.UP,
    VmStatus.PAUSED,
    VmStatus.POWERING_DOWN,
    VmStatus.REBOOT_IN_PROGRESS,
    VmStatus.SAVING_STATE,
    VmStatus.MIGRATING,
    VmStatus.NOT_RESPONDING,
    VmStatus.UNKNOWN,
}

# A VM in one of these has no running guest, so its disks may change.
STOPPED_VM_STATUSES = frozenset({VmStatus.DOWN, VmStatus.IMAGE_LOCKED, VmStatus.UNASSIGNED})
