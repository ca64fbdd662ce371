"""The searches the ``ovirt.ovirt`` Ansible modules send, issued through ovirtsdk4 exactly as the
modules build them (``search_by_attributes`` quotes each value and joins them with ``and``).

Each test names the module whose search it repeats; the answer must be what the module then
relies on (the one object it looks for, or an empty list where nothing matches).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import LOCAL_STORAGE, VmFactory, unique_name, wait_for_status

pytestmark = pytest.mark.contract

GIB = 2**30


def by_attributes(**attributes: str) -> str:
    """The text ``module_utils.ovirt.search_by_attributes`` sends."""
    return " and ".join(f'{key}="{value}"' for key, value in attributes.items())


def test_ovirt_vm_finds_blank_by_name_and_data_center(system: sdk.services.SystemService) -> None:
    found = system.templates_service().list(search="name=Blank and datacenter=Default")

    assert [t.name for t in found] == ["Blank"]


def test_ovirt_vm_finds_a_vms_template_by_vm_name(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add()

    found = system.templates_service().list(search=f"vm.name={vm.name}")

    assert [t.name for t in found] == ["Blank"]


def test_ovirt_storage_domain_finds_the_data_center_of_its_domain(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    found = system.data_centers_service().list(search=by_attributes(storage=LOCAL_STORAGE))

    assert [dc.name for dc in found] == ["Default"]
    assert system.data_centers_service().list(search=by_attributes(storage="no-such")) == []


def test_ovirt_storage_domain_finds_up_hosts(
    system: sdk.services.SystemService, hosts_up: dict[str, types.Host]
) -> None:
    found = system.hosts_service().list(search=by_attributes(status="up"))

    assert {h.name for h in found} >= set(hosts_up)
    assert all(h.status == types.HostStatus.UP for h in found)


def test_ovirt_storage_domain_finds_an_imported_domain_by_id(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    found = system.storage_domains_service().list(search=by_attributes(id=local_storage.id))

    assert [d.id for d in found] == [local_storage.id]


def test_ovirt_vm_lists_storage_domains_by_name_or_all(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    domains = system.storage_domains_service()

    assert [d.name for d in domains.list(search=f'name="{LOCAL_STORAGE}"')] == [LOCAL_STORAGE]
    assert LOCAL_STORAGE in {d.name for d in domains.list(search='name="*"')}


def test_ovirt_nic_finds_the_data_center_of_a_cluster(system: sdk.services.SystemService) -> None:
    found = system.data_centers_service().list(search="Clusters.name=Default")

    assert [dc.name for dc in found] == ["Default"]


def test_ovirt_network_finds_a_network_by_name_and_data_center(
    system: sdk.services.SystemService,
) -> None:
    search = by_attributes(name="ovirtmgmt", datacenter="Default")

    found = system.networks_service().list(search=search)

    assert [(n.name, n.data_center.id) for n in found] == [
        ("ovirtmgmt", system.data_centers_service().list(search="name=Default")[0].id)
    ]


def test_ovirt_user_and_permission_find_a_user_by_login_and_authz(
    system: sdk.services.SystemService,
) -> None:
    found = system.users_service().list(search=by_attributes(usrname="admin@internal-authz"))
    # ovirt_permission_info sends it unquoted
    unquoted = system.users_service().list(search="usrname=admin@internal-authz")

    assert [u.principal for u in found] == ["admin"]
    assert [u.id for u in unquoted] == [u.id for u in found]


def test_ovirt_tag_finds_the_vms_with_a_tag(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    tags = system.tags_service()
    tag = tags.add(types.Tag(name=unique_name("tag")))
    try:
        tagged, _untagged = vm_factory.add(), vm_factory.add()
        system.vms_service().vm_service(tagged.id).tags_service().add(types.Tag(id=tag.id))

        found = system.vms_service().list(search=f"tag={tag.name}")

        assert [vm.id for vm in found] == [tagged.id]
    finally:
        tags.tag_service(tag.id).remove()


def test_ovirt_affinity_label_finds_a_vm_by_name_and_cluster(
    system: sdk.services.SystemService, vm_factory: VmFactory
) -> None:
    vm = vm_factory.add()

    found = system.vms_service().list(search=f"name={vm.name} and cluster=Default")

    assert [v.id for v in found] == [vm.id]
    assert system.vms_service().list(search=f"name={vm.name} and cluster=Elsewhere") == []


@pytest.fixture
def vm_disk(
    system: sdk.services.SystemService, vm_factory: VmFactory, local_storage: types.StorageDomain
) -> Iterator[tuple[types.Vm, types.Disk]]:
    vm = vm_factory.add_down()
    attachments = system.vms_service().vm_service(vm.id).disk_attachments_service()
    attachment = attachments.add(
        types.DiskAttachment(
            disk=types.Disk(
                name=unique_name("adisk"),
                format=types.DiskFormat.COW,
                provisioned_size=GIB,
                storage_domains=[types.StorageDomain(name=LOCAL_STORAGE)],
            ),
            interface=types.DiskInterface.VIRTIO,
            bootable=False,
            active=True,
        )
    )
    disk_service = system.disks_service().disk_service(attachment.disk.id)
    disk = wait_for_status(disk_service.get, types.DiskStatus.OK, timeout=60)
    yield vm, disk
    with contextlib.suppress(sdk.NotFoundError):
        attachments.attachment_service(attachment.id).remove()
    with contextlib.suppress(sdk.NotFoundError):
        disk_service.remove()


def test_ovirt_disk_finds_a_disk_by_name_storage_and_vm(
    system: sdk.services.SystemService, vm_disk: tuple[types.Vm, types.Disk]
) -> None:
    vm, disk = vm_disk
    search = by_attributes(
        **{"name": disk.name, "Storage.name": LOCAL_STORAGE, "vm_names": vm.name}
    )

    found = system.disks_service().list(search=search)

    assert [d.id for d in found] == [disk.id]
    assert system.disks_service().list(search=by_attributes(name=disk.name, vm_names="x")) == []


def test_ovirt_disk_lists_lun_disks(system: sdk.services.SystemService) -> None:
    found = system.disks_service().list(search="disk_type=lun")

    assert all(d.storage_type == types.DiskStorageType.LUN for d in found)


def test_ovirt_host_and_vm_search_events_by_type_and_object(
    system: sdk.services.SystemService, vm_factory: VmFactory, hosts_up: dict[str, types.Host]
) -> None:
    events = system.events_service()
    vm = vm_factory.add()
    host = hosts_up["sim-0001"]

    for search in (
        "type=885",
        f"type=839 or type=887 and host.name={host.name}",
        "type=842 or type=841 or type=888",
        "type=65 or type=140 or type=166 or type=17",
        f"type=1152 and vm.id={vm.id}",
        "type=1158 and message=*no-such-template*",
    ):
        answered = events.list(search=search)
        assert all(e.code in (885, 839, 887, 842, 841, 888, 65, 140, 166, 17) for e in answered)

    about_vm = events.list(search=f"vm.id={vm.id}")
    assert about_vm and all(e.vm.id == vm.id for e in about_vm)


def test_a_field_virtfleet_has_no_data_for_is_a_fault_naming_it(
    system: sdk.services.SystemService,
) -> None:
    with pytest.raises(sdk.Error, match="'pool' is not supported"):
        system.vms_service().list(search="pool=mypool")
