"""Every search field oVirt knows filters for real: for each collection and each declared field,
a world where that field tells objects apart, and a search that must return exactly the ones
that match. Fields virtfleet has no data for are refused with a fault naming them.

The world is stored through the engine's own repositories into the real schema (SQLite, and
PostgreSQL when ``VIRTFLEET_TEST_PG_URL`` is set), and each search goes through the field table
the collection's service serves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, insert, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel import enums as e
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.commands import store
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database, sqlite_url
from virtfleet.engine.services.activity import EventService, JobService
from virtfleet.engine.services.auth import users_repository
from virtfleet.engine.services.clusters import ClusterService
from virtfleet.engine.services.datacenters import DataCenterService
from virtfleet.engine.services.disks import DiskService
from virtfleet.engine.services.hosts import HostService
from virtfleet.engine.services.networks import NetworkService, VnicProfileService
from virtfleet.engine.services.search import (
    Comparison,
    Expr,
    Operator,
    catalog,
    compile_condition,
    parse_search,
)
from virtfleet.engine.services.search.entities import Searchable
from virtfleet.engine.services.storage_domains import StorageDomainService
from virtfleet.engine.services.system import TagService, UserService
from virtfleet.engine.services.templates import TemplateService
from virtfleet.engine.services.vms import VmService

GIB = 2**30
MIB = 2**20


@dataclass(frozen=True)
class Collection:
    """One collection as searched: the table listed, its catalog entry, the service's fields."""

    table: Table
    searchable: Searchable
    fields: Mapping[str, Any]
    label: Any  # the column a result is known by in the expectations


COLLECTIONS = {
    "vms": Collection(tables.vms, catalog.VMS, VmService.search_fields, tables.vms.c.name),
    "hosts": Collection(
        tables.hosts, catalog.HOSTS, HostService.search_fields, tables.hosts.c.name
    ),
    "templates": Collection(
        tables.templates, catalog.TEMPLATES, TemplateService.search_fields, tables.templates.c.name
    ),
    "datacenters": Collection(
        tables.data_centers,
        catalog.DATACENTERS,
        DataCenterService.search_fields,
        tables.data_centers.c.name,
    ),
    "clusters": Collection(
        tables.clusters, catalog.CLUSTERS, ClusterService.search_fields, tables.clusters.c.name
    ),
    "storagedomains": Collection(
        tables.storage_domains,
        catalog.STORAGE_DOMAINS,
        StorageDomainService.search_fields,
        tables.storage_domains.c.name,
    ),
    "disks": Collection(
        tables.disks, catalog.DISKS, DiskService.search_fields, tables.disks.c.name
    ),
    "networks": Collection(
        tables.networks, catalog.NETWORKS, NetworkService.search_fields, tables.networks.c.name
    ),
    "vnicprofiles": Collection(
        tables.vnic_profiles,
        catalog.VNIC_PROFILES,
        VnicProfileService.search_fields,
        tables.vnic_profiles.c.name,
    ),
    "events": Collection(
        tables.events, catalog.EVENTS, EventService.fields, tables.events.c.correlation_id
    ),
    "jobs": Collection(tables.jobs, catalog.JOBS, JobService.fields, tables.jobs.c.name),
    "users": Collection(
        tables.users, catalog.USERS, UserService.search_fields, tables.users.c.name
    ),
    "tags": Collection(tables.tags, catalog.TAGS, TagService.search_fields, tables.tags.c.name),
}


NAMES = (
    "dc1 dc2 cl1 cl2 h1 h2 sd1 sd2 t0 t1 t2 vm1 vm2 vm3 d1 d2 d3 net1 net2 p1 p2 nic1 nic2 nic3 "
    "admin bob prod test j1 j2"
)
ID = {name: str(uuid.uuid4()) for name in NAMES.split()}


def ref(kind: type[Any], name: str) -> Any:
    return kind(id=ID[name])


