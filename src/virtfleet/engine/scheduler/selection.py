"""The pure choice of a host: filter the candidates, weigh the survivors, take the best."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

from virtfleet.engine.scheduler.filters.base import Filter
from virtfleet.engine.scheduler.filters.host_status import HostStatusFilter
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.policies import Policy
from virtfleet.engine.scheduler.weights.base import total_weights

ALWAYS: tuple[Filter, ...] = (HostStatusFilter(),)
_BY_NAME = attrgetter("name")


@dataclass(frozen=True)
class Placement:
    """The chosen host (None when no host passed) and why each other host was refused."""

    host: HostCandidate | None
    refused: dict[str, str]


def refusal(
    host: HostCandidate, vm: VmRequest, context: PlacementContext, policy: Policy
) -> str | None:
    """Why the host cannot take the VM under the policy's filters, or None when it can."""
    return _refusal(host, vm, context, (*ALWAYS, *policy.filters))


def _refusal(
    host: HostCandidate, vm: VmRequest, context: PlacementContext, checks: Sequence[Filter]
) -> str | None:
    for check in checks:
        verdict = check.passes(host, vm, context)
        if verdict is not True:
            return f"{check.unit.name}: {verdict or 'refused'}"
    return None


def select_host(
    hosts: Sequence[HostCandidate],
    vm: VmRequest,
    context: PlacementContext,
    policy: Policy,
) -> Placement:
    """Filter, then weigh; ties go to the host whose name sorts first (stable placements)."""
    refused: dict[str, str] = {}
    survivors: list[HostCandidate] = []
    checks = [f for f in (*ALWAYS, *policy.filters) if f.applies(vm, context)]
    for host in hosts:
        for check in checks:
            verdict = check.passes(host, vm, context)
            if verdict is not True:
                refused[host.name] = f"{check.unit.name}: {verdict or 'refused'}"
                break
        else:
            survivors.append(host)
    if not survivors:
        return Placement(None, refused)
    if len(survivors) == 1:
        return Placement(survivors[0], refused)
    scores = total_weights(survivors, vm, context, policy.weights)
    top = max(scores)
    ties = [h for h, score in zip(survivors, scores, strict=True) if score == top]
    return Placement(ties[0] if len(ties) == 1 else min(ties, key=_BY_NAME), refused)
