"""Virtual machines through ovirtsdk4, following add_vm.py, add_vm_nic.py, start/stop_vm.py,
search_vms.py, page_vms.py and follow_vm_links.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import (
    SIMULATED_HOSTS,
    VmFactory,
    unique_name,
    wait_for_status,
)

pytestmark = pytest.mark.contract

BLANK_ID = "00000000-0000-0000-0000-000000000000"
MANY = 100


def test_vm_added_from_blank_in_default_is_down(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()

    assert vm.status == types.VmStatus.DOWN
    assert vm.template.id == BLANK_ID
    default = system.clusters_service().list(search="name=Default")[0]
    assert vm.cluster.id == default.id
    assert vm.memory == 256 * 2**20


def test_vm_links_lead_to_its_cluster_template_and_attachments(
    connection: sdk.Connection, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()

    assert connection.follow_link(vm.cluster).name == "Default"
    assert connection.follow_link(vm.template).name == "Blank"
    assert connection.follow_link(vm.disk_attachments) == []
    assert connection.follow_link(vm.nics) == []


def _management_profile(system: sdk.services.SystemService, cluster_name: str) -> types.VnicProfile:
    """Find the ovirtmgmt profile of the VM's data center the way add_vm_nic.py does."""
    dcs = system.data_centers_service()
    dc = dcs.list(search=f"Clusters.name={cluster_name}")[0]
    networks = dcs.service(dc.id).networks_service().list()
    network = next(n for n in networks if n.name == "ovirtmgmt")
    return next(
        p
        for p in system.vnic_profiles_service().list()
        if p.name == "ovirtmgmt" and p.network.id == network.id
    )


def test_nic_added_with_the_management_profile_gets_a_mac(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()
    profile = _management_profile(system, "Default")
    nics = system.vms_service().vm_service(vm.id).nics_service()

    nic = nics.add(
        types.Nic(
            name="nic1",
            description="management",
            vnic_profile=types.VnicProfile(id=profile.id),
        )
    )

    assert nic.vnic_profile.id == profile.id
    assert nic.mac is not None and nic.mac.address
    assert [n.id for n in nics.list()] == [nic.id]


def test_vm_starts_on_a_fleet_host_and_stops(
    connection: sdk.Connection,
    system: sdk.services.SystemService,
    hosts_up: dict[str, types.Host],
    vm_factory: VmFactory,
) -> None:
    vm = vm_factory.add_down()
    nics = system.vms_service().vm_service(vm.id).nics_service()
    nics.add(
        types.Nic(
            name="nic1",
            vnic_profile=types.VnicProfile(id=_management_profile(system, "Default").id),
        )
    )
    vm_service = system.vms_service().vm_service(vm.id)

    vm_service.start()
    running = wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)
    assert connection.follow_link(running.host).name in SIMULATED_HOSTS

    vm_service.stop()
    stopped = wait_for_status(vm_service.get, types.VmStatus.DOWN, timeout=90)
    assert stopped.host is None


def _running_vm(system: sdk.services.SystemService, vm_factory: VmFactory) -> Any:
    """A new VM, started and seen ``up``; its service."""
    vm = vm_factory.add_down()
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.start()
    wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)
    return vm_service


