"""oVirt's ClusterInMaintenance filter: while a cluster is serviced only HA VMs may start."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import (
    HostCandidate,
    PlacementContext,
    Purpose,
    Verdict,
    VmRequest,
)
from virtfleet.engine.scheduler.units import UnitInfo


class ClusterInMaintenanceFilter:
    """Migrations and HA restarts still go ahead: the point is to empty hosts, not strand VMs."""

    unit: ClassVar[UnitInfo] = UnitInfo(
        id="0bd8fef9-bcb4-4250-9998-410f01608d9b",
        name="ClusterInMaintenance",
        type=PolicyUnitType.FILTER,
        description="Prevents any VM start except for highly available VMs",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if vm.purpose == Purpose.START and not vm.highly_available:
            return "the cluster is in maintenance: only highly available VMs may start"
        return True
