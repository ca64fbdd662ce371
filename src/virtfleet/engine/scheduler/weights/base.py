"""The shape of a weight, and how scores of several weights combine.

As in Nova, raw scores are min-max normalised per weight before being multiplied by the factor
the policy gives it (oVirt's factors: 99 for preferred hosts, 2 for CPU, 1 for memory...) and
summed, so no weight dominates by the size of its unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class Weight(Protocol):
    unit: ClassVar[UnitInfo]

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        """False when the weight would score every host alike for this VM: it is then not run."""
        ...

    def scores(
        self, hosts: Sequence[HostCandidate], vm: VmRequest, context: PlacementContext
    ) -> list[float]:
        """One raw score per host, in order; higher is better. Scored all at once, since a
        decision weighs every host of the cluster."""
        ...


def available_memory(host: HostCandidate) -> int:
    """Memory left once commitments are counted, or less if the host reports less free."""
    left = host.memory_total - host.committed_memory
    free = host.memory_free
    if free is not None and free - host.pending_memory < left:
        return free - host.pending_memory
    return left


def normalise(values: Sequence[float]) -> list[float]:
    """Min-max to 0..1; equal values all become 0 (they cannot tell hosts apart)."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    span = high - low
    return [(value - low) / span for value in values]


def total_weights(
    hosts: Sequence[HostCandidate],
    vm: VmRequest,
    context: PlacementContext,
    weights: Sequence[tuple[Weight, int]],
) -> list[float]:
    """The combined score of each host, in the order given."""
    totals = [0.0] * len(hosts)
    for weight, factor in weights:
        if not weight.applies(vm, context):
            continue
        raw = weight.scores(hosts, vm, context)
        low, high = min(raw), max(raw)
        if high == low:
            continue
        span = high - low  # divided by, not inverted: a tiny span would overflow to inf
        totals = [
            total + factor * ((value - low) / span)
            for total, value in zip(totals, raw, strict=True)
        ]
    return totals
