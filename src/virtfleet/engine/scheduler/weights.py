"""Soft preferences of placement: each weight scores hosts, normalised to 0..1 across candidates.

As in Nova, raw scores are min-max normalised per weigher before being multiplied by the
weigher's multiplier and summed, so no weigher dominates by the size of its unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from virtfleet.engine.scheduler.filters import HostCandidate, PlacementContext, VmRequest


class Weight(Protocol):
    name: ClassVar[str]
    multiplier: float

    def weigh(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> float: ...


class FreeMemoryWeight:
    """Prefer the host with the most memory left once its commitments are counted."""

    name: ClassVar[str] = "FreeMemory"

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def weigh(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> float:
        left = host.memory_total - host.committed_memory
        if host.memory_free is not None:
            left = min(left, host.memory_free - host.pending_memory)
        return float(left)


class FewestVmsWeight:
    """Prefer the host running the fewest VMs (even distribution)."""

    name: ClassVar[str] = "FewestVms"

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def weigh(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> float:
        return -float(host.running_vms)


def normalise(values: Sequence[float]) -> list[float]:
    """Min-max to 0..1; equal values all become 0 (they cannot tell hosts apart)."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(value - low) / (high - low) for value in values]


def total_weights(
    hosts: Sequence[HostCandidate],
    vm: VmRequest,
    context: PlacementContext,
    weights: Sequence[Weight],
) -> list[float]:
    """The combined score of each host, in the order given."""
    totals = [0.0 for _ in hosts]
    for weight in weights:
        raw = [weight.weigh(host, vm, context) for host in hosts]
        for index, value in enumerate(normalise(raw)):
            totals[index] += weight.multiplier * value
    return totals
