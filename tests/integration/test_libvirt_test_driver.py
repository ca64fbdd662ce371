"""The libvirt driver against libvirt's test driver: simulated hosts, real libvirt code paths."""

from __future__ import annotations

import queue
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from virtfleet.agent.hypervisor.factory import open_driver
from virtfleet.agent.hypervisor.libvirt import LibvirtDriver
from virtfleet.agent.hypervisor.testdriver import SimulatedNode, write_node_file
from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.common.protocol import (
    PROTOCOL_VERSION,
    DiskSpec,
    Hypervisor,
    NicSpec,
    VmRunState,
    VmSpec,
    VmState,
)

GIB = 1024**3
EVENT_WAIT_S = 5.0


def _driver(path: Path, node: SimulatedNode | None = None) -> Iterator[LibvirtDriver]:
    driver = LibvirtDriver(write_node_file(path, node), host_uuid=str(uuid.uuid4()))
    driver.open()
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[LibvirtDriver]:
    yield from _driver(tmp_path / "host1.xml")


@pytest.fixture
def other_host(tmp_path: Path) -> Iterator[LibvirtDriver]:
    yield from _driver(tmp_path / "host2.xml")


def _spec(name: str = "vm1", memory: int = GIB) -> VmSpec:
    return VmSpec(
        id=str(uuid.uuid4()),
        name=name,
        memory_bytes=memory,
        cpu_sockets=1,
        cpu_cores=2,
        disks=[DiskSpec(path="/nowhere/disk.qcow2", bootable=True)],
        nics=[NicSpec(mac="56:6f:00:00:00:01", network="ovirtmgmt")],
    )


def _events(driver: LibvirtDriver) -> queue.Queue[VmState]:
    received: queue.Queue[VmState] = queue.Queue()
    driver.subscribe(received.put)
    return received


def _next_event(events: queue.Queue[VmState], vm_id: str) -> VmState:
    while True:
        event = events.get(timeout=EVENT_WAIT_S)
        if event.vm_id == vm_id:
            return event


def _states(driver: LibvirtDriver) -> dict[str, VmRunState]:
    return {vm.vm_id: vm.state for vm in driver.list_vms()}


def test_created_vm_runs_and_is_listed(host: LibvirtDriver) -> None:
    spec = _spec()
    state = host.create_vm(spec)
    assert state == VmState(vm_id=spec.id, state=VmRunState.RUNNING)
    assert _states(host) == {spec.id: VmRunState.RUNNING}


def test_hosts_on_two_node_files_do_not_share_vms(
    host: LibvirtDriver, other_host: LibvirtDriver
) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert other_host.list_vms() == []
    other_host.create_vm(spec)
    host.destroy_vm(spec.id)
    assert _states(other_host) == {spec.id: VmRunState.RUNNING}


def test_two_connections_to_one_node_file_are_independent_hosts(tmp_path: Path) -> None:
    uri = write_node_file(tmp_path / "node.xml")
    first, second = LibvirtDriver(uri, host_uuid="a"), LibvirtDriver(uri, host_uuid="b")
    first.open()
    second.open()
    try:
        first.create_vm(_spec())
        assert second.list_vms() == []
    finally:
        first.close()
        second.close()