def test_a_spice_console_is_added_beside_vnc_and_a_second_vnc_is_refused(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()
    consoles_service = system.vms_service().vm_service(vm.id).graphics_consoles_service()
    consoles_service.add(types.GraphicsConsole(protocol=types.GraphicsType.SPICE))

    protocols = [c.protocol for c in consoles_service.list()]
    assert protocols == [types.GraphicsType.VNC, types.GraphicsType.SPICE]
    with pytest.raises(sdk.Error) as raised:
        consoles_service.add(types.GraphicsConsole(protocol=types.GraphicsType.VNC))
    assert raised.value.code == 409


def test_kcli_replaces_a_new_vms_console_with_vnc(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    """kcli's oVirt provider, right after adding a VM with ``vnc``: it removes each console
    and adds a VNC one."""
    vm = vm_factory.add_down()
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.graphics_consoles_service().add(
        types.GraphicsConsole(protocol=types.GraphicsType.SPICE)
    )
    vm_service.graphics_consoles_service().console_service("766e63").remove()  # vnc

    vnc_console = types.GraphicsConsole(protocol=types.GraphicsType.VNC)
    graphics_console_service = vm_service.graphics_consoles_service()
    for gc in graphics_console_service.list():
        graphics_console_service.console_service(gc.id).remove()
        graphics_console_service.add(vnc_console)

    assert [c.protocol for c in graphics_console_service.list()] == [types.GraphicsType.VNC]
    assert vm_service.get().display.type == types.DisplayType.VNC


def test_a_headless_vm_has_no_console_and_refuses_a_ticket(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()
    vm_service = system.vms_service().vm_service(vm.id)
    consoles_service = vm_service.graphics_consoles_service()
    for console in consoles_service.list():
        consoles_service.console_service(console.id).remove()
    assert consoles_service.list() == []

    vm_service.start()
    wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)
    with pytest.raises(sdk.Error) as raised:
        vm_service.ticket()
    assert raised.value.code == 409


def test_both_consoles_of_a_running_vm_are_current_and_take_tickets(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm = vm_factory.add_down()
    vm_service = system.vms_service().vm_service(vm.id)
    consoles_service = vm_service.graphics_consoles_service()
    consoles_service.add(types.GraphicsConsole(protocol=types.GraphicsType.SPICE))
    vm_service.start()
    wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)

    current = consoles_service.list(current=True)
    assert {c.protocol for c in current} == {types.GraphicsType.VNC, types.GraphicsType.SPICE}
    tickets = {c.protocol: consoles_service.console_service(c.id).ticket() for c in current}
    assert len(tickets[types.GraphicsType.VNC].value) == 8
    assert len(tickets[types.GraphicsType.SPICE].value) == 12
    with pytest.raises(sdk.Error) as raised:
        consoles_service.console_service("766e63").remove()
    assert raised.value.code == 409  # displays change only while the VM is down


def test_a_running_vms_current_console_gets_a_ticket_as_get_display_ticket_does(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = _running_vm(system, vm_factory)
    consoles_service = vm_service.graphics_consoles_service()

    consoles = consoles_service.list(current=True)
    console = next(c for c in consoles if c.protocol == types.GraphicsType.VNC)
    ticket = consoles_service.console_service(console.id).ticket()

    assert ticket.value and len(ticket.value) == 8
    assert console.port is None  # simulated hosts' displays listen nowhere


def test_running_vm_cannot_be_removed_even_forced(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = _running_vm(system, vm_factory)

    for force in (None, True):
        with pytest.raises(sdk.Error) as raised:
            vm_service.remove(force=force)
        assert raised.value.code == 409
        assert "Cannot remove VM. VM is running." in str(raised.value)

    assert vm_service.get().status == types.VmStatus.UP


def test_a_vm_started_paused_is_paused_and_a_start_resumes_it(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = system.vms_service().vm_service(vm_factory.add_down().id)

    vm_service.start(pause=True)
    wait_for_status(vm_service.get, types.VmStatus.PAUSED, timeout=90)
    vm_service.start()
    wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)


def test_a_start_option_that_is_not_applied_is_refused_naming_it(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = system.vms_service().vm_service(vm_factory.add_down().id)

    with pytest.raises(sdk.Error) as raised:
        vm_service.start(use_sysprep=True)

    assert raised.value.code == 400
    assert "use_sysprep" in str(raised.value)
    assert vm_service.get().status == types.VmStatus.DOWN


def test_starting_a_running_vm_is_refused(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = _running_vm(system, vm_factory)

    with pytest.raises(sdk.Error) as raised:
        vm_service.start()

    assert raised.value.code == 409


def test_removed_vm_is_gone(system: sdk.services.SystemService, vm_factory: VmFactory) -> None:
    vm = vm_factory.add_down()
    vm_service = system.vms_service().vm_service(vm.id)

    vm_service.remove()

    with pytest.raises(sdk.NotFoundError):
        vm_service.get()


def test_vm_in_unknown_cluster_raises_not_found(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    missing = unique_name("no-such-cluster")

    with pytest.raises(sdk.NotFoundError) as raised:
        vm_factory.add(cluster=missing)

    assert missing in str(raised.value)


def test_duplicate_vm_name_is_a_conflict(vm_factory: VmFactory) -> None:
    vm = vm_factory.add_down()

    with pytest.raises(sdk.Error) as raised:
        vm_factory.add(name=vm.name)

    assert raised.value.code == 409
    assert vm.name in str(raised.value)


@pytest.fixture
def three_vms(vm_factory: VmFactory) -> tuple[str, list[types.Vm]]:
    prefix = f"pg{secrets.token_hex(3)}"
    return prefix, [vm_factory.add(name=f"{prefix}-{i}") for i in range(3)]


def test_search_by_name_pattern_with_max(
    system: sdk.services.SystemService, three_vms: tuple[str, list[types.Vm]]
) -> None:
    prefix, vms = three_vms

    found = system.vms_service().list(search=f"name={prefix}*", max=2)

    assert len(found) == 2
    assert {v.id for v in found} <= {v.id for v in vms}


def test_search_pages_split_the_matches(
    system: sdk.services.SystemService, three_vms: tuple[str, list[types.Vm]]
) -> None:
    prefix, vms = three_vms
    service = system.vms_service()

    first = service.list(search=f"name={prefix}* page 1", max=2)
    second = service.list(search=f"name={prefix}* page 2", max=2)
    third = service.list(search=f"name={prefix}* page 3", max=2)

    assert (len(first), len(second), third) == (2, 1, [])
    assert {v.id for v in first} | {v.id for v in second} == {v.id for v in vms}


def test_case_insensitive_vm_search(
    system: sdk.services.SystemService, three_vms: tuple[str, list[types.Vm]]
) -> None:
    prefix, vms = three_vms

    found = system.vms_service().list(search=f"name={prefix.upper()}-0", case_sensitive=False)

    assert [v.id for v in found] == [vms[0].id]


@pytest.fixture(scope="module")
def many_vms(connection: sdk.Connection) -> Iterator[tuple[str, set[str]]]:
    factory = VmFactory(connection.system_service())
    prefix = f"many{secrets.token_hex(3)}"
    try:
        ids = {factory.add(name=f"{prefix}-{i:03d}").id for i in range(MANY)}
        yield prefix, ids
    finally:
        factory.cleanup()


def test_hundred_vms_are_listed_page_by_page(
    system: sdk.services.SystemService, many_vms: tuple[str, set[str]]
) -> None:
    prefix, ids = many_vms
    service = system.vms_service()
    seen: list[str] = []
    index = 1
    while True:
        page = service.list(search=f"name={prefix}-* page {index}", max=30)
        if not page:
            break
        assert len(page) <= 30
        seen.extend(v.id for v in page)
        index += 1

    assert index == 5
    assert len(seen) == MANY
    assert set(seen) == ids


def test_hundred_vms_are_all_in_the_full_listing(
    system: sdk.services.SystemService, many_vms: tuple[str, set[str]]
) -> None:
    _prefix, ids = many_vms

    listed = {v.id for v in system.vms_service().list()}

    assert ids <= listed
    assert system.get().summary.vms.total >= MANY


def test_a_vm_added_with_tuning_and_peripherals_keeps_them_and_starts(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    vms_service = system.vms_service()
    vm = vms_service.add(
        types.Vm(
            name=unique_name("tuned"),
            cluster=types.Cluster(name="Default"),
            template=types.Template(name="Blank"),
            memory=512 * 2**20,
            memory_policy=types.MemoryPolicy(guaranteed=256 * 2**20, ballooning=False),
            cpu_shares=1024,
            soundcard_enabled=True,
            usb=types.Usb(enabled=True, type=types.UsbType.NATIVE),
            time_zone=types.TimeZone(name="Europe/Berlin"),
            custom_cpu_model="Westmere",
            io=types.Io(threads=2),
        )
    )
    vm_service = vms_service.vm_service(vm.id)
    try:
        kept = vm_service.get()
        assert (kept.memory_policy.guaranteed, kept.memory_policy.ballooning) == (
            256 * 2**20,
            False,
        )
        assert (kept.cpu_shares, kept.soundcard_enabled, kept.custom_cpu_model) == (
            1024,
            True,
            "Westmere",
        )
        assert (kept.usb.enabled, kept.time_zone.name, kept.io.threads) == (
            True,
            "Europe/Berlin",
            2,
        )
        vm_service.start()
        wait_for_status(vm_service.get, types.VmStatus.UP, timeout=90)
        vm_service.stop()
        wait_for_status(vm_service.get, types.VmStatus.DOWN, timeout=90)
    finally:
        vm_service.remove()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"custom_cpu_model": "NoSuchCpu"}, "custom_cpu_model"),
        ({"usb": types.Usb(enabled=True, type=types.UsbType.LEGACY)}, "usb.type"),
        ({"time_zone": types.TimeZone(name="Nowhere/Special")}, "time_zone.name"),
        ({"io": types.Io(threads=500)}, "io.threads"),
    ],
)
def test_a_vm_no_host_could_run_is_refused_naming_the_field(
    system: sdk.services.SystemService, fields: dict[str, Any], named: str
) -> None:
    name = unique_name("refused")
    with pytest.raises(sdk.Error) as raised:
        system.vms_service().add(
            types.Vm(
                name=name,
                cluster=types.Cluster(name="Default"),
                template=types.Template(name="Blank"),
                memory=256 * 2**20,
                **fields,
            )
        )
    assert raised.value.code == 400 and named in str(raised.value)
    assert system.vms_service().list(search=f"name={name}") == []


def test_a_nic_added_to_a_running_vm_is_hot_plugged_and_unplugged_on_removal(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = _running_vm(system, vm_factory)
    nics_service = vm_service.nics_service()
    profile = _management_profile(system, "Default")

    nic = nics_service.add(types.Nic(name="hot1", vnic_profile=types.VnicProfile(id=profile.id)))

    assert nic.plugged is True
    nic_service = nics_service.nic_service(nic.id)
    assert nic_service.update(types.Nic(plugged=False)).plugged is False
    assert nic_service.update(types.Nic(plugged=True)).plugged is True
    nic_service.remove()
    assert nics_service.list() == []
    assert vm_service.get().status == types.VmStatus.UP


def test_a_running_vms_memory_change_is_its_next_run_configuration(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host], vm_factory: VmFactory
) -> None:
    vm_service = _running_vm(system, vm_factory)

    vm_service.update(types.Vm(memory=512 * 2**20), next_run=True)

    now = vm_service.get()
    assert (now.memory, now.next_run_configuration_exists) == (256 * 2**20, True)
    assert vm_service.get(next_run=True).memory == 512 * 2**20
    vm_service.stop()
    down = wait_for_status(vm_service.get, types.VmStatus.DOWN, timeout=90)
    assert (down.memory, down.next_run_configuration_exists) == (512 * 2**20, False)
