"""oVirt's OptimalForMemoryPowerSaving: fill the fullest host first, so others can be emptied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.scheduler.weights.base import available_memory


class PowerSavingMemoryWeight:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="9dfe6086-646d-43b8-8eef-4d94de8472c8",
        name="OptimalForMemoryPowerSaving",
        type=PolicyUnitType.WEIGHT,
        description="Prefers hosts with less available memory",
        parameters=("MaxFreeMemoryForOverUtilized", "MinFreeMemoryForUnderUtilized"),
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        return [-float(available_memory(host)) for host in hosts]
