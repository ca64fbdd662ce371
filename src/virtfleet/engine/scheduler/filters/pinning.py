"""oVirt's PinToHost filter: a VM pinned to hosts runs on one of them or nowhere."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class PinToHostFilter:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="12262ab6-9690-4bc3-a2b3-35573b172d54",
        name="PinToHost",
        type=PolicyUnitType.FILTER,
        description="Filters out all hosts that VM is not pinned to",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return bool(vm.pinned_to)

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if vm.pinned_to and host.id not in vm.pinned_to:
            return f"the VM is pinned to other hosts than {host.name}"
        return True
