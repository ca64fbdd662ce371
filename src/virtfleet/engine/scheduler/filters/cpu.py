"""oVirt's CPU filter: a VM may not have more vCPUs than the host has logical CPUs."""

from __future__ import annotations

from typing import ClassVar

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class CpuFilter:
    """Across VMs, vCPUs are over-committed freely (as oVirt's CPU filter does); only a single
    VM wider than the host is refused, since it could never run well there."""

    unit: ClassVar[UnitInfo] = UnitInfo(
        id="6d636bf6-a35c-4f9d-b68d-0731f720cddc",
        name="CPU",
        type=PolicyUnitType.FILTER,
        description="Filters out hosts with less CPUs than VM's CPUs",
    )

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        return True

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if vm.vcpus > host.cpu_threads:
            return f"host {host.name} has {host.cpu_threads} CPUs, the VM needs {vm.vcpus}"
        return True
