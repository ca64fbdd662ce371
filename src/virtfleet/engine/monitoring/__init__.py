"""Host monitoring: one connection per active host, heartbeats, stats and VM state forwarding."""

from virtfleet.engine.monitoring.connections import HostConnections, host_connections
from virtfleet.engine.monitoring.hostmonitor import HostLiveness, HostMonitor, host_monitor
from virtfleet.engine.monitoring.vmsink import VmStateSink, vm_state_sink

__all__ = [
    "HostConnections",
    "HostLiveness",
    "HostMonitor",
    "VmStateSink",
    "host_connections",
    "host_monitor",
    "vm_state_sink",
]
