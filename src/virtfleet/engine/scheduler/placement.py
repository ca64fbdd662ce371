"""Choosing a host for a VM: filter the cluster's up hosts, weigh the survivors, take the best.

The pure part (``select_host``) is what the property tests exercise; ``load_candidates`` reads
the facts it needs from the database, charging VMs still launching to their chosen host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, case, func, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.common.errors import Conflict
from virtfleet.engine.core.derived import vcpu_count
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES, PENDING_VM_STATUSES
from virtfleet.engine.persistence import tables
from virtfleet.engine.scheduler.filters import (
    CpuFilter,
    Filter,
    HostCandidate,
    MemoryFilter,
    PlacementContext,
    VmRequest,
)
from virtfleet.engine.scheduler.weights import (
    FewestVmsWeight,
    FreeMemoryWeight,
    Weight,
    total_weights,
)

log = logging.getLogger(__name__)

# Free memory reported by each of the given hosts (hosts without a report are left out).
FreeMemoryLookup = Callable[[Sequence[str]], Mapping[str, int]]


@dataclass(frozen=True)
class Policy:
    """A named pipeline of filters and weights (oVirt's cluster scheduling policies)."""

    name: str
    filters: Sequence[Filter] = field(default_factory=lambda: (MemoryFilter(), CpuFilter()))
    weights: Sequence[Weight] = field(default_factory=tuple)


POLICIES: dict[str, Policy] = {
    "none": Policy("none", weights=(FreeMemoryWeight(),)),
    "evenly_distributed": Policy(
        "evenly_distributed", weights=(FewestVmsWeight(2.0), FreeMemoryWeight(1.0))
    ),
}
DEFAULT_POLICY = "none"


@dataclass(frozen=True)
class Placement:
    """The chosen host (None when no host passed) and why each other host was refused."""

    host: HostCandidate | None
    refused: dict[str, str]


def policy_named(name: str | None) -> Policy:
    return POLICIES.get(name or DEFAULT_POLICY, POLICIES[DEFAULT_POLICY])


def select_host(
    hosts: Sequence[HostCandidate],
    vm: VmRequest,
    context: PlacementContext,
    policy: Policy,
) -> Placement:
    """Filter, then weigh; ties go to the host whose name sorts first (stable placements)."""
    refused: dict[str, str] = {}
    survivors: list[HostCandidate] = []
    for host in hosts:
        for check in policy.filters:
            verdict = check.passes(host, vm, context)
            if verdict is not True:
                refused[host.name] = f"{check.name}: {verdict or 'refused'}"
                break
        else:
            survivors.append(host)
    if not survivors:
        return Placement(None, refused)
    scores = total_weights(survivors, vm, context, policy.weights)
    ranked = sorted(zip(scores, survivors, strict=True), key=lambda pair: (-pair[0], pair[1].name))
    return Placement(ranked[0][1], refused)


def vm_request(vm: m.Vm) -> VmRequest:
    assert vm.id is not None
    return VmRequest(
        id=vm.id, name=vm.name or vm.id, memory=vm.memory or 0, vcpus=vcpu_count(vm.cpu)
    )


def load_candidates(
    conn: Connection, cluster_id: str, free_memory: FreeMemoryLookup, *, exclude_vm: str
) -> list[HostCandidate]:
    """The cluster's up hosts with what is committed on each (``exclude_vm`` not counted).

    What VMs hold is summed per host in SQL, and free memory is read for all hosts at once:
    placement runs for every start, so its cost must not grow with hosts times VMs.
    """
    columns = tables.hosts.c
    hosts = conn.execute(
        select(columns.id, columns.name, columns.memory, columns.cpu_threads)
        .where((columns.cluster_id == cluster_id) & (columns.status == HostStatus.UP))
        .order_by(columns.name)
    ).all()
    host_ids = [h.id for h in hosts]
    vms = tables.vms.c
    memory = func.coalesce(vms.memory, 0)
    pending = case((vms.status.in_([s.value for s in PENDING_VM_STATUSES]), memory), else_=0)
    held = conn.execute(
        select(vms.host_id, func.sum(memory), func.sum(pending), func.count())
        .where(
            vms.host_id.in_(host_ids)
            & vms.status.in_([s.value for s in HOLDING_VM_STATUSES])
            & (vms.id != exclude_vm)
        )
        .group_by(vms.host_id)
    )
    holding = {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3])) for row in held}
    free = free_memory(host_ids)
    candidates = []
    for host_id, name, memory_total, cpu_threads in hosts:
        committed, pending_memory, running = holding.get(host_id, (0, 0, 0))
        candidates.append(
            HostCandidate(
                id=host_id,
                name=name or host_id,
                memory_total=memory_total or 0,
                cpu_threads=cpu_threads or 0,
                committed_memory=committed,
                pending_memory=pending_memory,
                running_vms=running,
                memory_free=free.get(host_id),
            )
        )
    return candidates


def over_commit_percent(cluster: m.Cluster) -> int:
    policy = cluster.memory_policy
    if policy is None or policy.over_commit is None or policy.over_commit.percent is None:
        return 100
    return policy.over_commit.percent


def place_vm(
    conn: Connection, vm: m.Vm, cluster: m.Cluster, free_memory: FreeMemoryLookup
) -> HostCandidate:
    """The best host of the VM's cluster; Conflict naming each refusal when there is none."""
    assert cluster.id is not None and vm.id is not None
    candidates = load_candidates(conn, cluster.id, free_memory, exclude_vm=vm.id)
    policy = policy_named(cluster.scheduling_policy.name if cluster.scheduling_policy else None)
    context = PlacementContext(over_commit_percent=over_commit_percent(cluster))
    placement = select_host(candidates, vm_request(vm), context, policy)
    if placement.host is None:
        if not candidates:
            raise Conflict(
                f"Cannot run VM. There is no host in status up in cluster '{cluster.name}'."
            )
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(placement.refused.items()))
        raise Conflict(f"Cannot run VM. No host can take VM {vm.name}: {reasons}")
    log.info("placed vm=%s host=%s policy=%s", vm.name, placement.host.name, policy.name)
    return placement.host
