"""The scheduler's pipeline: filters are hard limits, weights only rank the hosts that pass."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virtfleet.engine.scheduler import (
    POLICIES,
    CpuFilter,
    HostCandidate,
    MemoryFilter,
    PlacementContext,
    VmRequest,
    select_host,
)
from virtfleet.engine.scheduler.weights import normalise

GiB = 1024**3

hosts_strategy = st.lists(
    st.builds(
        HostCandidate,
        id=st.uuids().map(str),
        name=st.text("abcdefgh", min_size=1, max_size=6),
        memory_total=st.integers(0, 64).map(lambda n: n * GiB),
        cpu_threads=st.integers(0, 16),
        committed_memory=st.integers(0, 80).map(lambda n: n * GiB),
        pending_memory=st.integers(0, 8).map(lambda n: n * GiB),
        running_vms=st.integers(0, 30),
        memory_free=st.one_of(st.none(), st.integers(0, 64).map(lambda n: n * GiB)),
    ),
    max_size=8,
    unique_by=lambda h: h.name,
)
vm_strategy = st.builds(
    VmRequest,
    id=st.just("vm"),
    name=st.just("vm1"),
    memory=st.integers(1, 32).map(lambda n: n * GiB // 2),
    vcpus=st.integers(1, 24),
)
context_strategy = st.builds(PlacementContext, over_commit_percent=st.sampled_from([100, 150, 200]))
policy_strategy = st.sampled_from(sorted(POLICIES))


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_the_chosen_host_passes_every_filter(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy_name: str
) -> None:
    policy = POLICIES[policy_name]
    chosen = select_host(hosts, vm, context, policy).host
    if chosen is not None:
        assert all(f.passes(chosen, vm, context) is True for f in policy.filters)


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_no_host_is_chosen_exactly_when_none_passes(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy_name: str
) -> None:
    policy = POLICIES[policy_name]
    placement = select_host(hosts, vm, context, policy)
    anyone = any(all(f.passes(h, vm, context) is True for f in policy.filters) for h in hosts)
    assert (placement.host is not None) == anyone
    if placement.host is None:
        assert set(placement.refused) == {h.name for h in hosts}


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_memory_is_never_committed_beyond_the_over_commit_percent(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy_name: str
) -> None:
    chosen = select_host(hosts, vm, context, POLICIES[policy_name]).host
    if chosen is not None:
        ceiling = chosen.memory_total * context.over_commit_percent // 100
        assert chosen.committed_memory + vm.memory <= ceiling


@given(st.lists(st.floats(-1e12, 1e12), max_size=10))
def test_normalised_weights_lie_between_zero_and_one(values: list[float]) -> None:
    assert all(0.0 <= v <= 1.0 for v in normalise(values))


def _host(name: str, **fields: int) -> HostCandidate:
    values = {"memory_total": 16 * GiB, "cpu_threads": 8} | fields
    return HostCandidate(id=name, name=name, **values)


VM = VmRequest(id="vm", name="vm1", memory=2 * GiB, vcpus=2)


def test_evenly_distributed_prefers_the_host_with_fewer_vms() -> None:
    busy, idle = _host("busy", running_vms=5), _host("idle", running_vms=1)
    placement = select_host([busy, idle], VM, PlacementContext(), POLICIES["evenly_distributed"])
    assert placement.host == idle


def test_none_policy_prefers_the_host_with_most_memory_left() -> None:
    full, empty = _host("full", committed_memory=12 * GiB), _host("empty")
    assert select_host([full, empty], VM, PlacementContext(), POLICIES["none"]).host == empty


def test_pending_launches_count_against_the_reported_free_memory() -> None:
    host = _host("h", memory_free=3 * GiB, pending_memory=2 * GiB)
    verdict = MemoryFilter().passes(host, VM, PlacementContext())
    assert isinstance(verdict, str) and "free memory" in verdict


def test_a_vm_wider_than_the_host_is_refused_with_a_reason() -> None:
    verdict = CpuFilter().passes(_host("small", cpu_threads=1), VM, PlacementContext())
    assert verdict == "host small has 1 CPUs, the VM needs 2"
