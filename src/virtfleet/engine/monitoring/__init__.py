"""Host monitoring: one connection per active host, heartbeats, stats and VM state forwarding."""

from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.monitoring.hostmonitor import HostLiveness, HostMonitor
from virtfleet.engine.monitoring.vmsink import VmStateSink

__all__ = ["HostConnections", "HostLiveness", "HostMonitor", "VmStateSink"]
