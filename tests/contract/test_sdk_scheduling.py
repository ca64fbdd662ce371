"""Scheduling through ovirtsdk4: the built-in policies and their units, a VM pinned to a host
given by name, and run-once's "start on this host"."""

from __future__ import annotations

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import VmFactory, unique_name, wait_for_status

pytestmark = pytest.mark.contract

POLICY_NAMES = {
    "none",
    "evenly_distributed",
    "power_saving",
    "vm_evenly_distributed",
    "cluster_maintenance",
}


def test_the_sdk_lists_the_scheduling_policies_with_filters_weights_and_balances(
    system: sdk.services.SystemService,
) -> None:
    policies = system.scheduling_policies_service()
    listed = {p.name: p for p in policies.list()}
    assert set(listed) == POLICY_NAMES
    assert listed["none"].default_policy is True and listed["none"].locked is True
    properties = {p.name: p.value for p in listed["vm_evenly_distributed"].properties}
    assert properties["HighVmCount"] == "10" and properties["SpmVmGrace"] == "5"

    service = policies.policy_service(listed["evenly_distributed"].id)
    units = {u.id: u for u in system.scheduling_policy_units_service().list()}
    filters = service.filters_service().list()
    assert {units[f.scheduling_policy_unit.id].name for f in filters} >= {"CPU", "Memory"}
    weights = {
        units[w.scheduling_policy_unit.id].name: w.factor for w in service.weights_service().list()
    }
    assert weights["PreferredHosts"] == 99
    [balance] = service.balances_service().list()
    assert units[balance.scheduling_policy_unit.id].type == types.PolicyUnitType.LOAD_BALANCING


def test_a_vm_pinned_to_a_host_by_name_starts_there(
    system: sdk.services.SystemService,
    vm_factory: VmFactory,
    hosts_up: dict[str, types.Host],
) -> None:
    target = hosts_up["sim-0002"]
    vm = system.vms_service().add(
        types.Vm(
            name=unique_name("pinned"),
            cluster=types.Cluster(name="Default"),
            template=types.Template(name="Blank"),
            memory=256 * 2**20,
            placement_policy=types.VmPlacementPolicy(
                affinity=types.VmAffinity.PINNED, hosts=[types.Host(name="sim-0002")]
            ),
        )
    )
    vm_factory.created.append(vm.id)
    service = system.vms_service().vm_service(vm.id)
    stored = wait_for_status(service.get, types.VmStatus.DOWN)
    assert stored.placement_policy.affinity == types.VmAffinity.PINNED
    assert [h.id for h in stored.placement_policy.hosts] == [target.id]

    service.start()
    running = wait_for_status(service.get, types.VmStatus.UP, timeout=90)
    assert running.host.id == target.id


def test_a_start_on_a_named_host_runs_there_and_a_host_in_no_state_to_take_it_is_a_409(
    system: sdk.services.SystemService,
    vm_factory: VmFactory,
    hosts_up: dict[str, types.Host],
) -> None:
    vm = vm_factory.add_down()
    service = system.vms_service().vm_service(vm.id)
    too_big = vm_factory.add_down()
    big_service = system.vms_service().vm_service(too_big.id)
    huge = 4 * 2**40 - 2**20  # the ceiling goes up with it, as oVirt wants
    big_service.update(types.Vm(memory=huge, memory_policy=types.MemoryPolicy(max=huge)))
    with pytest.raises(sdk.Error, match="Memory: host sim-0001") as refused:
        big_service.start(vm=types.Vm(host=types.Host(name="sim-0001")))
    assert getattr(refused.value, "code", None) == 409
    assert big_service.get().status == types.VmStatus.DOWN

    service.start(vm=types.Vm(host=types.Host(name="sim-0001")))
    running = wait_for_status(service.get, types.VmStatus.UP, timeout=90)
    assert running.host.id == hosts_up["sim-0001"].id
