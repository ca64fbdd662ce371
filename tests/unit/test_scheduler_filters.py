"""Each filter is a hard limit with a reason a user can read."""

from __future__ import annotations

from support.schedulerkit import VM, GiB, host
from virtfleet.engine.scheduler.filters.cluster_maintenance import ClusterInMaintenanceFilter
from virtfleet.engine.scheduler.filters.cpu import CpuFilter
from virtfleet.engine.scheduler.filters.host_status import HostStatusFilter
from virtfleet.engine.scheduler.filters.memory import MemoryFilter
from virtfleet.engine.scheduler.filters.migration import MigrationFilter
from virtfleet.engine.scheduler.filters.pinning import PinToHostFilter
from virtfleet.engine.scheduler.model import PlacementContext, Purpose, VmRequest
from virtfleet.engine.scheduler.registry import FILTERS

CONTEXT = PlacementContext()


def test_memory_refuses_a_vm_over_the_over_commit_ceiling() -> None:
    full = host("h", committed_memory=15 * GiB)
    verdict = MemoryFilter().passes(full, VM, CONTEXT)
    assert verdict == f"host h has {1 * GiB} bytes of schedulable memory, the VM needs {2 * GiB}"


def test_memory_over_commit_raises_the_ceiling() -> None:
    full = host("h", committed_memory=15 * GiB)
    assert MemoryFilter().passes(full, VM, PlacementContext(over_commit_percent=150)) is True


def test_pending_launches_count_against_the_reported_free_memory() -> None:
    busy = host("h", memory_free=3 * GiB, pending_memory=2 * GiB)
    verdict = MemoryFilter().passes(busy, VM, CONTEXT)
    assert isinstance(verdict, str) and "free memory" in verdict


def test_cpu_refuses_a_vm_wider_than_the_host() -> None:
    verdict = CpuFilter().passes(host("small", cpu_threads=1), VM, CONTEXT)
    assert verdict == "host small has 1 CPUs, the VM needs 2"


def test_host_status_lets_only_up_hosts_through() -> None:
    assert HostStatusFilter().passes(host("h"), VM, CONTEXT) is True
    verdict = HostStatusFilter().passes(host("h", status="maintenance"), VM, CONTEXT)
    assert verdict == "host h is maintenance"


def test_pin_to_host_refuses_every_host_but_the_pinned_ones() -> None:
    pinned = VmRequest(id="vm", name="vm1", memory=GiB, vcpus=1, pinned_to=frozenset({"a"}))
    assert PinToHostFilter().passes(host("a"), pinned, CONTEXT) is True
    assert PinToHostFilter().passes(host("b"), pinned, CONTEXT) == (
        "the VM is pinned to other hosts than b"
    )


def test_pin_to_host_lets_an_unpinned_vm_go_anywhere() -> None:
    assert PinToHostFilter().passes(host("b"), VM, CONTEXT) is True
    assert PinToHostFilter().applies(VM, CONTEXT) is False


def test_migration_never_chooses_an_excluded_host() -> None:
    leaving = VmRequest(
        id="vm", name="vm1", memory=GiB, vcpus=1, purpose=Purpose.MIGRATE, exclude=frozenset("a")
    )
    assert MigrationFilter().passes(host("a"), leaving, CONTEXT) == (
        "host a is excluded for this migrate"
    )
    assert MigrationFilter().passes(host("b"), leaving, CONTEXT) is True


def test_cluster_maintenance_starts_only_highly_available_vms() -> None:
    ha = VmRequest(id="vm", name="vm1", memory=GiB, vcpus=1, highly_available=True)
    check = ClusterInMaintenanceFilter()
    assert check.passes(host("a"), VM, CONTEXT) == (
        "the cluster is in maintenance: only highly available VMs may start"
    )
    assert check.passes(host("a"), ha, CONTEXT) is True


def test_cluster_maintenance_still_lets_vms_migrate() -> None:
    leaving = VmRequest(id="vm", name="vm1", memory=GiB, vcpus=1, purpose=Purpose.MIGRATE)
    assert ClusterInMaintenanceFilter().passes(host("a"), leaving, CONTEXT) is True


def test_filters_are_registered_under_ovirt_names_and_ids() -> None:
    assert FILTERS["Memory"].unit.id == "c9ddbb34-0e1d-4061-a8d7-b0893fa80932"
    assert FILTERS["CPU"].unit.id == "6d636bf6-a35c-4f9d-b68d-0731f720cddc"
    assert FILTERS["PinToHost"].unit.id == "12262ab6-9690-4bc3-a2b3-35573b172d54"
    assert set(FILTERS) == {"CPU", "Memory", "Migration", "PinToHost", "ClusterInMaintenance"}
