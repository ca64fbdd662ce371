"""oVirt's Memory filter: the VM must fit in what the host can still schedule."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class MemoryFilter:
    """Under the cluster's over-commit ceiling (what the host may still promise), and in the
    memory the host reports free less what launches not yet visible in its report will take."""

    unit: ClassVar[UnitInfo] = UnitInfo(
        id="c9ddbb34-0e1d-4061-a8d7-b0893fa80932",
        name="Memory",
        type=PolicyUnitType.FILTER,
        description="Filters out hosts that have insufficient memory to run the VM",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        left = host.memory_total * context.over_commit_percent // 100 - host.committed_memory
        if vm.memory > left:
            return (
                f"host {host.name} has {max(0, left)} bytes of schedulable memory, "
                f"the VM needs {vm.memory}"
            )
        if host.memory_free is not None and host.memory_free - host.pending_memory < vm.memory:
            return f"host {host.name} has not enough free memory for {vm.memory} bytes"
        return True
