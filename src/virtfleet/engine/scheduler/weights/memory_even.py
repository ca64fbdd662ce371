"""oVirt's OptimalForMemoryEvenDistribution: prefer the host with the most memory available."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.scheduler.weights.base import available_memory


class EvenMemoryWeight:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="4134247a-9c58-4b9a-8593-530bb9e37c59",
        name="OptimalForMemoryEvenDistribution",
        type=PolicyUnitType.WEIGHT,
        description="Prefers hosts with more available memory",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        return [float(available_memory(host)) for host in hosts]
