"""oVirt's Migration filter: never choose the host the VM is leaving (or any host excluded)."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class MigrationFilter:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="e659c871-0bf1-4ccc-b748-f28f5d08ddda",
        name="Migration",
        type=PolicyUnitType.FILTER,
        description="Prevent migration to the same host.",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return bool(vm.exclude)

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if host.id in vm.exclude:
            return f"host {host.name} is excluded for this {vm.purpose}"
        return True