def test_creating_a_running_vm_again_conflicts(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    with pytest.raises(Conflict):
        host.create_vm(spec)


def test_another_vm_with_the_same_name_conflicts(host: LibvirtDriver) -> None:
    host.create_vm(_spec(name="web"))
    with pytest.raises(Conflict):
        host.create_vm(_spec(name="web"))


def test_vm_id_that_is_not_a_uuid_is_invalid(host: LibvirtDriver) -> None:
    with pytest.raises(InvalidInput):
        host.create_vm(_spec().model_copy(update={"id": "not-a-uuid"}))


def test_destroyed_vm_is_down_and_forgotten(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert host.destroy_vm(spec.id).state == VmRunState.DOWN
    assert host.list_vms() == []


def test_destroyed_vm_can_start_again(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    host.destroy_vm(spec.id)
    assert host.create_vm(spec).state == VmRunState.RUNNING


def test_pause_and_resume_change_the_run_state(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert host.pause_vm(spec.id).state == VmRunState.PAUSED
    assert _states(host)[spec.id] == VmRunState.PAUSED
    assert host.resume_vm(spec.id).state == VmRunState.RUNNING


def test_pausing_a_paused_vm_conflicts(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    host.pause_vm(spec.id)
    with pytest.raises(Conflict):
        host.pause_vm(spec.id)


def test_resuming_a_running_vm_conflicts(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    with pytest.raises(Conflict):
        host.resume_vm(spec.id)


def test_shutdown_stops_the_vm_and_forgets_it(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert host.shutdown_vm(spec.id, timeout_s=5).state == VmRunState.DOWN
    assert host.list_vms() == []


def test_reboot_keeps_the_vm_running(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert host.reboot_vm(spec.id).state == VmRunState.RUNNING


def test_suspended_vm_is_listed_suspended_and_restored_by_create(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    assert host.suspend_vm(spec.id).state == VmRunState.SUSPENDED
    assert _states(host) == {spec.id: VmRunState.SUSPENDED}
    assert host.create_vm(spec).state == VmRunState.RUNNING


def test_destroying_a_suspended_vm_discards_its_saved_state(host: LibvirtDriver) -> None:
    spec = _spec()
    host.create_vm(spec)
    host.suspend_vm(spec.id)
    assert host.destroy_vm(spec.id).state == VmRunState.DOWN
    assert host.list_vms() == []


@pytest.mark.parametrize(
    "operation",
    ["destroy_vm", "reboot_vm", "pause_vm", "resume_vm", "suspend_vm"],
)
def test_operations_on_an_unknown_vm_raise_not_found(host: LibvirtDriver, operation: str) -> None:
    with pytest.raises(NotFound):
        getattr(host, operation)(str(uuid.uuid4()))


def test_shutdown_of_an_unknown_vm_raises_not_found(host: LibvirtDriver) -> None:
    with pytest.raises(NotFound):
        host.shutdown_vm("no-such-vm", timeout_s=1)


def test_lifecycle_events_arrive_for_start_pause_resume_and_stop(host: LibvirtDriver) -> None:
    events = _events(host)
    spec = _spec()
    host.create_vm(spec)
    assert _next_event(events, spec.id).state == VmRunState.RUNNING
    host.pause_vm(spec.id)
    assert _next_event(events, spec.id).state == VmRunState.PAUSED
    host.resume_vm(spec.id)
    assert _next_event(events, spec.id).state == VmRunState.RUNNING
    host.destroy_vm(spec.id)
    assert _next_event(events, spec.id) == VmState(
        vm_id=spec.id, state=VmRunState.DOWN, reason="destroyed"
    )


def test_suspend_is_reported_as_suspended_event(host: LibvirtDriver) -> None:
    events = _events(host)
    spec = _spec()
    host.create_vm(spec)
    _next_event(events, spec.id)
    host.suspend_vm(spec.id)
    assert _next_event(events, spec.id).state == VmRunState.SUSPENDED


def test_events_of_one_host_do_not_reach_another(
    host: LibvirtDriver, other_host: LibvirtDriver
) -> None:
    mine, theirs = _events(host), _events(other_host)
    spec = _spec()
    host.create_vm(spec)
    assert _next_event(mine, spec.id).state == VmRunState.RUNNING
    with pytest.raises(queue.Empty):
        theirs.get(timeout=0.5)


def test_a_failing_subscriber_does_not_stop_the_others(host: LibvirtDriver) -> None:
    def broken(_state: VmState) -> None:
        raise RuntimeError("subscriber bug")

    host.subscribe(broken)
    events = _events(host)
    spec = _spec()
    host.create_vm(spec)
    assert _next_event(events, spec.id).state == VmRunState.RUNNING


def test_capabilities_describe_the_simulated_node(tmp_path: Path) -> None:
    node = SimulatedNode(sockets=2, cores=6, threads=2, memory_bytes=32 * GIB)
    host_uuid = str(uuid.uuid4())
    driver = LibvirtDriver(write_node_file(tmp_path / "n.xml", node), host_uuid=host_uuid)
    driver.open()
    try:
        caps = driver.capabilities()
    finally:
        driver.close()
    assert caps.host_uuid == host_uuid
    assert caps.hypervisor == Hypervisor.TEST
    assert caps.protocol_version == PROTOCOL_VERSION
    assert (caps.cpu_sockets, caps.cpu_cores, caps.cpu_threads) == (2, 6, 2)
    assert caps.memory_bytes == 32 * GIB
    assert caps.driver_uri.startswith("test:///")
    assert caps.libvirt_version.count(".") == 2


def test_host_stats_count_vms_and_charge_their_memory(host: LibvirtDriver) -> None:
    before = host.host_stats()
    running, stopped = _spec("a", memory=2 * GIB), _spec("b", memory=GIB)
    host.create_vm(running)
    host.create_vm(stopped)
    host.suspend_vm(stopped.id)
    after = host.host_stats()
    assert (before.vms_total, before.vms_running) == (0, 0)
    assert (after.vms_total, after.vms_running) == (2, 1)
    assert after.memory_total_bytes == 16 * GIB
    assert before.memory_free_bytes - after.memory_free_bytes == 2 * GIB
    cpu_total = after.cpu_user_pct + after.cpu_system_pct + after.cpu_idle_pct
    assert cpu_total == pytest.approx(100.0, abs=0.1)


def test_vm_stats_cover_running_vms_only(host: LibvirtDriver) -> None:
    running, paused_then_suspended = _spec("a", memory=2 * GIB), _spec("b")
    host.create_vm(running)
    host.create_vm(paused_then_suspended)
    host.suspend_vm(paused_then_suspended.id)
    host.vm_stats()
    stats = host.vm_stats()
    assert [s.vm_id for s in stats] == [running.id]
    assert stats[0].memory_used_bytes == 2 * GIB
    assert 0.0 <= stats[0].cpu_pct <= 100.0


def test_factory_gives_each_simulated_host_its_own_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = open_driver("test:///default", host_uuid=str(uuid.uuid4()))
    second = open_driver("test:///default", host_uuid=str(uuid.uuid4()))
    first.open()
    second.open()
    try:
        first.create_vm(_spec())
        assert second.list_vms() == []
        assert first.capabilities().host_uuid != second.capabilities().host_uuid
    finally:
        first.close()
        second.close()
    assert len(list((tmp_path / "virtfleet-testdriver").glob("*.xml"))) == 2


def test_factory_uses_a_full_test_uri_as_given(tmp_path: Path) -> None:
    uri = write_node_file(tmp_path / "given.xml", SimulatedNode(cores=3))
    driver = open_driver(uri, host_uuid=str(uuid.uuid4()))
    driver.open()
    try:
        assert driver.capabilities().cpu_cores == 3
    finally:
        driver.close()


def test_factory_opens_other_uris_as_qemu_until_kvm_is_probed() -> None:
    driver = open_driver("qemu:///system", host_uuid=str(uuid.uuid4()))
    assert isinstance(driver, LibvirtDriver)
    assert (driver.uri, driver.domain_type) == ("qemu:///system", "qemu")


def test_vms_created_from_many_threads_all_run(host: LibvirtDriver) -> None:
    specs = [_spec(name=f"vm{i}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        states = list(pool.map(host.create_vm, specs))
    assert {s.state for s in states} == {VmRunState.RUNNING}
    assert _states(host) == {spec.id: VmRunState.RUNNING for spec in specs}


def test_concurrent_creates_of_one_vm_start_it_once(host: LibvirtDriver) -> None:
    spec = _spec()

    def create(_: int) -> str:
        try:
            return host.create_vm(spec).state.value
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(create, range(6)))
    assert outcomes == ["conflict"] * 5 + ["running"]