def build_world(database: Database) -> None:
    """Two of everything, differing in every searchable field."""
    with database.transaction() as conn:
        repos.data_centers.insert(
            conn,
            m.DataCenter(
                id=ID["dc1"],
                name="dc1",
                description="main",
                comment="first",
                local=False,
                status=e.DataCenterStatus.UP,
                version=m.Version(major=4, minor=7),
            ),
        )
        repos.data_centers.insert(
            conn,
            m.DataCenter(
                id=ID["dc2"],
                name="dc2",
                description="spare",
                comment="second",
                local=True,
                status=e.DataCenterStatus.UNINITIALIZED,
                version=m.Version(major=4, minor=6),
            ),
        )
        for name, dc, arch, cpu, minor in (
            ("cl1", "dc1", e.Architecture.X86_64, "Intel Nehalem Family", 7),
            ("cl2", "dc2", e.Architecture.PPC64, "POWER9", 6),
        ):
            repos.clusters.insert(
                conn,
                m.Cluster(
                    id=ID[name],
                    name=name,
                    description=f"{name} desc",
                    comment=f"{name} note",
                    data_center=ref(m.DataCenter, dc),
                    cpu=m.Cpu(type=cpu, architecture=arch),
                    version=m.Version(major=4, minor=minor),
                ),
            )
        repos.hosts.insert(
            conn,
            m.Host(
                id=ID["h1"],
                name="h1",
                description="rack 1",
                comment="fast",
                address="10.0.0.1",
                port=54321,
                status=e.HostStatus.UP,
                external_status=e.ExternalStatus.OK,
                type=e.HostType.RHEL,
                cluster=ref(m.Cluster, "cl1"),
                memory=16 * GIB,
                version=m.Version(full_version="4.5.1"),
                cpu=m.Cpu(
                    name="Xeon A",
                    speed=2400.5,
                    architecture=e.Architecture.X86_64,
                    topology=m.CpuTopology(sockets=2, cores=4, threads=2),
                ),
                update_available=True,
                hardware_information=m.HardwareInformation(uuid="hw-uuid-1"),
            ),
        )
        repos.hosts.insert(
            conn,
            m.Host(
                id=ID["h2"],
                name="h2",
                description="rack 2",
                comment="slow",
                address="10.0.0.2",
                port=54321,
                status=e.HostStatus.MAINTENANCE,
                external_status=e.ExternalStatus.ERROR,
                type=e.HostType.OVIRT_NODE,
                cluster=ref(m.Cluster, "cl2"),
                memory=8 * GIB,
                version=m.Version(full_version="4.4.0"),
                cpu=m.Cpu(
                    name="Power B",
                    speed=1800.0,
                    architecture=e.Architecture.PPC64,
                    topology=m.CpuTopology(sockets=1, cores=2, threads=1),
                ),
                update_available=False,
                hardware_information=m.HardwareInformation(uuid="hw-uuid-2"),
            ),
        )
        repos.storage_domains.insert(
            conn,
            m.StorageDomain(
                id=ID["sd1"],
                name="sd1",
                description="fast disks",
                comment="nfs one",
                status=e.StorageDomainStatus.ACTIVE,
                external_status=e.ExternalStatus.OK,
                data_center=ref(m.DataCenter, "dc1"),
                storage=m.HostStorage(type=e.StorageType.NFS, path="/exports/sd1"),
                available=100 * GIB,
                used=20 * GIB,
                committed=30 * GIB,
                wipe_after_delete=True,
                discard_after_delete=False,
                backup=False,
                warning_low_space_indicator=10,
                critical_space_action_blocker=5,
            ),
        )
        repos.storage_domains.insert(
            conn,
            m.StorageDomain(
                id=ID["sd2"],
                name="sd2",
                description="slow disks",
                comment="posix two",
                status=e.StorageDomainStatus.MAINTENANCE,
                external_status=e.ExternalStatus.WARNING,
                data_center=ref(m.DataCenter, "dc2"),
                storage=m.HostStorage(type=e.StorageType.POSIXFS, path="/srv/sd2"),
                available=10 * GIB,
                used=5 * GIB,
                committed=2 * GIB,
                wipe_after_delete=False,
                discard_after_delete=True,
                backup=True,
                warning_low_space_indicator=20,
                critical_space_action_blocker=1,
            ),
        )
        repos.templates.insert(
            conn,
            m.Template(
                id=ID["t1"],
                name="t1",
                description="base image",
                comment="golden",
                cluster=ref(m.Cluster, "cl1"),
                status=e.TemplateStatus.OK,
                memory=2 * GIB,
                os=m.OperatingSystem(type="rhel_8x64"),
                version=m.TemplateVersion(version_name="v1", version_number=1),
            ),
        )
        # t0 has neither cluster nor disks, as Blank: it serves every data center
        repos.templates.insert(conn, m.Template(id=ID["t0"], name="t0"))
        # t2 has no cluster: its data center is its disk's
        repos.templates.insert(
            conn,
            m.Template(
                id=ID["t2"],
                name="t2",
                description="other image",
                comment="plain",
                status=e.TemplateStatus.LOCKED,
                memory=1 * GIB,
                os=m.OperatingSystem(type="other"),
                version=m.TemplateVersion(version_name="v2", version_number=2),
            ),
        )
        repos.vms.insert(
            conn,
            m.Vm(
                id=ID["vm1"],
                name="vm1",
                description="web server",
                comment="prod box",
                cluster=ref(m.Cluster, "cl1"),
                host=ref(m.Host, "h1"),
                template=ref(m.Template, "t1"),
                status=e.VmStatus.UP,
                memory=4 * GIB,
                memory_policy=m.MemoryPolicy(guaranteed=2 * GIB),
                os=m.OperatingSystem(type="rhel_8x64"),
                type=e.VmType.SERVER,
                fqdn="vm1.example.com",
                custom_emulated_machine="q35",
                custom_cpu_model="Haswell",
                custom_compatibility_version=m.Version(major=4, minor=6),
                next_run_configuration_exists=True,
                has_illegal_images=False,
                bios=m.Bios(type=e.BiosType.Q35_OVMF),
                cpu=m.Cpu(topology=m.CpuTopology(sockets=2, cores=2, threads=1)),
            ),
        )
        repos.vms.insert(
            conn,
            m.Vm(
                id=ID["vm2"],
                name="vm2",
                description="database",
                comment="test box",
                cluster=ref(m.Cluster, "cl2"),
                template=ref(m.Template, "t2"),
                status=e.VmStatus.DOWN,
                memory=1 * GIB,
                memory_policy=m.MemoryPolicy(guaranteed=512 * MIB),
                os=m.OperatingSystem(type="other_linux"),
                type=e.VmType.DESKTOP,
                fqdn="vm2.example.com",
                custom_emulated_machine="pc",
                custom_cpu_model="Skylake",
                custom_compatibility_version=m.Version(major=4, minor=7),
                next_run_configuration_exists=False,
                has_illegal_images=True,
                bios=m.Bios(type=e.BiosType.I440FX_SEA_BIOS),
                cpu=m.Cpu(topology=m.CpuTopology(sockets=1, cores=1, threads=1)),
            ),
        )
        repos.vms.insert(
            conn,
            m.Vm(
                id=ID["vm3"],
                name="vm3",
                cluster=ref(m.Cluster, "cl1"),
                host=ref(m.Host, "h1"),
                template=ref(m.Template, "t1"),
                status=e.VmStatus.MIGRATING,
                memory=2 * GIB,
            ),
        )
        for name, domain, size, actual, shareable, status, content, sparse, wipe in (
            (
                "d1",
                "sd1",
                10 * GIB,
                1 * GIB,
                False,
                e.DiskStatus.OK,
                e.DiskContentType.DATA,
                True,
                False,
            ),
            (
                "d2",
                "sd2",
                5 * GIB,
                5 * GIB,
                True,
                e.DiskStatus.LOCKED,
                e.DiskContentType.ISO,
                False,
                True,
            ),
            (
                "d3",
                "sd1",
                1 * GIB,
                0,
                False,
                e.DiskStatus.ILLEGAL,
                e.DiskContentType.DATA,
                True,
                False,
            ),
        ):
            repos.disks.insert(
                conn,
                m.Disk(
                    id=ID[name],
                    name=name,
                    alias=name,
                    description=f"{name} disk",
                    comment=f"{name} note",
                    provisioned_size=size,
                    actual_size=actual,
                    shareable=shareable,
                    status=status,
                    content_type=content,
                    sparse=sparse,
                    wipe_after_delete=wipe,
                    storage_type=e.DiskStorageType.LUN if name == "d3" else None,
                    storage_domains=[ref(m.StorageDomain, domain)],
                ),
            )
        repos.disk_attachments.insert(
            conn,
            m.DiskAttachment(id=ID["d1"], name="d1", vm=ref(m.Vm, "vm1"), disk=ref(m.Disk, "d1")),
        )
        repos.disk_attachments.insert(
            conn,
            m.DiskAttachment(
                id=ID["d2"], name="d2", template=ref(m.Template, "t2"), disk=ref(m.Disk, "d2")
            ),
        )
        repos.networks.insert(
            conn,
            m.Network(
                id=ID["net1"],
                name="net1",
                description="front",
                comment="public",
                data_center=ref(m.DataCenter, "dc1"),
                vlan=m.Vlan(id=10),
                stp=True,
                mtu=1500,
                usages=[e.NetworkUsage.VM, e.NetworkUsage.MANAGEMENT],
            ),
        )
        repos.networks.insert(
            conn,
            m.Network(
                id=ID["net2"],
                name="net2",
                description="storage",
                comment="private",
                data_center=ref(m.DataCenter, "dc2"),
                stp=False,
                mtu=9000,
                usages=[e.NetworkUsage.MIGRATION],
            ),
        )
        for name, net, mirror, mode in (
            ("p1", "net1", True, e.VnicPassThroughMode.ENABLED),
            ("p2", "net2", False, e.VnicPassThroughMode.DISABLED),
        ):
            repos.vnic_profiles.insert(
                conn,
                m.VnicProfile(
                    id=ID[name],
                    name=name,
                    description=f"{name} profile",
                    network=ref(m.Network, net),
                    port_mirroring=mirror,
                    pass_through=m.VnicPassThrough(mode=mode),
                ),
            )
        for name, vm, profile, mac in (
            ("nic1", "vm1", "p1", "00:1a:4a:00:00:01"),
            ("nic2", "vm2", "p2", "00:1a:4a:00:00:02"),
        ):
            repos.nics.insert(
                conn,
                m.Nic(
                    id=ID[name],
                    name=name,
                    vm=ref(m.Vm, vm),
                    vnic_profile=ref(m.VnicProfile, profile),
                    mac=m.Mac(address=mac),
                ),
            )
        repos.nics.insert(
            conn,
            m.Nic(
                id=ID["nic3"],
                name="nic3",
                template=ref(m.Template, "t1"),
                vnic_profile=ref(m.VnicProfile, "p1"),
                mac=m.Mac(address="00:1a:4a:00:00:03"),
            ),
        )
        for name in ("prod", "test"):
            repos.tags.insert(
                conn,
                m.Tag(id=ID[name], name=name, description=f"{name} tag", comment=f"{name} note"),
            )
        conn.execute(insert(tables.vm_tags).values(vm_id=ID["vm1"], tag_id=ID["prod"]))
        conn.execute(insert(tables.vm_tags).values(vm_id=ID["vm2"], tag_id=ID["test"]))
        users = users_repository()
        for name, authz, last, department in (
            ("admin", "internal", "Adm", "ops"),
            ("bob", "ldap", "Builder", "dev"),
        ):
            users.insert(
                conn,
                m.User(
                    id=ID[name],
                    name=name,
                    user_name=f"{name}@{authz}",
                    principal=name,
                    last_name=last,
                    department=department,
                    domain=m.Domain(name=f"{authz}-authz"),
                ),
            )
        for number, (code, severity, message, objects, when) in enumerate(
            (
                (
                    1,
                    "normal",
                    "vm1 started",
                    dict(
                        vm="vm1",
                        host="h1",
                        user="admin",
                        cluster="cl1",
                        data_center="dc1",
                        storage_domain="sd1",
                        template="t1",
                    ),
                    datetime(2024, 5, 1, 12, tzinfo=UTC),
                ),
                (
                    2,
                    "error",
                    "h2 failed",
                    dict(
                        vm="vm2",
                        host="h2",
                        user="bob",
                        cluster="cl2",
                        data_center="dc2",
                        storage_domain="sd2",
                        template="t2",
                    ),
                    datetime(2024, 6, 1, 12, tzinfo=UTC),
                ),
            ),
            start=1,
        ):
            conn.execute(
                insert(tables.events).values(
                    time=when,
                    code=code,
                    severity=severity,
                    description=message,
                    correlation_id=f"corr-{number}",
                    **{f"{kind}_id": ID[name] for kind, name in objects.items()},
                )
            )
        for name, status, description in (
            ("j1", e.JobStatus.STARTED, "Starting VM vm1"),
            ("j2", e.JobStatus.FINISHED, "Adding disk d3"),
        ):
            store.JOBS.insert(
                conn,
                m.Job(
                    id=ID[name],
                    name=name,
                    description=description,
                    status=status,
                    start_time=datetime(2024, 5, 1, tzinfo=UTC),
                ),
            )
            now = datetime.now(UTC)
            conn.execute(
                insert(tables.commands).values(
                    id=str(uuid.uuid4()),
                    kind="test",
                    job_id=ID[name],
                    state="running",
                    next_step=0,
                    params={},
                    data={},
                    correlation_id=f"{name}-corr",
                    created_at=now,
                    updated_at=now,
                )
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(tmp_path_factory.mktemp("search") / "engine.db"))
    else:
        url = os.environ.get("VIRTFLEET_TEST_PG_URL")
        if not url:
            pytest.skip("VIRTFLEET_TEST_PG_URL is not set")
        database = Database(url)
    tables.metadata.drop_all(database.engine)
    tables.metadata.create_all(database.engine)
    build_world(database)
    yield database
    tables.metadata.drop_all(database.engine)
    database.dispose()


