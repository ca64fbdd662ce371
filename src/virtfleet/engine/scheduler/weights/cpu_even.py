"""oVirt's OptimalForCpuEvenDistribution: prefer the host whose CPUs are least busy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


def cpu_usage(host: HostCandidate) -> float:
    """The host's last reported CPU use in percent; a host that has not reported counts idle."""
    return host.cpu_usage_pct if host.cpu_usage_pct is not None else 0.0


class EvenCpuWeight:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="7db4ab05-81ab-42e8-868a-aee2df483edb",
        name="OptimalForCpuEvenDistribution",
        type=PolicyUnitType.WEIGHT,
        description="Prefers hosts with lower CPU usage",
        parameters=("VCpuToPhysicalCpuRatio",),
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        return [-cpu_usage(host) for host in hosts]
