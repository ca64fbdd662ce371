"""The ledger of committed load: charges count at once, settle or release exactly once, and a
burst of placements never fills a host past its ceiling."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from support.schedulerkit import GiB, policy_strategy
from virtfleet.engine.scheduler.ledger import HostFacts, HostLoad, Ledger
from virtfleet.engine.scheduler.model import PlacementContext, VmRequest
from virtfleet.engine.scheduler.policies import POLICIES, Policy
from virtfleet.engine.scheduler.selection import select_host


def _ledger(memories: list[int], committed: int = 0) -> Ledger:
    ledger = Ledger()
    hosts = [
        HostFacts(f"h{i}", f"host{i:03}", "c", "up", memory * GiB, 8)
        for i, memory in enumerate(memories)
    ]
    loads = {h.id: HostLoad(committed=committed * GiB, vms=1 if committed else 0) for h in hosts}
    ledger.replace_all(hosts, loads)
    return ledger


def _place(ledger: Ledger, vm: VmRequest, context: PlacementContext, policy: Policy) -> str | None:
    """What the scheduler does under the ledger's lock: choose from base plus charges, charge."""
    with ledger.lock:
        candidates = ledger.candidates(ledger.host_ids("c"), {}, without=vm.id)
        chosen = select_host(candidates, vm, context, policy).host
        if chosen is not None:
            ledger.charge(vm.id, chosen.id, vm.memory)
        return chosen.id if chosen else None


def _committed(ledger: Ledger) -> dict[str, int]:
    return {c.id: c.committed_memory for c in ledger.candidates(ledger.host_ids("c"), {})}


@given(
    st.lists(st.integers(1, 32), min_size=1, max_size=6),
    st.lists(st.integers(1, 8), min_size=1, max_size=60),
    st.sampled_from([100, 150, 200]),
    policy_strategy,
)
def test_a_burst_of_placements_respects_every_hosts_capacity(
    memories: list[int], vm_sizes: list[int], percent: int, policy: Policy
) -> None:
    ledger = _ledger(memories)
    context = PlacementContext(over_commit_percent=percent)
    if policy.name == "cluster_maintenance":
        policy = POLICIES[0]  # it starts no plain VM at all
    for index, size in enumerate(vm_sizes):
        vm = VmRequest(id=f"vm{index}", name=f"vm{index}", memory=size * GiB // 2, vcpus=1)
        _place(
            ledger, vm, context, policy if not policy.name.startswith("cluster") else POLICIES[0]
        )
    for host_index, memory in enumerate(memories):
        assert _committed(ledger)[f"h{host_index}"] <= memory * GiB * percent // 100


@given(st.lists(st.sampled_from(["settle", "release", "charge"]), max_size=20))
def test_charges_settle_or_release_once_whatever_the_order(events: list[str]) -> None:
    ledger = _ledger([16])
    charged = settled = False
    for event in events:
        if event == "charge" and not settled:
            ledger.charge("vm", "h0", GiB)
            charged = True
        elif event == "settle":
            settled = settled or charged
            ledger.settle("vm")
            charged = False
        elif event == "release":
            ledger.release("vm")
            charged = False
    expected = GiB if (charged or settled) else 0
    assert _committed(ledger)["h0"] == expected


def test_a_vms_own_charge_is_left_out_when_it_is_re_validated() -> None:
    ledger = _ledger([16])
    ledger.charge("vm", "h0", 4 * GiB)
    [mine] = ledger.candidates(["h0"], {}, without="vm")
    [theirs] = ledger.candidates(["h0"], {})
    assert (mine.committed_memory, theirs.committed_memory) == (0, 4 * GiB)


def test_concurrent_placements_never_overfill_a_host() -> None:
    ledger = _ledger([16, 16])
    context, policy = PlacementContext(), POLICIES[0]
    placed: list[str | None] = []

    def burst(first: int) -> None:
        for index in range(first, first + 20):
            vm = VmRequest(id=f"vm{index}", name=f"vm{index}", memory=GiB, vcpus=1)
            placed.append(_place(ledger, vm, context, policy))

    threads = [threading.Thread(target=burst, args=(n * 20,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(_committed(ledger).values()) == [16 * GiB, 16 * GiB]
    assert placed.count(None) == 80 - 32


def test_a_full_read_keeps_pending_charges_on_top() -> None:
    ledger = _ledger([16])
    ledger.charge("vm", "h0", 2 * GiB)
    hosts = [HostFacts("h0", "host000", "c", "up", 16 * GiB, 8)]
    ledger.replace_all(hosts, {"h0": HostLoad(committed=3 * GiB, vms=1)})
    assert _committed(ledger)["h0"] == 5 * GiB