def search(
    database: Database, collection: str, text: str, *, case_sensitive: bool = True
) -> set[str]:
    served = COLLECTIONS[collection]
    condition = parse_search(text).condition
    assert condition is not None
    where = compile_condition(condition, served.fields, case_sensitive=case_sensitive)
    with database.read() as conn:
        return set(conn.scalars(select(served.label).where(where)))


# collection, search, what it must return (names; events by correlation id)
CASES: list[tuple[str, str, set[str]]] = [
    # --- VMs ---
    ("vms", "name=vm1", {"vm1"}),
    ("vms", "id=" + ID["vm2"], {"vm2"}),
    ("vms", "description=web*", {"vm1"}),
    ("vms", "comment=test*", {"vm2"}),
    ("vms", "status=up", {"vm1"}),
    ("vms", "status=Down", {"vm2"}),
    ("vms", "on_host=h1", {"vm1", "vm3"}),
    ("vms", "fqdn=vm2.example.com", {"vm2"}),
    ("vms", "os=rhel*", {"vm1"}),
    ("vms", f"creationdate>{datetime(2000, 1, 1).date()}", {"vm1", "vm2", "vm3"}),
    ("vms", "creationdate<2000-01-01", set()),
    ("vms", "memory>2048", {"vm1"}),
    ("vms", "memory=1024", {"vm2"}),
    ("vms", "guaranteed_memory<1024", {"vm2"}),
    ("vms", "cluster=cl2", {"vm2"}),
    ("vms", "tag=prod", {"vm1"}),
    ("vms", "datacenter=dc1", {"vm1", "vm3"}),
    ("vms", "type=desktop", {"vm2"}),
    ("vms", "architecture=ppc64", {"vm2"}),
    ("vms", "custom_emulated_machine=q35", {"vm1"}),
    ("vms", "custom_cpu_type=Skylake", {"vm2"}),
    ("vms", "compatibility_level=4.7", {"vm1", "vm3"}),
    ("vms", "custom_compatibility_level<4.7", {"vm1"}),
    ("vms", "next_run_config_exists=true", {"vm1"}),
    ("vms", "has_illegal_images=true", {"vm2"}),
    ("vms", "bios_type=q35_ovmf", {"vm1"}),
    ("vms", "vcpus>=4", {"vm1"}),
    ("vms", "vcpus=1", {"vm2", "vm3"}),
    ("vms", "host=h1", {"vm1", "vm3"}),
    ("vms", "host.status=up", {"vm1", "vm3"}),
    ("vms", "hosts.cpus>4", {"vm1", "vm3"}),
    ("vms", "template=t2", {"vm2"}),
    ("vms", "template.mem<2048", {"vm2"}),
    ("vms", "storage=sd1", {"vm1"}),
    ("vms", "Storage.name=sd1", {"vm1"}),
    ("vms", "storage.type=nfs", {"vm1"}),
    ("vms", "event.severity=error", {"vm2"}),
    ("vms", "events.type=1", {"vm1"}),
    ("vms", "vnic.mac=00:1a:4a:00:00:02", {"vm2"}),
    ("vms", "vnic.network_name=net1", {"vm1"}),
    ("vms", "vnic=nic1", {"vm1"}),
    ("vms", "cluster.name=cl1", {"vm1", "vm3"}),
    ("vms", "clusters.name=cl2", {"vm2"}),
    ("vms", "clusters.architecture=ppc64", {"vm2"}),
    # --- hosts ---
    ("hosts", "name=h*", {"h1", "h2"}),
    ("hosts", "id=" + ID["h1"], {"h1"}),
    ("hosts", 'description="rack 2"', {"h2"}),
    ("hosts", "comment=fast", {"h1"}),
    ("hosts", "status=maintenance", {"h2"}),
    ("hosts", "external_status=error", {"h2"}),
    ("hosts", "cluster=cl1", {"h1"}),
    ("hosts", "cluster.name=cl2", {"h2"}),
    ("hosts", "datacenter=dc2", {"h2"}),
    ("hosts", "address=10.0.0.1", {"h1"}),
    ("hosts", "version=4.5*", {"h1"}),
    ("hosts", "cpus=8", {"h1"}),
    ("hosts", "memory>=16384", {"h1"}),
    ("hosts", "cpu_speed>2000.25", {"h1"}),
    ("hosts", "cpu_model=Power*", {"h2"}),
    ("hosts", "active_vms=2", {"h1"}),
    ("hosts", "active_vms=0", {"h2"}),
    ("hosts", "migrating_vms>0", {"h1"}),
    ("hosts", "committed_mem>=6144", {"h1"}),
    ("hosts", "committed_mem=0", {"h2"}),
    ("hosts", "type=ovirt_node", {"h2"}),
    ("hosts", "architecture=x86_64", {"h1"}),
    ("hosts", "update_available=true", {"h1"}),
    ("hosts", "update_available=false", {"h2"}),
    ("hosts", "hw_id=hw-uuid-2", {"h2"}),
    ("hosts", "vm=vm1", {"h1"}),
    ("hosts", "vms.status=migrating", {"h1"}),
    ("hosts", "templates.name=t1", {"h1"}),
    ("hosts", "events.severity=error", {"h2"}),
    ("hosts", "storage=sd2", {"h2"}),
    # --- templates ---
    ("templates", "name=t1", {"t1"}),
    ("templates", "id=" + ID["t2"], {"t2"}),
    ("templates", "_vmt_id=" + ID["t1"], {"t1"}),
    ("templates", "description=other*", {"t2"}),
    ("templates", "comment=golden", {"t1"}),
    ("templates", "os=other", {"t2"}),
    ("templates", "creationdate>2000-01-01", {"t0", "t1", "t2"}),
    ("templates", "childcount=2", {"t1"}),
    ("templates", "childcount<2", {"t0", "t2"}),
    ("templates", "mem=2048", {"t1"}),
    ("templates", "status=locked", {"t2"}),
    ("templates", "cluster=cl1", {"t1"}),
    ("templates", "datacenter=dc1", {"t0", "t1"}),
    ("templates", "datacenter=dc2", {"t0", "t2"}),
    ("templates", "datacenter=dc9", set()),
    ("templates", "name=t0 and datacenter=dc2", {"t0"}),
    ("templates", "datacenter!=dc1", {"t2"}),
    ("templates", "architecture=x86_64", {"t1"}),
    ("templates", "version_name=v2", {"t2"}),
    ("templates", "vms.name=vm2", {"t2"}),
    ("templates", "vm.status=migrating", {"t1"}),
    ("templates", "hosts.name=h1", {"t1"}),
    ("templates", "events.message=h2*", {"t2"}),
    ("templates", "storage=sd2", {"t2"}),
    ("templates", "vnic.mac=00:1a:4a:00:00:03", {"t1"}),
    ("templates", "vnic.mac=00:1a:4a:00:00:01", set()),  # a VM's NIC, not a template's
    # --- data centers ---
    ("datacenters", "name=dc1", {"dc1"}),
    ("datacenters", "description=spare", {"dc2"}),
    ("datacenters", "comment=first", {"dc1"}),
    ("datacenters", "local=true", {"dc2"}),
    ("datacenters", "status=up", {"dc1"}),
    ("datacenters", "compatibility_version=4.6", {"dc2"}),
    ("datacenters", "compatibility_version>4.6", {"dc1"}),
    ("datacenters", "clusters.name=cl2", {"dc2"}),
    ("datacenters", "cluster=cl1", {"dc1"}),
    ("datacenters", "storage=sd1", {"dc1"}),
    ("datacenters", "storage.status=maintenance", {"dc2"}),
    ("datacenters", "network=net2", {"dc2"}),
    ("datacenters", "networks.mtu>1500", {"dc2"}),
    # --- clusters ---
    ("clusters", "name=cl*", {"cl1", "cl2"}),
    ("clusters", 'description="cl1 desc"', {"cl1"}),
    ("clusters", 'comment="cl2 note"', {"cl2"}),
    ("clusters", "architecture=ppc64", {"cl2"}),
    ("clusters", "compatibility_level=4.7", {"cl1"}),
    ("clusters", "cpu_type=POWER9", {"cl2"}),
    ("clusters", "datacenter=dc1", {"cl1"}),
    ("clusters", "datacenter.local=true", {"cl2"}),
    ("clusters", "storage=sd2", {"cl2"}),
    # --- storage domains ---
    ("storagedomains", "name=sd1", {"sd1"}),
    ("storagedomains", "id=" + ID["sd2"], {"sd2"}),
    ("storagedomains", "description=slow*", {"sd2"}),
    ("storagedomains", 'comment="nfs one"', {"sd1"}),
    ("storagedomains", "status=active", {"sd1"}),
    ("storagedomains", "external_status=warning", {"sd2"}),
    ("storagedomains", "datacenter=dc2", {"sd2"}),
    ("storagedomains", "type=posixfs", {"sd2"}),
    ("storagedomains", "free_size>50", {"sd1"}),
    ("storagedomains", "used_size=5", {"sd2"}),
    ("storagedomains", "total_size=120", {"sd1"}),
    ("storagedomains", "committed<10", {"sd2"}),
    ("storagedomains", "wipe_after_delete=true", {"sd1"}),
    ("storagedomains", "discard_after_delete=true", {"sd2"}),
    ("storagedomains", "low_space_threshold=20", {"sd2"}),
    ("storagedomains", "critical_space_threshold>1", {"sd1"}),
    ("storagedomains", "backup=true", {"sd2"}),
    ("storagedomains", "host=h1", {"sd1"}),
    ("storagedomains", "hosts.status=maintenance", {"sd2"}),
    ("storagedomains", "cluster=cl2", {"sd2"}),
    # --- disks ---
    ("disks", "name=d1", {"d1"}),
    ("disks", "alias=d2", {"d2"}),
    ("disks", "id=" + ID["d3"], {"d3"}),
    ("disks", 'description="d3 disk"', {"d3"}),
    ("disks", 'comment="d1 note"', {"d1"}),
    ("disks", f"provisioned_size>{2 * GIB}", {"d1", "d2"}),
    ("disks", f"size={5 * GIB}", {"d2"}),
    ("disks", f"actual_size>={1 * GIB}", {"d1", "d2"}),
    ("disks", "creation_date>2000-01-01", {"d1", "d2", "d3"}),
    ("disks", "shareable=true", {"d2"}),
    ("disks", "status=illegal", {"d3"}),
    ("disks", "disk_type=lun", {"d3"}),
    ("disks", "disk_type=image", {"d1", "d2"}),
    ("disks", "disk_content_type=iso", {"d2"}),
    ("disks", "allocation_policy=preallocated", {"d2"}),
    ("disks", "allocation_policy=sparse", {"d1", "d3"}),
    ("disks", "number_of_vms=1", {"d1"}),
    ("disks", "number_of_vms=0", {"d2", "d3"}),
    ("disks", "vm_names=vm1", {"d1"}),
    ("disks", "wipe_after_delete=true", {"d2"}),
    ("disks", "datacenter=dc2", {"d2"}),
    ("disks", "storage=sd1", {"d1", "d3"}),
    ("disks", "Storage.name=sd2", {"d2"}),
    # --- networks ---
    ("networks", "name=net1", {"net1"}),
    ("networks", "description=storage", {"net2"}),
    ("networks", "comment=public", {"net1"}),
    ("networks", "vlanid=10", {"net1"}),
    ("networks", "stp=false", {"net2"}),
    ("networks", "mtu>1500", {"net2"}),
    ("networks", "vmnetwork=true", {"net1"}),
    ("networks", "vmnetwork=false", {"net2"}),
    ("networks", "datacenter=dc2", {"net2"}),
    ("networks", "datacenter.status=up", {"net1"}),
    # --- vNIC profiles ---
    ("vnicprofiles", "name=p1", {"p1"}),
    ("vnicprofiles", 'description="p2 profile"', {"p2"}),
    ("vnicprofiles", "port_mirroring=true", {"p1"}),
    ("vnicprofiles", "passthrough=false", {"p2"}),
    ("vnicprofiles", "network_name=net1", {"p1"}),
    ("vnicprofiles", "network=net2", {"p2"}),
    ("vnicprofiles", "compatibility_version=4.6", {"p2"}),
    ("vnicprofiles", "datacenter=dc1", {"p1"}),
    # --- events ---
    ("events", "type=1", {"corr-1"}),
    ("events", "type>1", {"corr-2"}),
    ("events", "severity=error", {"corr-2"}),
    ("events", "message=*started", {"corr-1"}),
    ("events", "time>2024-05-15", {"corr-2"}),
    ("events", "time=2024-05-01", {"corr-1"}),
    ("events", "usrname=bob@ldap-authz", {"corr-2"}),
    ("events", "usrid=" + ID["admin"], {"corr-1"}),
    ("events", "correlation_id=corr-2", {"corr-2"}),
    ("events", "event_host=h1", {"corr-1"}),
    ("events", "event_vm=vm2", {"corr-2"}),
    ("events", "event_template=t1", {"corr-1"}),
    ("events", "event_storage=sd2", {"corr-2"}),
    ("events", "event_datacenter=dc1", {"corr-1"}),
    ("events", "_event_host_id=" + ID["h2"], {"corr-2"}),
    ("events", "_event_vm_id=" + ID["vm1"], {"corr-1"}),
    ("events", "_event_template_id=" + ID["t2"], {"corr-2"}),
    ("events", "_event_storage_id=" + ID["sd1"], {"corr-1"}),
    ("events", "_event_datacenter_id=" + ID["dc2"], {"corr-2"}),
    ("events", "vm.name=vm1", {"corr-1"}),
    ("events", "vm.id=" + ID["vm2"], {"corr-2"}),
    ("events", "host.name=h2", {"corr-2"}),
    ("events", "type=2 and host.name=h2", {"corr-2"}),
    ("events", "templates.name=t2", {"corr-2"}),
    ("events", "user.usrname=admin@internal-authz", {"corr-1"}),
    ("events", "cluster=cl1", {"corr-1"}),
    ("events", "name=h2*", {"corr-2"}),
    # --- jobs ---
    ("jobs", "status=started", {"j1"}),
    ("jobs", "description=Adding*", {"j2"}),
    ("jobs", "correlation_id=j1-corr", {"j1"}),
    # --- users ---
    ("users", "name=bob", {"bob"}),
    ("users", "lastname=Adm", {"admin"}),
    ("users", "usrname=admin@internal-authz", {"admin"}),
    ("users", "usrname=admin@internal", {"admin"}),
    ("users", "usrname!=admin@internal", {"bob"}),
    ("users", "user_and_domain=bob@ldap", {"bob"}),
    ("users", "login=bob", {"bob"}),
    ("users", "directory=internal-authz", {"admin"}),
    ("users", "department=dev", {"bob"}),
    ("users", "events.severity=error", {"bob"}),
    # --- tags ---
    ("tags", "name=prod", {"prod"}),
    ("tags", 'description="test tag"', {"test"}),
    ("tags", 'comment="prod note"', {"prod"}),
]


