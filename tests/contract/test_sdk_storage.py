"""Storage through ovirtsdk4: the local data domain, floating disks and VM disk attachments."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import LOCAL_STORAGE, VmFactory, unique_name, wait_for_status, wait_until

pytestmark = pytest.mark.contract

GIB = 2**30


def test_local_storage_is_an_active_data_domain_of_the_default_data_center(
    connection: sdk.Connection,
    system: sdk.services.SystemService,
    local_storage: types.StorageDomain,
) -> None:
    domain = system.storage_domains_service().list(search=f"name={LOCAL_STORAGE}")[0]
    dc = system.data_centers_service().list(search="name=Default")[0]
    attached = (
        system.data_centers_service()
        .data_center_service(dc.id)
        .storage_domains_service()
        .storage_domain_service(domain.id)
        .get()
    )

    assert domain.type == types.StorageDomainType.DATA
    assert attached.status == types.StorageDomainStatus.ACTIVE
    assert dc.id in {d.id for d in domain.data_centers}


def test_local_storage_reports_free_space(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    domain = system.storage_domains_service().storage_domain_service(local_storage.id).get()

    assert domain.available is not None and domain.available > 0
    assert domain.used is not None and domain.used >= 0


def test_default_data_center_is_up_with_an_active_domain(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    dc = system.data_centers_service().list(search="name=Default")[0]

    assert dc.status == types.DataCenterStatus.UP


@pytest.fixture
def floating_disk(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> Iterator[types.Disk]:
    disks = system.disks_service()
    disk = disks.add(
        types.Disk(
            name=unique_name("disk"),
            description="contract test disk",
            format=types.DiskFormat.COW,
            provisioned_size=GIB,
            storage_domains=[types.StorageDomain(name=LOCAL_STORAGE)],
        )
    )
    service = disks.disk_service(disk.id)
    try:
        yield wait_for_status(service.get, types.DiskStatus.OK, timeout=60)
    finally:
        with contextlib.suppress(sdk.NotFoundError):
            service.remove()


def test_added_cow_disk_becomes_ok_with_its_size(floating_disk: types.Disk) -> None:
    assert floating_disk.status == types.DiskStatus.OK
    assert floating_disk.format == types.DiskFormat.COW
    assert floating_disk.provisioned_size == GIB
    assert floating_disk.sparse is not False


def test_added_disk_is_listed_on_its_storage_domain(
    system: sdk.services.SystemService,
    local_storage: types.StorageDomain,
    floating_disk: types.Disk,
) -> None:
    domain = system.storage_domains_service().storage_domain_service(local_storage.id)

    assert floating_disk.id in {d.id for d in domain.disks_service().list()}
    assert floating_disk.storage_domains[0].id == local_storage.id


def test_removed_disk_is_gone(
    system: sdk.services.SystemService, floating_disk: types.Disk
) -> None:
    service = system.disks_service().disk_service(floating_disk.id)

    service.remove()

    def gone() -> bool | None:
        try:
            service.get()
        except sdk.NotFoundError:
            return True
        return None

    assert wait_until(gone, 30, "the disk to disappear")


def test_disk_on_unknown_storage_domain_raises_not_found(
    system: sdk.services.SystemService, local_storage: types.StorageDomain
) -> None:
    with pytest.raises(sdk.NotFoundError):
        system.disks_service().add(
            types.Disk(
                name=unique_name("lost"),
                format=types.DiskFormat.COW,
                provisioned_size=GIB,
                storage_domains=[types.StorageDomain(name=unique_name("no-such-domain"))],
            )
        )


def test_disk_attached_to_a_vm_becomes_ok_and_is_listed_on_the_vm(
    connection: sdk.Connection,
    system: sdk.services.SystemService,
    local_storage: types.StorageDomain,
    vm_factory: VmFactory,
) -> None:
    vm = vm_factory.add_down()
    attachments = system.vms_service().vm_service(vm.id).disk_attachments_service()

    attachment = attachments.add(
        types.DiskAttachment(
            disk=types.Disk(
                name=unique_name("vmdisk"),
                description="boot disk",
                format=types.DiskFormat.COW,
                provisioned_size=GIB,
                storage_domains=[types.StorageDomain(name=LOCAL_STORAGE)],
            ),
            interface=types.DiskInterface.VIRTIO,
            bootable=True,
            active=True,
        )
    )
    disk_service = system.disks_service().disk_service(attachment.disk.id)
    wait_for_status(disk_service.get, types.DiskStatus.OK, timeout=60)

    listed = attachments.list()
    assert [a.disk.id for a in listed] == [attachment.disk.id]
    assert listed[0].interface == types.DiskInterface.VIRTIO
    assert listed[0].bootable is True
    followed = connection.follow_link(system.vms_service().vm_service(vm.id).get().disk_attachments)
    assert [a.id for a in followed] == [listed[0].id]
