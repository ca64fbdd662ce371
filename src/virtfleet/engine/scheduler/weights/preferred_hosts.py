"""oVirt's PreferredHosts: the hosts a VM's placement policy names come first (factor 99)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class PreferredHostsWeight:
    unit: ClassVar[UnitInfo] = UnitInfo(
        id="591cdb81-ba67-45b4-9642-e28f61a97d57",
        name="PreferredHosts",
        type=PolicyUnitType.WEIGHT,
        description="Prioritize preferred hosts during VM startup.",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return bool(vm.preferred)

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        preferred = vm.preferred
        return [1.0 if host.id in preferred else 0.0 for host in hosts]
