"""What command steps reach beyond the database: the hosts' agents, host monitoring, settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from virtfleet.common import apimodel as m
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.scheduler.scheduler import Scheduler


class InlineDisks(Protocol):
    """Creating and removing the disks a new VM was added with (the disk services do it)."""

    def attach(self, vm_id: str, attachment: m.DiskAttachment) -> None: ...

    def remove(self, vm_id: str, attachment_id: str) -> None: ...


@dataclass(frozen=True)
class CommandEnv:
    config: EngineConfig
    connections: HostConnections
    monitor: HostMonitor
    inline_disks: InlineDisks
    scheduler: Scheduler
