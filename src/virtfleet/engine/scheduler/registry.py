"""Every filter and weight by its oVirt name: what policies are assembled from."""

from __future__ import annotations

from collections.abc import Mapping

from virtfleet.engine.scheduler.balances import BALANCES
from virtfleet.engine.scheduler.filters.base import Filter
from virtfleet.engine.scheduler.filters.cluster_maintenance import ClusterInMaintenanceFilter
from virtfleet.engine.scheduler.filters.cpu import CpuFilter
from virtfleet.engine.scheduler.filters.memory import MemoryFilter
from virtfleet.engine.scheduler.filters.migration import MigrationFilter
from virtfleet.engine.scheduler.filters.pinning import PinToHostFilter
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.scheduler.weights.base import Weight
from virtfleet.engine.scheduler.weights.cpu_even import EvenCpuWeight
from virtfleet.engine.scheduler.weights.cpu_power_saving import PowerSavingCpuWeight
from virtfleet.engine.scheduler.weights.guest_even import EvenGuestWeight
from virtfleet.engine.scheduler.weights.memory_even import EvenMemoryWeight
from virtfleet.engine.scheduler.weights.memory_power_saving import PowerSavingMemoryWeight
from virtfleet.engine.scheduler.weights.preferred_hosts import PreferredHostsWeight

_FILTERS: tuple[Filter, ...] = (
    CpuFilter(),
    MemoryFilter(),
    MigrationFilter(),
    PinToHostFilter(),
    ClusterInMaintenanceFilter(),
)
_WEIGHTS: tuple[Weight, ...] = (
    EvenCpuWeight(),
    EvenMemoryWeight(),
    PowerSavingCpuWeight(),
    PowerSavingMemoryWeight(),
    EvenGuestWeight(),
    PreferredHostsWeight(),
)

FILTERS: Mapping[str, Filter] = {f.unit.name: f for f in _FILTERS}
WEIGHTS: Mapping[str, Weight] = {w.unit.name: w for w in _WEIGHTS}
BALANCERS: Mapping[str, UnitInfo] = {b.name: b for b in BALANCES}

ALL_UNITS: tuple[UnitInfo, ...] = (
    *(f.unit for f in _FILTERS),
    *(w.unit for w in _WEIGHTS),
    *BALANCES,
)


def _check_unique() -> None:
    """Names and ids identify units in policies and in the API: each must be unique."""
    for key in ("id", "name"):
        seen = [(u.type, getattr(u, key)) for u in ALL_UNITS]
        if len(set(seen)) != len(seen):
            raise ValueError(f"two policy units share a {key}")
    ids = [u.id for u in ALL_UNITS]
    if len(set(ids)) != len(ids):
        raise ValueError("two policy units share an id")


_check_unique()
