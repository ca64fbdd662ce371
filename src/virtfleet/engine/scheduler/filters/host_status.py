"""Only hosts that are up can take a VM (oVirt hands its filters up hosts only)."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import HostStatus, PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo

_UP = HostStatus.UP.value  # a plain str: compared for every host of every decision


class HostStatusFilter:
    """Applied before every policy's own filters; not a unit a policy lists."""

    unit: ClassVar[UnitInfo] = UnitInfo(
        id="",
        name="HostStatus",
        type=PolicyUnitType.FILTER,
        description="Filters out hosts that are not up",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if host.status != _UP:
            return f"host {host.name} is {host.status}"
        return True
