"""oVirt's OptimalForCpuPowerSaving: prefer busy hosts, but never one past HighUtilization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.scheduler.weights.cpu_even import cpu_usage

HIGH_UTILIZATION = "HighUtilization"
DEFAULT_HIGH_UTILIZATION = 80.0


class PowerSavingCpuWeight:
    """A host over the threshold scores below every host under it (it should shed load)."""

    unit: ClassVar[UnitInfo] = UnitInfo(
        id="736999d0-1023-46a4-9a75-1316ed50e15b",
        name="OptimalForCpuPowerSaving",
        type=PolicyUnitType.WEIGHT,
        description="Prefers hosts with higher CPU usage, up to HighUtilization",
        parameters=(HIGH_UTILIZATION,),
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        high = context.number(HIGH_UTILIZATION, DEFAULT_HIGH_UTILIZATION)
        usages = [cpu_usage(host) for host in hosts]
        return [-1.0 if usage >= high else usage for usage in usages]
