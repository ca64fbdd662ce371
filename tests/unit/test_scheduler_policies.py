"""oVirt's five policies: what they are made of, and properties every selection keeps."""

from __future__ import annotations

import pytest
from hypothesis import given

from support.schedulerkit import (
    VM,
    GiB,
    context_strategy,
    host,
    hosts_strategy,
    policy_strategy,
    vm_strategy,
)
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.policies import BY_NAME, POLICIES, Policy, policy_for
from virtfleet.engine.scheduler.selection import refusal, select_host


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_the_chosen_host_passes_every_filter(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy: Policy
) -> None:
    chosen = select_host(hosts, vm, context, policy).host
    if chosen is not None:
        assert refusal(chosen, vm, context, policy) is None
        assert chosen.status == "up"


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_no_host_is_chosen_exactly_when_none_passes(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy: Policy
) -> None:
    placement = select_host(hosts, vm, context, policy)
    anyone = any(refusal(h, vm, context, policy) is None for h in hosts)
    assert (placement.host is not None) == anyone
    if placement.host is None:
        assert set(placement.refused) == {h.name for h in hosts}


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_memory_is_never_committed_beyond_the_over_commit_percent(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy: Policy
) -> None:
    chosen = select_host(hosts, vm, context, policy).host
    if chosen is not None:
        ceiling = chosen.memory_total * context.over_commit_percent // 100
        assert chosen.committed_memory + vm.memory <= ceiling


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_a_preferred_host_that_passes_always_wins(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy: Policy
) -> None:
    passing = [h for h in hosts if refusal(h, vm, context, policy) is None]
    if not passing:
        return
    favourite = passing[-1]
    preferred = VmRequest(
        id=vm.id,
        name=vm.name,
        memory=vm.memory,
        vcpus=vm.vcpus,
        highly_available=vm.highly_available,
        preferred=frozenset({favourite.id}),
    )
    if refusal(favourite, preferred, context, policy) is None:
        assert select_host(hosts, preferred, context, policy).host == favourite


@given(hosts_strategy, vm_strategy, context_strategy, policy_strategy)
def test_the_order_hosts_are_listed_in_does_not_change_the_choice(
    hosts: list[HostCandidate], vm: VmRequest, context: PlacementContext, policy: Policy
) -> None:
    forward = select_host(hosts, vm, context, policy).host
    backward = select_host(list(reversed(hosts)), vm, context, policy).host
    assert forward == backward


def test_the_five_ovirt_policies_are_declared_with_their_ids() -> None:
    assert {p.name: p.id for p in POLICIES} == {
        "none": "b4ed2332-a7ac-4d5f-9596-99a439cb2812",
        "cluster_maintenance": "7677771e-5eab-422e-83fa-dc04080d21b7",
        "evenly_distributed": "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a",
        "power_saving": "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53",
        "vm_evenly_distributed": "8d5d7bec-68de-4a67-b53e-0ac54686d579",
    }
    assert [p.name for p in POLICIES if p.default] == ["none"]


def test_policies_carry_ovirts_property_defaults() -> None:
    assert BY_NAME["power_saving"].properties["LowUtilization"] == "20"
    assert BY_NAME["power_saving"].properties["HighUtilization"] == "80"
    assert BY_NAME["vm_evenly_distributed"].properties["HighVmCount"] == "10"
    assert BY_NAME["vm_evenly_distributed"].properties["SpmVmGrace"] == "5"
    assert BY_NAME["vm_evenly_distributed"].properties["MigrationThreshold"] == "5"
    assert BY_NAME["none"].properties["CpuOverCommitDurationMinutes"] == "2"


def test_a_policy_is_found_by_id_or_name_and_an_unknown_one_is_refused() -> None:
    assert policy_for("power_saving") is policy_for("5a2b0939-7d46-4b73-a469-e9c2c7fc6a53")
    assert policy_for(None).name == "none"
    with pytest.raises(InvalidInput, match="no scheduling policy 'fastest'"):
        policy_for("fastest")


def test_evenly_distributed_prefers_the_least_loaded_host() -> None:
    busy = host("busy", cpu_usage_pct=70.0, committed_memory=8 * GiB)
    idle = host("idle", cpu_usage_pct=5.0)
    chosen = select_host([busy, idle], VM, PlacementContext(), BY_NAME["evenly_distributed"])
    assert chosen.host == idle


def test_power_saving_fills_the_busier_host_first() -> None:
    busy = host("busy", cpu_usage_pct=50.0, committed_memory=8 * GiB)
    idle = host("idle", cpu_usage_pct=5.0)
    chosen = select_host([busy, idle], VM, PlacementContext(), BY_NAME["power_saving"])
    assert chosen.host == busy


def test_vm_evenly_distributed_prefers_the_host_with_fewer_vms() -> None:
    busy, idle = host("busy", running_vms=5), host("idle", running_vms=1)
    chosen = select_host([busy, idle], VM, PlacementContext(), BY_NAME["vm_evenly_distributed"])
    assert chosen.host == idle


def test_cluster_maintenance_refuses_every_host_to_a_plain_vm() -> None:
    placement = select_host([host("a")], VM, PlacementContext(), BY_NAME["cluster_maintenance"])
    assert placement.host is None
    assert placement.refused["a"].startswith("ClusterInMaintenance:")


def test_filter_positions_follow_ovirt_first_last_and_between() -> None:
    policy = BY_NAME["none"]
    positions = [policy.position(name) for name in policy.filter_names]
    assert positions[0] == -1 and positions[-1] == 1 and set(positions[1:-1]) <= {0}
