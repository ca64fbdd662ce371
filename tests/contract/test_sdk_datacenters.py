"""Data centers, clusters and logical networks through ovirtsdk4, as the SDK's examples do it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import unique_name

pytestmark = pytest.mark.contract

MANAGEMENT_NETWORK = "ovirtmgmt"


@pytest.fixture
def data_center(system: sdk.services.SystemService) -> Iterator[types.DataCenter]:
    dcs = system.data_centers_service()
    dc = dcs.add(
        types.DataCenter(name=unique_name("dc"), description="contract test DC", local=False)
    )
    yield dc
    with contextlib.suppress(sdk.NotFoundError):
        dcs.data_center_service(dc.id).remove()


@pytest.fixture
def cluster(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> Iterator[types.Cluster]:
    clusters = system.clusters_service()
    new = clusters.add(
        types.Cluster(
            name=unique_name("cluster"),
            description="contract test cluster",
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Conroe Family"),
            data_center=types.DataCenter(name=data_center.name),
        )
    )
    yield new
    with contextlib.suppress(sdk.NotFoundError):
        clusters.cluster_service(new.id).remove()


def test_added_data_center_is_uninitialized_and_not_local(
    data_center: types.DataCenter,
) -> None:
    assert data_center.id
    assert data_center.status == types.DataCenterStatus.UNINITIALIZED
    assert data_center.local is False
    assert data_center.version.major == 4


def test_added_cluster_belongs_to_the_data_center_named_in_it(
    cluster: types.Cluster, data_center: types.DataCenter
) -> None:
    assert cluster.data_center.id == data_center.id
    assert cluster.cpu.architecture == types.Architecture.X86_64
    assert cluster.cpu.type == "Intel Conroe Family"


def test_search_by_name_finds_only_that_data_center(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    found = system.data_centers_service().list(search=f"name={data_center.name}")

    assert [dc.id for dc in found] == [data_center.id]


def test_search_data_centers_by_cluster_name(
    system: sdk.services.SystemService, cluster: types.Cluster, data_center: types.DataCenter
) -> None:
    found = system.data_centers_service().list(search=f"Clusters.name={cluster.name}")

    assert [dc.id for dc in found] == [data_center.id]


def test_case_insensitive_search_matches_other_case(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    dcs = system.data_centers_service()
    upper = data_center.name.upper()

    assert [dc.id for dc in dcs.list(search=f"name={upper}", case_sensitive=False)] == [
        data_center.id
    ]
    assert dcs.list(search=f"name={upper}", case_sensitive=True) == []


def test_search_with_wildcard_finds_cluster(
    system: sdk.services.SystemService, cluster: types.Cluster
) -> None:
    prefix = cluster.name[: len("cluster-") + 2]

    found = system.clusters_service().list(search=f"name={prefix}*")

    assert cluster.id in {c.id for c in found}


def test_data_center_lists_its_clusters(
    system: sdk.services.SystemService, cluster: types.Cluster, data_center: types.DataCenter
) -> None:
    dc_service = system.data_centers_service().data_center_service(data_center.id)

    assert [c.id for c in dc_service.clusters_service().list()] == [cluster.id]


def test_updated_description_is_kept(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    dc_service = system.data_centers_service().data_center_service(data_center.id)

    updated = dc_service.update(types.DataCenter(description="changed by update"))

    assert updated.description == "changed by update"
    assert dc_service.get().description == "changed by update"
    assert dc_service.get().name == data_center.name


def test_updated_cluster_description_is_kept(
    system: sdk.services.SystemService, cluster: types.Cluster
) -> None:
    cluster_service = system.clusters_service().cluster_service(cluster.id)

    cluster_service.update(types.Cluster(description="new cluster text"))

    assert cluster_service.get().description == "new cluster text"


def test_removed_data_center_is_gone(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    dc_service = system.data_centers_service().data_center_service(data_center.id)

    dc_service.remove()

    with pytest.raises(sdk.NotFoundError):
        dc_service.get()
    assert system.data_centers_service().list(search=f"name={data_center.name}") == []


def test_duplicate_data_center_name_is_a_conflict(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    with pytest.raises(sdk.Error) as raised:
        system.data_centers_service().add(types.DataCenter(name=data_center.name))

    assert raised.value.code == 409
    assert "already exists" in str(raised.value)


def test_duplicate_cluster_name_is_a_conflict(
    system: sdk.services.SystemService, cluster: types.Cluster, data_center: types.DataCenter
) -> None:
    with pytest.raises(sdk.Error) as raised:
        system.clusters_service().add(
            types.Cluster(name=cluster.name, data_center=types.DataCenter(id=data_center.id))
        )

    assert raised.value.code == 409


def test_cluster_in_unknown_data_center_raises_not_found(
    system: sdk.services.SystemService,
) -> None:
    missing = unique_name("no-such-dc")

    with pytest.raises(sdk.NotFoundError) as raised:
        system.clusters_service().add(
            types.Cluster(
                name=unique_name("orphan"),
                cpu=types.Cpu(architecture=types.Architecture.X86_64),
                data_center=types.DataCenter(name=missing),
            )
        )

    assert missing in str(raised.value)


def test_unknown_data_center_id_raises_not_found(system: sdk.services.SystemService) -> None:
    service = system.data_centers_service().data_center_service(
        "11111111-2222-3333-4444-555555555555"
    )

    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_default_data_center_has_the_management_network(
    system: sdk.services.SystemService,
) -> None:
    dc = system.data_centers_service().list(search="name=Default")[0]
    networks = system.data_centers_service().data_center_service(dc.id).networks_service()

    assert MANAGEMENT_NETWORK in {n.name for n in networks.list()}


def test_default_cluster_has_the_management_network(system: sdk.services.SystemService) -> None:
    cluster = system.clusters_service().list(search="name=Default")[0]
    networks = system.clusters_service().cluster_service(cluster.id).networks_service()

    assert MANAGEMENT_NETWORK in {n.name for n in networks.list()}


def test_new_data_center_gets_the_management_network(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    """oVirt creates ``ovirtmgmt`` in every new data center; add_vm_nic.py relies on it."""
    networks = system.data_centers_service().data_center_service(data_center.id)

    assert MANAGEMENT_NETWORK in {n.name for n in networks.networks_service().list()}


def test_new_cluster_gets_the_management_network(
    system: sdk.services.SystemService, cluster: types.Cluster
) -> None:
    networks = system.clusters_service().cluster_service(cluster.id).networks_service()

    assert MANAGEMENT_NETWORK in {n.name for n in networks.list()}


def test_added_network_appears_in_its_data_center_with_a_vnic_profile(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    networks = system.networks_service()
    network = networks.add(
        types.Network(
            name=unique_name("net"),
            data_center=types.DataCenter(id=data_center.id),
            vlan=types.Vlan(id=42),
        )
    )
    try:
        dc_networks = system.data_centers_service().data_center_service(data_center.id)
        profiles = system.vnic_profiles_service().list()

        assert network.vlan.id == 42
        assert network.id in {n.id for n in dc_networks.networks_service().list()}
        assert network.id in {p.network.id for p in profiles if p.name == network.name}
    finally:
        networks.network_service(network.id).remove()


def test_removed_network_takes_its_vnic_profile_along(
    system: sdk.services.SystemService, data_center: types.DataCenter
) -> None:
    networks = system.networks_service()
    network = networks.add(
        types.Network(name=unique_name("net"), data_center=types.DataCenter(id=data_center.id))
    )

    networks.network_service(network.id).remove()

    assert network.name not in {p.name for p in system.vnic_profiles_service().list()}


def test_a_network_is_attached_changed_and_detached_through_the_clusters_networks(
    system: sdk.services.SystemService, data_center: types.DataCenter, cluster: types.Cluster
) -> None:
    network = system.networks_service().add(
        types.Network(name=unique_name("net"), data_center=types.DataCenter(id=data_center.id))
    )
    attached = system.clusters_service().cluster_service(cluster.id).networks_service()

    added = attached.add(
        types.Network(id=network.id, required=False, usages=[types.NetworkUsage.MIGRATION])
    )
    assert (added.required, set(added.usages)) == (
        False,
        {types.NetworkUsage.VM, types.NetworkUsage.MIGRATION},
    )
    attached.network_service(network.id).update(types.Network(required=True))
    assert attached.network_service(network.id).get().required is True
    management = next(n for n in attached.list() if n.name == MANAGEMENT_NETWORK)
    assert types.NetworkUsage.MIGRATION not in management.usages

    with pytest.raises(sdk.Error) as refused:
        attached.network_service(management.id).remove()
    assert refused.value.code == 409
    attached.network_service(network.id).remove()
    assert {n.name for n in attached.list()} == {MANAGEMENT_NETWORK}
