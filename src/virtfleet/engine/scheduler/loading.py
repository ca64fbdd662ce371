"""Reading what placement needs from the database: hosts, what their VMs hold, the VM asking.

Kept apart from the selection, which never touches the database. Each read is one query per
table, so a full read costs one pass over the VMs and a host read only that host's VMs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection, case, func, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.common import vcpu_count
from virtfleet.common.apimodel.enums import VmAffinity
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES, PENDING_VM_STATUSES
from virtfleet.engine.persistence import tables
from virtfleet.engine.scheduler.ledger import HostFacts, HostLoad
from virtfleet.engine.scheduler.model import Purpose, VmRequest

_HOLDING = [s.value for s in HOLDING_VM_STATUSES]
_PENDING = [s.value for s in PENDING_VM_STATUSES]


def load_hosts(conn: Connection, host_id: str | None = None) -> list[HostFacts]:
    """Every host (or the one named) with its cluster, status and capacity."""
    c = tables.hosts.c
    query = select(c.id, c.name, c.cluster_id, c.status, c.memory, c.cpu_threads)
    if host_id is not None:
        query = query.where(c.id == host_id)
    return [
        HostFacts(
            id=row.id,
            name=row.name or row.id,
            cluster_id=row.cluster_id or "",
            status=str(row.status or ""),
            memory_total=int(row.memory or 0),
            cpu_threads=int(row.cpu_threads or 0),
        )
        for row in conn.execute(query)
    ]


def load_loads(
    conn: Connection, without: Collection[str], host_id: str | None = None
) -> dict[str, HostLoad]:
    """What the VMs placed on each host (or the one named) hold, VMs in ``without`` left out."""
    v = tables.vms.c
    memory = func.coalesce(v.memory, 0)
    condition = v.status.in_(_HOLDING) & v.host_id.is_not(None)
    if host_id is not None:
        # one host's few VMs: leaving out the charged ones here costs less than sending them all
        mine = condition & (v.host_id == host_id)
        load = HostLoad()
        for vm_id, held, status in conn.execute(select(v.id, memory, v.status).where(mine)):
            if vm_id not in without:
                load.add(int(held), pending=status in _PENDING)
        return {host_id: load} if load.vms else {}
    pending = case((v.status.in_(_PENDING), memory), else_=0)
    if without:
        condition &= v.id.not_in(list(without))
    rows = conn.execute(
        select(v.host_id, func.sum(memory), func.sum(pending), func.count())
        .where(condition)
        .group_by(v.host_id)
    )
    return {
        row[0]: HostLoad(committed=int(row[1] or 0), pending=int(row[2] or 0), vms=int(row[3]))
        for row in rows
    }


def vm_request(vm: m.Vm, purpose: Purpose, exclude: Sequence[str] = ()) -> VmRequest:
    """The VM's needs and its placement policy: hosts pin it when its affinity is ``pinned``,
    and are preferred otherwise (oVirt's PinToHost filter and PreferredHosts weight)."""
    assert vm.id is not None
    policy = vm.placement_policy
    hosts = frozenset(h.id for h in (policy.hosts or []) if h.id) if policy else frozenset()
    pinned = policy is not None and policy.affinity == VmAffinity.PINNED
    highly_available = vm.high_availability is not None and bool(vm.high_availability.enabled)
    return VmRequest(
        id=vm.id,
        name=vm.name or vm.id,
        memory=vm.memory or 0,
        vcpus=vcpu_count(vm.cpu),
        purpose=purpose,
        pinned_to=hosts if pinned else frozenset(),
        preferred=frozenset() if pinned else hosts,
        exclude=frozenset(exclude),
        highly_available=highly_available,
    )


def over_commit_percent(cluster: m.Cluster) -> int:
    policy = cluster.memory_policy
    if policy is None or policy.over_commit is None or policy.over_commit.percent is None:
        return 100
    return policy.over_commit.percent
