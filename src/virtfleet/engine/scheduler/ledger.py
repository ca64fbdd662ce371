"""What each host has committed, kept in memory so a placement costs O(hosts), not O(VMs).

Two parts: the *base* (what the database showed at the last read, VMs with a pending charge left
out) and the *charges* (placements decided but not yet visible as holding in the database).
A charge is settled into the base once the VM's row holds memory on its host, or released
when the start fails. Reads that replace the base happen under the same lock as charges, so
a charge is never counted twice nor lost between them. The base only errs high (a VM that
went down stays counted until the next read), which costs a refresh, never an over-commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from virtfleet.engine.scheduler.model import HostCandidate


@dataclass(frozen=True)
class HostFacts:
    """A host's identity and capacity as its row says."""

    id: str
    name: str
    cluster_id: str
    status: str
    memory_total: int
    cpu_threads: int


@dataclass(frozen=True)
class HostUsage:
    """What the host last reported (None when it has not reported)."""

    memory_free: int | None = None
    cpu_usage_pct: float | None = None


@dataclass
class HostLoad:
    """Memory committed on a host, the part of it not yet in the host's stats, and VM count."""

    committed: int = 0
    pending: int = 0
    vms: int = 0

    def add(self, memory: int, *, pending: bool, sign: int = 1) -> None:
        self.committed += sign * memory
        self.pending += sign * memory if pending else 0
        self.vms += sign


_NO_USAGE = HostUsage()


class Ledger:
    """Thread-safe; ``lock`` is held by the scheduler around a decision and its charge."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._hosts: dict[str, HostFacts] = {}
        self._clusters: dict[str, list[str]] = {}
        self._base: dict[str, HostLoad] = {}
        self._charged: dict[str, HostLoad] = {}
        self._charges: dict[str, tuple[str, int]] = {}
        # each host as placement last saw it, with the report it was built from: rebuilt only
        # when that host's load or report changes, since a decision looks at every host
        self._seen: dict[str, tuple[HostUsage, HostCandidate]] = {}

    # --- what the database says -------------------------------------------------------------------

    def charged_vms(self) -> frozenset[str]:
        with self.lock:
            return frozenset(self._charges)

    def replace_all(self, hosts: Iterable[HostFacts], loads: Mapping[str, HostLoad]) -> None:
        """A full read: every host and its load (read leaving out ``charged_vms()``)."""
        with self.lock:
            self._hosts = {h.id: h for h in hosts}
            self._base = {host_id: loads.get(host_id, HostLoad()) for host_id in self._hosts}
            self._seen.clear()
            self._index()

    def replace_host(self, host_id: str, facts: HostFacts | None, load: HostLoad) -> None:
        """A fresh read of one host (None when it is gone)."""
        with self.lock:
            if facts is None:
                self._hosts.pop(host_id, None)
                self._base.pop(host_id, None)
            else:
                self._hosts[host_id] = facts
                self._base[host_id] = load
            self._seen.pop(host_id, None)
            self._index()

    def _index(self) -> None:
        clusters: dict[str, list[str]] = {}
        for host in sorted(self._hosts.values(), key=lambda h: h.name):
            clusters.setdefault(host.cluster_id, []).append(host.id)
        self._clusters = clusters

    # --- placements -------------------------------------------------------------------------------

    def charge(self, vm_id: str, host_id: str, memory: int) -> None:
        """Count the VM on the host from now on (a placement decided, its row not yet written)."""
        with self.lock:
            self.release(vm_id)
            self._charges[vm_id] = (host_id, memory)
            self._charged.setdefault(host_id, HostLoad()).add(memory, pending=True)
            self._seen.pop(host_id, None)

    def release(self, vm_id: str) -> None:
        """Forget the VM's charge: its start failed, or the database now shows it."""
        with self.lock:
            charge = self._charges.pop(vm_id, None)
            if charge is not None:
                host_id, memory = charge
                self._charged[host_id].add(memory, pending=True, sign=-1)
                self._seen.pop(host_id, None)

    def settle(self, vm_id: str) -> None:
        """Move the VM's charge into the base: its row now holds memory on the host."""
        with self.lock:
            charge = self._charges.get(vm_id)
            if charge is None:
                return
            self.release(vm_id)
            host_id, memory = charge
            if host_id in self._base:
                self._base[host_id].add(memory, pending=True)
                self._seen.pop(host_id, None)

    def charged_host(self, vm_id: str) -> str | None:
        with self.lock:
            charge = self._charges.get(vm_id)
            return charge[0] if charge is not None else None

    # --- what placement sees ----------------------------------------------------------------------

    def host_ids(self, cluster_id: str) -> list[str]:
        with self.lock:
            return list(self._clusters.get(cluster_id, ()))

    def candidates(
        self,
        host_ids: Iterable[str],
        usage: Mapping[str, HostUsage],
        *,
        without: str | None = None,
    ) -> list[HostCandidate]:
        """The hosts as placement sees them: base plus charges (``without`` a VM's own)."""
        with self.lock:
            own = self._charges.get(without) if without is not None else None
            found = []
            for host_id in host_ids:
                reported = usage.get(host_id, _NO_USAGE)
                seen = self._seen.get(host_id)
                if (
                    seen is not None
                    and (seen[0] is reported or seen[0] == reported)
                    and (own is None or own[0] != host_id)
                ):
                    found.append(seen[1])
                    continue
                candidate = self._candidate(host_id, reported, own)
                if candidate is None:
                    continue
                if own is None or own[0] != host_id:
                    self._seen[host_id] = (reported, candidate)
                found.append(candidate)
            return found

    def _candidate(
        self, host_id: str, reported: HostUsage, own: tuple[str, int] | None
    ) -> HostCandidate | None:
        facts = self._hosts.get(host_id)
        if facts is None:
            return None
        base = self._base[host_id]
        extra = self._charged.get(host_id) or HostLoad()
        committed = base.committed + extra.committed
        pending = base.pending + extra.pending
        vms = base.vms + extra.vms
        if own is not None and own[0] == host_id:
            committed, pending, vms = committed - own[1], pending - own[1], vms - 1
        return HostCandidate(
            id=host_id,
            name=facts.name,
            memory_total=facts.memory_total,
            cpu_threads=facts.cpu_threads,
            status=facts.status,
            committed_memory=committed,
            pending_memory=pending,
            running_vms=vms,
            memory_free=reported.memory_free,
            cpu_usage_pct=reported.cpu_usage_pct,
        )
