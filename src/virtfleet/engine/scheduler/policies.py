"""oVirt's five built-in cluster scheduling policies: their ids, units, factors and properties.

Each is declared as oVirt declares it (``InternalClusterPolicies``), limited to the units this
engine has: a unit oVirt lists that has nothing to act on here (NUMA, huge pages, hosted engine,
host hooks...) is left out rather than listed and ignored. As in oVirt 4.3 every policy lists
PinToHost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.scheduler import balances
from virtfleet.engine.scheduler.filters.base import Filter
from virtfleet.engine.scheduler.registry import FILTERS, WEIGHTS
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.scheduler.weights.base import Weight


@dataclass(frozen=True)
class Policy:
    """A named pipeline: filters in order, weights with their factors, and a balancer."""

    id: str
    name: str
    filter_names: Sequence[str]
    weight_factors: Sequence[tuple[str, int]]
    balance: UnitInfo
    properties: Mapping[str, str]
    default: bool = False
    filters: tuple[Filter, ...] = field(init=False)
    weights: tuple[tuple[Weight, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        # resolved once: placement runs them for every host of every decision
        object.__setattr__(self, "filters", tuple(FILTERS[n] for n in self.filter_names))
        weights = tuple((WEIGHTS[n], factor) for n, factor in self.weight_factors)
        object.__setattr__(self, "weights", weights)

    def position(self, filter_name: str) -> int:
        """oVirt's filter positions: -1 runs first, 1 last, 0 anywhere between."""
        index = self.filter_names.index(filter_name)
        if index == 0:
            return -1
        return 1 if index == len(self.filter_names) - 1 else 0


_FILTERS = ("CPU", "Memory", "Migration", "PinToHost")
_EVEN_WEIGHTS = (
    ("OptimalForCpuEvenDistribution", 2),
    ("OptimalForMemoryEvenDistribution", 1),
    ("PreferredHosts", 99),
)
_BASE_PROPERTIES = {"CpuOverCommitDurationMinutes": "2", "HighUtilization": "80"}

POLICIES: tuple[Policy, ...] = (
    Policy(
        "b4ed2332-a7ac-4d5f-9596-99a439cb2812",
        "none",
        _FILTERS,
        _EVEN_WEIGHTS,
        balances.NONE,
        _BASE_PROPERTIES,
        default=True,
    ),
    Policy(
        "7677771e-5eab-422e-83fa-dc04080d21b7",
        "cluster_maintenance",
        ("ClusterInMaintenance", *_FILTERS),
        _EVEN_WEIGHTS,
        balances.NONE,
        _BASE_PROPERTIES,
    ),
    Policy(
        "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a",
        "evenly_distributed",
        _FILTERS,
        _EVEN_WEIGHTS,
        balances.EVEN_DISTRIBUTION,
        {"HeSparesCount": "0", **_BASE_PROPERTIES, "VCpuToPhysicalCpuRatio": "0"},
    ),
    Policy(
        "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53",
        "power_saving",
        _FILTERS,
        (
            ("OptimalForCpuPowerSaving", 2),
            ("OptimalForMemoryPowerSaving", 1),
            ("PreferredHosts", 99),
        ),
        balances.POWER_SAVING,
        {"HeSparesCount": "0", **_BASE_PROPERTIES, "LowUtilization": "20"},
    ),
    Policy(
        "8d5d7bec-68de-4a67-b53e-0ac54686d579",
        "vm_evenly_distributed",
        _FILTERS,
        (("OptimalForEvenGuestDistribution", 2), ("PreferredHosts", 99)),
        balances.EVEN_GUEST_DISTRIBUTION,
        {
            "HeSparesCount": "0",
            **_BASE_PROPERTIES,
            "HighVmCount": "10",
            "MigrationThreshold": "5",
            "SpmVmGrace": "5",
        },
    ),
)

BY_ID: Mapping[str, Policy] = {p.id: p for p in POLICIES}
BY_NAME: Mapping[str, Policy] = {p.name: p for p in POLICIES}
DEFAULT = BY_NAME["none"]


def policy_for(id_or_name: str | None) -> Policy:
    """The policy a cluster names (by id or name; the default when it names none)."""
    if not id_or_name:
        return DEFAULT
    found = BY_ID.get(id_or_name) or BY_NAME.get(id_or_name)
    if found is None:
        known = ", ".join(p.name for p in POLICIES)
        raise InvalidInput(
            f"scheduling_policy: there is no scheduling policy '{id_or_name}' (known: {known})"
        )
    return found