@pytest.mark.parametrize(("collection", "text", "expected"), CASES)
def test_each_field_returns_exactly_the_matching_objects(
    world: Database, collection: str, text: str, expected: set[str]
) -> None:
    assert search(world, collection, text) == expected


def test_enum_values_match_in_any_case_and_in_ovirt_spelling(world: Database) -> None:
    assert search(world, "vms", "status=UP") == {"vm1"}
    assert search(world, "vms", "status=MigratingTo or status=MigratingFrom") == {"vm3"}
    assert search(world, "vms", "status=PoweringUp") == set()
    assert search(world, "hosts", "external_status=Error") == {"h2"}
    assert search(world, "templates", "status=Locked") == {"t2"}


def test_case_insensitive_search_folds_text_fields(world: Database) -> None:
    assert search(world, "hosts", "cpu_model=xeon*", case_sensitive=False) == {"h1"}
    assert search(world, "hosts", "cpu_model=xeon*") == set()


def _fields_of(expr: Expr) -> set[str]:
    if isinstance(expr, Comparison):
        return {expr.field}
    return set().union(*(_fields_of(item) for item in expr.items))


def _tested_fields(collection: str) -> set[str]:
    found: set[str] = set()
    for name, text, _ in CASES:
        condition = parse_search(text).condition
        if name == collection and condition is not None:
            found |= _fields_of(condition)
    return found


