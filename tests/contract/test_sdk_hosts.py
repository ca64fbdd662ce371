"""Hosts through ovirtsdk4: listing, statistics, maintenance and a failed installation."""

from __future__ import annotations

import contextlib
from pathlib import Path

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import SIMULATED_HOSTS, LiveEngine, unique_name, wait_for_status, wait_until

pytestmark = pytest.mark.contract

# the host the maintenance test moves around; the VM tests leave it without running VMs
MAINTENANCE_HOST = "sim-0002"
STATS_WAIT_S = 40.0


def test_every_host_of_the_fleet_is_listed_up(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    up = system.hosts_service().list(search="status=up")

    assert set(SIMULATED_HOSTS) <= {h.name for h in up}
    assert all(h.status == types.HostStatus.UP for h in up)


def test_host_search_by_name_finds_one_host(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    found = system.hosts_service().list(search="name=sim-0001")

    assert [h.id for h in found] == [hosts_up["sim-0001"].id]


def test_host_belongs_to_the_default_cluster(
    connection: sdk.Connection, hosts_up: dict[str, types.Host]
) -> None:
    cluster = connection.follow_link(hosts_up["local"].cluster)

    assert cluster.name == "Default"


def test_host_statistics_have_values_through_follow_link(
    connection: sdk.Connection, system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    host = system.hosts_service().list(search="name=local")[0]

    # the agent reports statistics every 15 s; a host that has just come up may have none yet
    stats = wait_until(
        lambda: connection.follow_link(host.statistics) or None, STATS_WAIT_S, "host statistics"
    )

    by_name = {s.name: s for s in stats}
    assert all(s.values and s.values[0].datum is not None for s in stats)
    assert "memory.total" in by_name
    assert by_name["memory.total"].values[0].datum > 0


def test_deactivate_puts_host_in_maintenance_and_activate_brings_it_up(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    host_service = system.hosts_service().host_service(hosts_up[MAINTENANCE_HOST].id)

    host_service.deactivate()
    wait_for_status(host_service.get, types.HostStatus.MAINTENANCE, timeout=60)
    host_service.activate()
    wait_for_status(host_service.get, types.HostStatus.UP, timeout=90)


def test_deactivating_a_host_in_maintenance_is_refused(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    host_service = system.hosts_service().host_service(hosts_up[MAINTENANCE_HOST].id)
    host_service.deactivate()
    try:
        wait_for_status(host_service.get, types.HostStatus.MAINTENANCE, timeout=60)
        with pytest.raises(sdk.Error) as raised:
            host_service.deactivate()
        assert raised.value.code == 409
    finally:
        host_service.activate()
        wait_for_status(host_service.get, types.HostStatus.UP, timeout=90)


def test_host_added_with_a_wrong_password_ends_install_failed(
    engine: LiveEngine, system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    hosts = system.hosts_service()
    host = hosts.add(
        types.Host(
            name=unique_name("badpass"),
            description="enrollment with a wrong secret",
            address="127.0.0.1",
            port=engine.agent_ports[-1],
            root_password="not-the-enrollment-secret",
            cluster=types.Cluster(name="Default"),
        )
    )
    host_service = hosts.host_service(host.id)
    try:
        assert host.status in (types.HostStatus.INSTALLING, types.HostStatus.INSTALL_FAILED)
        wait_for_status(host_service.get, types.HostStatus.INSTALL_FAILED, timeout=90)
    finally:
        with contextlib.suppress(sdk.NotFoundError):
            host_service.remove()


def test_duplicate_host_name_is_a_conflict(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    with pytest.raises(sdk.Error) as raised:
        system.hosts_service().add(
            types.Host(
                name="local",
                address="127.0.0.1",
                root_password="whatever",
                cluster=types.Cluster(name="Default"),
            )
        )

    assert raised.value.code == 409


def test_host_that_is_up_cannot_be_removed(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    with pytest.raises(sdk.Error) as raised:
        system.hosts_service().host_service(hosts_up["sim-0001"].id).remove()

    assert raised.value.code == 409
    assert system.hosts_service().host_service(hosts_up["sim-0001"].id).get().name == "sim-0001"


def test_api_summary_counts_the_hosts_that_are_up(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    summary = system.get().summary.hosts

    assert summary.active >= len(SIMULATED_HOSTS)
    assert summary.total >= summary.active


def test_host_nics_are_listed_with_macs_and_statistics(
    connection: sdk.Connection, system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    host_service = system.hosts_service().host_service(hosts_up["sim-0001"].id)
    machine = {p.name for p in Path("/sys/class/net").iterdir()} - {"lo"}

    nics = wait_until(lambda: host_service.nics_service().list() or None, STATS_WAIT_S, "host NICs")

    assert {n.name for n in nics} <= machine
    nic = nics[0]
    assert nic.mac.address == (Path("/sys/class/net") / nic.name / "address").read_text().strip()
    nic_service = host_service.nics_service().nic_service(nic.id)
    assert nic_service.get().name == nic.name
    stats = {s.name: s for s in nic_service.statistics_service().list()}
    assert stats["data.total.rx"].values[0].datum >= 0
    assert stats["data.total.rx"].unit == types.StatisticUnit.BYTES


def test_host_boot_time_statistic_is_the_machines(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    service = system.hosts_service().host_service(hosts_up["sim-0001"].id).statistics_service()
    btime = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )

    stats = wait_until(
        lambda: {s.name: s for s in service.list()}.get("boot.time"), STATS_WAIT_S, "boot.time"
    )

    assert stats.values[0].datum == btime
