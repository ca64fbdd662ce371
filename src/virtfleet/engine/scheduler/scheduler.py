"""The one entry point of placement: ``place`` decides, charges the host, and says why not.

The API's check before a start and the start command share one decision: the check places
the VM (charging the chosen host at once, so a burst of starts spreads instead of piling on
the host that looked best to all of them) and the command is submitted with that host; its
step only re-validates the host cheaply (``confirm``) and places again only if it must.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.common.errors import Conflict
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.scheduler.ledger import HostLoad, HostUsage, Ledger
from virtfleet.engine.scheduler.loading import (
    load_hosts,
    load_loads,
    over_commit_percent,
    vm_request,
)
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Purpose, VmRequest
from virtfleet.engine.scheduler.policies import Policy, policy_for
from virtfleet.engine.scheduler.selection import refusal, select_host

log = logging.getLogger(__name__)

UsageLookup = Callable[[Connection, Sequence[str]], Mapping[str, HostUsage]]
"""What each of the given hosts last reported (hosts that have not are left out)."""

# How old the in-memory base may get before a decision reads everything again.
REFRESH_S = 5.0


@dataclass(frozen=True)
class Decision:
    host_id: str
    host_name: str
    policy: str


def _no_usage(conn: Connection, host_ids: Sequence[str]) -> Mapping[str, HostUsage]:
    return {}


class Scheduler:
    """Owns the ledger of committed load; every method is thread-safe and blocking."""

    def __init__(
        self,
        usage: UsageLookup = _no_usage,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.ledger = Ledger()
        self._usage = usage
        self._monotonic = monotonic
        self._refresh_s = refresh_s
        self._read_at: float | None = None

    # --- the database -----------------------------------------------------------------------------

    def rebuild(self, conn: Connection) -> None:
        """Read every host and what its VMs hold (at engine start, and when the base is old)."""
        with self.ledger.lock:
            charged = self.ledger.charged_vms()
            self.ledger.replace_all(load_hosts(conn), load_loads(conn, charged))
            self._read_at = self._monotonic()

    def _fresh(self, conn: Connection, host_id: str) -> None:
        """Re-read one host: O(its VMs), for the host a decision is about to charge."""
        with self.ledger.lock:
            facts = load_hosts(conn, host_id)
            load = load_loads(conn, self.ledger.charged_vms(), host_id).get(host_id)
            self.ledger.replace_host(host_id, facts[0] if facts else None, load or HostLoad())

    def _rebuild_if_old(self, conn: Connection) -> None:
        if self._read_at is None or self._monotonic() - self._read_at > self._refresh_s:
            self.rebuild(conn)

    # --- decisions --------------------------------------------------------------------------------

    def place(
        self,
        conn: Connection,
        vm: m.Vm,
        purpose: Purpose = Purpose.START,
        *,
        exclude: Sequence[str] = (),
        host: str | None = None,
    ) -> Decision:
        """Choose a host of the VM's cluster (only ``host`` when given) and charge it.

        Conflict naming each host's reason when none can take the VM; nothing is charged then.
        """
        assert vm.id is not None and vm.cluster is not None and vm.cluster.id is not None
        cluster = repos.clusters.get(conn, vm.cluster.id)
        policy, context = _rules(cluster)
        request = vm_request(vm, purpose, exclude)
        with self.ledger.lock:
            self._rebuild_if_old(conn)
            if host is not None:
                return self._place_on(conn, vm, host, cluster, policy, context, request)
            reread = False
            for _ in range(2):
                ids = self.ledger.host_ids(vm.cluster.id)
                candidates = self.ledger.candidates(ids, self._usage(conn, ids), without=vm.id)
                placement = select_host(candidates, request, context, policy)
                if placement.host is None:
                    if not reread:
                        # the base errs high and misses new hosts: read it all before refusing
                        self.rebuild(conn)
                        reread = True
                        continue
                    raise _refused(cluster, vm, candidates, placement.refused)
                # the ledger never counts less than the database holds, so the choice is safe
                # to charge as it is; the start command re-reads the host before it launches
                return self._charged(vm, placement.host, request.memory, policy)
            raise Conflict(f"Cannot run VM. The hosts of VM {vm.name} keep changing; try again.")

    def _place_on(
        self,
        conn: Connection,
        vm: m.Vm,
        host_id: str,
        cluster: m.Cluster,
        policy: Policy,
        context: PlacementContext,
        request: VmRequest,
    ) -> Decision:
        """oVirt's run-once "start on this host": that host or a Conflict saying why not."""
        self._fresh(conn, host_id)
        assert cluster.id is not None
        if host_id not in self.ledger.host_ids(cluster.id):
            raise Conflict(
                f"Cannot run VM. The host {host_id} is not in cluster '{cluster.name}' of VM "
                f"{vm.name}."
            )
        found = self.ledger.candidates([host_id], self._usage(conn, [host_id]), without=vm.id)
        why = refusal(found[0], request, context, policy)
        if why is not None:
            raise Conflict(f"Cannot run VM {vm.name} on host {found[0].name}: {why}")
        return self._charged(vm, found[0], request.memory, policy)

    def _charged(self, vm: m.Vm, host: HostCandidate, memory: int, policy: Policy) -> Decision:
        assert vm.id is not None
        self.ledger.charge(vm.id, host.id, memory)
        log.debug("placed vm=%s host=%s policy=%s", vm.name, host.name, policy.name)
        return Decision(host.id, host.name, policy.name)

    def confirm(
        self,
        conn: Connection,
        vm: m.Vm,
        host_id: str,
        purpose: Purpose = Purpose.START,
    ) -> str | None:
        """Re-validate a decision taken earlier (the start command's step): None and the host
        charged when it still fits, else the reason it does not (its charge dropped)."""
        assert vm.id is not None and vm.cluster is not None and vm.cluster.id is not None
        cluster = repos.clusters.get(conn, vm.cluster.id)
        policy, context = _rules(cluster)
        memory = vm.memory or 0
        with self.ledger.lock:
            self._fresh(conn, host_id)
            why = self._why_not(conn, vm, host_id, policy, context, purpose, ())
            if why is None:
                self.ledger.charge(vm.id, host_id, memory)
            else:
                self.ledger.release(vm.id)
            return why

    def settle(self, vm_id: str) -> None:
        """The VM's row now holds memory on its host: its charge becomes part of the base."""
        self.ledger.settle(vm_id)

    def release(self, vm_id: str) -> None:
        """The start did not happen: the chosen host no longer counts the VM."""
        self.ledger.release(vm_id)

    # --- helpers ----------------------------------------------------------------------------------

    def _why_not(
        self,
        conn: Connection,
        vm: m.Vm,
        host_id: str,
        policy: Policy,
        context: PlacementContext,
        purpose: Purpose,
        exclude: Sequence[str],
    ) -> str | None:
        found = self.ledger.candidates([host_id], self._usage(conn, [host_id]), without=vm.id)
        if not found:
            return f"the host {host_id} does not exist"
        return refusal(found[0], vm_request(vm, purpose, exclude), context, policy)


def _rules(cluster: m.Cluster) -> tuple[Policy, PlacementContext]:
    named = cluster.scheduling_policy
    policy = policy_for((named.id or named.name) if named is not None else None)
    context = PlacementContext(
        over_commit_percent=over_commit_percent(cluster), properties=dict(policy.properties)
    )
    return policy, context


def _refused(
    cluster: m.Cluster, vm: m.Vm, candidates: Sequence[HostCandidate], refused: Mapping[str, str]
) -> Conflict:
    if not any(c.status == HostStatus.UP for c in candidates):
        return Conflict(
            f"Cannot run VM. There is no host in status up in cluster '{cluster.name}'."
        )
    reasons = "; ".join(f"{name}: {why}" for name, why in sorted(refused.items()))
    return Conflict(f"Cannot run VM. No host can take VM {vm.name}: {reasons}")
