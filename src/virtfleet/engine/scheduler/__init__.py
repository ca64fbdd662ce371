"""Placement of VMs on hosts: filters (hard constraints), weights (preferences), policies."""

from virtfleet.engine.scheduler.filters import (
    CpuFilter,
    Filter,
    HostCandidate,
    MemoryFilter,
    PlacementContext,
    VmRequest,
)
from virtfleet.engine.scheduler.placement import POLICIES, Placement, Policy, place_vm, select_host
from virtfleet.engine.scheduler.weights import FewestVmsWeight, FreeMemoryWeight, Weight

__all__ = [
    "POLICIES",
    "CpuFilter",
    "FewestVmsWeight",
    "Filter",
    "FreeMemoryWeight",
    "HostCandidate",
    "MemoryFilter",
    "Placement",
    "PlacementContext",
    "Policy",
    "VmRequest",
    "Weight",
    "place_vm",
    "select_host",
]