@pytest.mark.parametrize("collection", sorted(COLLECTIONS))
def test_every_declared_field_and_cross_reference_has_a_case(collection: str) -> None:
    served = COLLECTIONS[collection]
    tested = _tested_fields(collection)
    own = set(served.searchable.entity.fields)
    assert own - tested == set(), "fields without a filtering case"
    for crossref in served.searchable.cross_refs:
        if crossref.link is not None:
            uses = {f for f in tested if f.split(".")[0] in crossref.names}
            assert uses, f"cross-reference {crossref.names[0]} without a case"


def test_the_service_serves_its_catalog_entry() -> None:
    for served in COLLECTIONS.values():
        assert set(served.fields) == set(served.searchable.resolvers())


def _refused() -> list[tuple[str, str]]:
    cases = []
    for collection, served in sorted(COLLECTIONS.items()):
        for name in sorted(served.searchable.entity.unsupported):
            cases.append((collection, name))
        for crossref in served.searchable.cross_refs:
            if crossref.link is None:
                cases.append((collection, f"{crossref.names[0]}.name"))
    return cases


@pytest.mark.parametrize(("collection", "field"), _refused())
def test_fields_without_data_are_refused_naming_them(collection: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{field}' is not supported"):
        COLLECTIONS[collection].fields[field](Operator.EQ, "x", True)


def test_unknown_fields_are_refused_with_the_allowed_names() -> None:
    with pytest.raises(InvalidInput, match="Unknown search field 'colour'"):
        condition = parse_search("colour=red").condition
        assert condition is not None
        compile_condition(condition, COLLECTIONS["vms"].fields, case_sensitive=True)
