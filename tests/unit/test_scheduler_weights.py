"""Each weight ranks hosts only; scores are normalised so factors decide what dominates."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from support.schedulerkit import VM, GiB, host
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.weights.base import Weight, normalise, total_weights
from virtfleet.engine.scheduler.weights.cpu_even import EvenCpuWeight
from virtfleet.engine.scheduler.weights.cpu_power_saving import PowerSavingCpuWeight
from virtfleet.engine.scheduler.weights.guest_even import EvenGuestWeight
from virtfleet.engine.scheduler.weights.memory_even import EvenMemoryWeight
from virtfleet.engine.scheduler.weights.memory_power_saving import PowerSavingMemoryWeight
from virtfleet.engine.scheduler.weights.preferred_hosts import PreferredHostsWeight

CONTEXT = PlacementContext(properties={"HighUtilization": "80"})


def _score(weight: Weight, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> float:
    return weight.scores([host], vm, context)[0]


@given(st.lists(st.floats(-1e12, 1e12), max_size=10))
def test_normalised_weights_lie_between_zero_and_one(values: list[float]) -> None:
    assert all(0.0 <= v <= 1.0 for v in normalise(values))


def test_even_memory_prefers_the_host_with_most_memory_left() -> None:
    weight = EvenMemoryWeight()
    full, empty = host("full", committed_memory=12 * GiB), host("empty")
    assert _score(weight, empty, VM, CONTEXT) > _score(weight, full, VM, CONTEXT)


def test_even_memory_believes_the_host_when_it_reports_less_free() -> None:
    weight = EvenMemoryWeight()
    reported = host("r", memory_free=1 * GiB)
    assert _score(weight, reported, VM, CONTEXT) == float(1 * GiB)


def test_power_saving_memory_prefers_the_fullest_host() -> None:
    weight = PowerSavingMemoryWeight()
    full, empty = host("full", committed_memory=12 * GiB), host("empty")
    assert _score(weight, full, VM, CONTEXT) > _score(weight, empty, VM, CONTEXT)


def test_even_cpu_prefers_the_least_busy_host() -> None:
    weight = EvenCpuWeight()
    assert _score(weight, host("idle", cpu_usage_pct=5.0), VM, CONTEXT) > _score(
        weight, host("busy", cpu_usage_pct=70.0), VM, CONTEXT
    )


def test_power_saving_cpu_prefers_busy_hosts_below_high_utilization() -> None:
    weight = PowerSavingCpuWeight()
    busy, idle = host("busy", cpu_usage_pct=60.0), host("idle", cpu_usage_pct=5.0)
    over = host("over", cpu_usage_pct=90.0)
    assert _score(weight, busy, VM, CONTEXT) > _score(weight, idle, VM, CONTEXT)
    assert _score(weight, over, VM, CONTEXT) < _score(weight, idle, VM, CONTEXT)


def test_power_saving_cpu_reads_the_policys_high_utilization() -> None:
    weight = PowerSavingCpuWeight()
    strict = PlacementContext(properties={"HighUtilization": "50"})
    assert _score(weight, host("busy", cpu_usage_pct=60.0), VM, strict) == -1.0


def test_even_guest_prefers_the_host_with_fewer_vms() -> None:
    weight = EvenGuestWeight()
    assert _score(weight, host("idle", running_vms=1), VM, CONTEXT) > _score(
        weight, host("busy", running_vms=5), VM, CONTEXT
    )


def test_weights_that_cannot_tell_hosts_apart_are_not_run() -> None:
    assert PreferredHostsWeight().applies(VM, CONTEXT) is False
    assert EvenMemoryWeight().applies(VM, CONTEXT) is True


def test_preferred_hosts_scores_only_the_placement_policys_hosts() -> None:
    vm = VmRequest(id="vm", name="vm1", memory=GiB, vcpus=1, preferred=frozenset({"b"}))
    weight = PreferredHostsWeight()
    assert _score(weight, host("b"), vm, CONTEXT) == 1.0
    assert _score(weight, host("a"), vm, CONTEXT) == 0.0


def test_scores_a_hair_apart_combine_to_finite_totals() -> None:
    hosts = [host("a", cpu_usage_pct=0.0), host("b", cpu_usage_pct=2.2e-311)]
    totals = total_weights(hosts, VM, CONTEXT, [(EvenCpuWeight(), 2)])
    assert totals == [2.0, 0.0]
