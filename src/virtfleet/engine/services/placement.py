"""Where a VM runs: its placement policy, run-once's ``vm.host``, and what hosts report.

Hosts may be named by id or by name, as everywhere in oVirt's API; they are stored by id, so a
host renamed later still pins the VM, and they must belong to the VM's cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.monitoring.hoststate import free_memory_of
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.scheduler.ledger import HostUsage
from virtfleet.engine.scheduler.scheduler import UsageLookup
from virtfleet.engine.services.refs import resolve


def cluster_host(conn: Connection, ref: m.Host, cluster_id: str | None, *, field: str) -> m.Host:
    """The host a reference names (id or name), refused with a 400 when outside the cluster."""
    host = resolve(conn, repos.hosts, ref, field=field)
    if cluster_id is not None and (host.cluster is None or host.cluster.id != cluster_id):
        raise InvalidInput(f"{field}: host '{host.name}' is not in the VM's cluster")
    return host


def resolved_placement_policy(
    conn: Connection, policy: m.VmPlacementPolicy | None, cluster_id: str | None
) -> m.VmPlacementPolicy | None:
    """The placement policy with each host resolved to an id reference."""
    if policy is None or not policy.hosts:
        return policy
    ids: list[str] = []
    for ref in policy.hosts:
        host = cluster_host(conn, ref, cluster_id, field="placement_policy.hosts")
        assert host.id is not None
        if host.id not in ids:
            ids.append(host.id)
    return policy.model_copy(update={"hosts": [m.Host(id=host_id) for host_id in ids]})


def run_once_host(conn: Connection, action: m.Action, vm: m.Vm) -> str | None:
    """The host a start action asks for (``<vm><host>``), by id; None when it names none."""
    ref = action.vm.host if action.vm is not None else None
    if ref is None or (ref.id is None and ref.name is None):
        return None
    cluster_id = vm.cluster.id if vm.cluster is not None else None
    host = cluster_host(conn, ref, cluster_id, field="vm.host")
    assert host.id is not None
    return host.id


def reported_usage(monitor: HostMonitor | None) -> UsageLookup:
    """What hosts last reported, from the host monitor's memory (the database for hosts that
    have not reported since the engine started, or when no monitor runs)."""
    made: dict[str, tuple[object, HostUsage]] = {}

    def usage(conn: Connection, host_ids: Sequence[str]) -> Mapping[str, HostUsage]:
        if monitor is None:
            return {h: HostUsage(memory_free=f) for h, f in free_memory_of(conn, host_ids).items()}
        return _Reports(monitor, made, conn, host_ids)

    return usage


class _Reports(Mapping[str, HostUsage]):
    """Host reports looked up as placement asks for them: a decision reads each host once, so
    nothing is copied per decision, and the usage made from a sample is kept while that sample
    is the host's latest (the ledger then sees the same object and reuses its candidate)."""

    def __init__(
        self,
        monitor: HostMonitor,
        made: dict[str, tuple[object, HostUsage]],
        conn: Connection,
        host_ids: Sequence[str],
    ) -> None:
        self._monitor, self._made = monitor, made
        self._conn, self._host_ids = conn, host_ids
        self._stored: dict[str, int] | None = None

    def __getitem__(self, host_id: str) -> HostUsage:
        sample = self._monitor.latest_stats(host_id)
        if sample is None:
            if self._stored is None:  # not reported since the engine started: read them all once
                self._stored = free_memory_of(self._conn, self._host_ids)
            if host_id not in self._stored:
                raise KeyError(host_id)
            return HostUsage(memory_free=self._stored[host_id])
        kept = self._made.get(host_id)
        if kept is None or kept[0] is not sample:
            idle = sample.stats.cpu_idle_pct
            free = sample.stats.memory_free_bytes
            # a host that could not measure its CPU is weighed by its memory alone
            usage = HostUsage(free) if idle is None else HostUsage(free, 100.0 - idle)
            kept = (sample, usage)
            self._made[host_id] = kept
        return kept[1]

    def __iter__(self) -> Iterator[str]:
        return (h for h in self._host_ids if h in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)
