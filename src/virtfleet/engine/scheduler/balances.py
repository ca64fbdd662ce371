"""oVirt's load-balancing units, as policies name them.

Placement does not use them: they describe which migrations a balancing loop would propose,
and that loop is not built yet (there is no live migration to carry its proposals out).
"""

from __future__ import annotations

from virtfleet.common.apimodel.enums import PolicyUnitType
from virtfleet.engine.scheduler.units import UnitInfo

NONE = UnitInfo(
    id="38440000-8cf0-14bd-c43e-10b96e4ef00a",
    name="None",
    type=PolicyUnitType.LOAD_BALANCING,
    description="No load balancing operation",
)
EVEN_DISTRIBUTION = UnitInfo(
    id="7db4ab05-81ab-42e8-868a-aee2df483ed2",
    name="OptimalForEvenDistribution",
    type=PolicyUnitType.LOAD_BALANCING,
    description="Balances VMs by host CPU load, keeping hosts under HighUtilization",
    parameters=("HighUtilization", "CpuOverCommitDurationMinutes", "VCpuToPhysicalCpuRatio"),
)
POWER_SAVING = UnitInfo(
    id="736999d0-1023-46a4-9a75-1316ed50e151",
    name="OptimalForPowerSaving",
    type=PolicyUnitType.LOAD_BALANCING,
    description="Balances VMs by host CPU load, keeping hosts between LowUtilization and "
    "HighUtilization",
    parameters=("HighUtilization", "LowUtilization", "CpuOverCommitDurationMinutes"),
)
EVEN_GUEST_DISTRIBUTION = UnitInfo(
    id="d58c8e32-44e1-418f-9222-52cd887bf9e0",
    name="OptimalForEvenGuestDistribution",
    type=PolicyUnitType.LOAD_BALANCING,
    description="Balances VMs by their number per host",
    parameters=("SpmVmGrace", "HighVmCount", "MigrationThreshold"),
)

BALANCES: tuple[UnitInfo, ...] = (NONE, EVEN_DISTRIBUTION, POWER_SAVING, EVEN_GUEST_DISTRIBUTION)
