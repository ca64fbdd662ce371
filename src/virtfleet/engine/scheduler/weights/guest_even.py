"""oVirt's OptimalForEvenGuestDistribution: prefer the host running the fewest VMs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class EvenGuestWeight:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="3ba8c988-f779-42c0-90ce-caa8243edee7",
        name="OptimalForEvenGuestDistribution",
        type=PolicyUnitType.WEIGHT,
        description="Prefers hosts running fewer VMs",
        parameters=("SpmVmGrace",),
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        return [-float(host.running_vms) for host in hosts]
