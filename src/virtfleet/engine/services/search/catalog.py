"""What each collection's ``search=`` knows: oVirt's search fields per object, mapped to
virtfleet's tables, and the cross-references between objects.

The names follow oVirt's search back end (the condition-field auto-completers of ovirt-engine's
``searchbackend``); units follow it too (memory in MiB, storage space in GiB). A field oVirt knows
that virtfleet keeps no data for is declared ``unsupported`` and refused with a fault naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    and_,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
)

from virtfleet.common.apimodel.enums import (
    Architecture,
    BiosType,
    DataCenterStatus,
    DiskContentType,
    DiskStatus,
    DiskStorageType,
    ExternalStatus,
    HostStatus,
    HostType,
    JobStatus,
    LogSeverity,
    StorageDomainStatus,
    StorageType,
    TemplateStatus,
    VmStatus,
    VmType,
)
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.persistence import tables
from virtfleet.engine.services.search.ast import Operator
from virtfleet.engine.services.search.entities import CrossRef, Entity, Searchable
from virtfleet.engine.services.search.sql import (
    FieldResolver,
    Link,
    bool_field,
    datetime_field,
    enum_field,
    int_field,
    linked,
    number_field,
    text_field,
    through,
    version_field,
    via,
)

MIB = 2**20
GIB = 2**30

_DC = tables.data_centers
_C = tables.clusters
_H = tables.hosts
_SD = tables.storage_domains
_N = tables.networks
_P = tables.vnic_profiles
_T = tables.templates
_V = tables.vms
_D = tables.disks
_DA = tables.disk_attachments
_NIC = tables.nics
_TAG = tables.tags
_VT = tables.vm_tags
_U = tables.users
_E = tables.events
_J = tables.jobs
_CMD = tables.commands


# --- reading the documents ----------------------------------------------------------------------


def _doc(table: Table, *path: str) -> Any:
    return table.c.doc[path]


def doc_text(table: Table, *path: str) -> ColumnElement[str]:
    """A text value inside a row's document (``os.type``)."""
    value: ColumnElement[str] = _doc(table, *path).as_string()
    return value


def doc_int(table: Table, *path: str) -> ColumnElement[int]:
    """A 64-bit integer inside a document (sizes in bytes overflow PostgreSQL's ``integer``)."""
    return cast(_doc(table, *path).as_string(), BigInteger)


def doc_float(table: Table, *path: str) -> ColumnElement[float]:
    value: ColumnElement[float] = _doc(table, *path).as_float()
    return value


def doc_bool(table: Table, *path: str) -> ColumnElement[bool]:
    value: ColumnElement[bool] = _doc(table, *path).as_boolean()
    return value


def _values(enum: Iterable[Any]) -> list[str]:
    return [item.value for item in enum]


def _version(table: Table, *path: str) -> FieldResolver:
    return version_field(doc_int(table, *path, "major"), doc_int(table, *path, "minor"))


def _topology_product(table: Table, *parts: str) -> ColumnElement[int]:
    """Product of CPU topology parts, each 1 when absent: ``apimodel.common.vcpu_count`` in SQL."""
    product: ColumnElement[int] = literal(1)
    for part in parts:
        product = product * func.coalesce(doc_int(table, "cpu", "topology", part), 1)
    return product


def _count(table: Table, outer: Table, *where: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of ``table`` relate to the ``outer`` row being searched."""
    counted: ColumnElement[int] = (
        select(func.count()).select_from(table).where(*where).correlate(outer).scalar_subquery()
    )
    return counted


def _usage_field(table: Table, usage: str) -> FieldResolver:
    """Whether a network's ``usages`` list holds ``usage`` (``vmnetwork=true``)."""
    # the list as JSON text (``["vm","display"]``); usages are fixed words, so a quoted one is it
    serialized = func.coalesce(doc_text(table, "usages"), "")
    return bool_field(serialized.like(f'%"{usage}"%'))


def _allocation_field(sparse: ColumnElement[bool]) -> FieldResolver:
    """oVirt's volume types: ``sparse`` (thin) or ``preallocated``."""
    flags = bool_field(sparse)
    choices = {"sparse": "true", "preallocated": "false"}

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        flag = choices.get(value.lower())
        if flag is None:
            raise InvalidInput(f"Invalid search value '{value}': expected preallocated or sparse")
        return flags(op, flag, case_sensitive)

    return resolve


def _any_of(*resolvers: FieldResolver) -> FieldResolver:
    """One field answered several ways (a user's login in either spelling, a template's data
    center by cluster or by storage): any of them matches; ``!=`` means none equals."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        if op is Operator.NE:
            return not_(or_(*(r(Operator.EQ, value, case_sensitive) for r in resolvers)))
        return or_(*(r(op, value, case_sensitive) for r in resolvers))

    return resolve


def _common(table: Table) -> dict[str, FieldResolver]:
    """What most objects share: name, description, comment."""
    return {
        "name": text_field(table.c.name),
        "description": text_field(doc_text(table, "description")),
        "comment": text_field(doc_text(table, "comment")),
    }


# --- links between tables -----------------------------------------------------------------------

VM_TO_CLUSTER = via(_V.c.cluster_id, _C.c.id)
VM_TO_HOST = via(_V.c.host_id, _H.c.id)
VM_TO_TEMPLATE = via(_V.c.template_id, _T.c.id)
VM_TO_DISK = through(via(_V.c.id, _DA.c.vm_id), via(_DA.c.disk_id, _D.c.id))
DISK_TO_STORAGE = via(_D.c.storage_domain_id, _SD.c.id)
CLUSTER_TO_DATACENTER = via(_C.c.data_center_id, _DC.c.id)
HOST_TO_CLUSTER = via(_H.c.cluster_id, _C.c.id)
TEMPLATE_TO_CLUSTER = via(_T.c.cluster_id, _C.c.id)
TEMPLATE_TO_DISK = through(via(_T.c.id, _DA.c.template_id), via(_DA.c.disk_id, _D.c.id))
STORAGE_TO_DATACENTER = via(_SD.c.data_center_id, _DC.c.id)
NETWORK_TO_DATACENTER = via(_N.c.data_center_id, _DC.c.id)
PROFILE_TO_NETWORK = via(_P.c.network_id, _N.c.id)


def _datacenter_name(link: Link) -> FieldResolver:
    return linked(link, text_field(_DC.c.name))


def _in_every_datacenter(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
    """A template bound to no cluster and no storage, when some data center matches."""
    unbound = and_(
        _T.c.cluster_id.is_(None),
        ~select(_DA.c.id).where(_DA.c.template_id == _T.c.id).correlate(_T).exists(),
    )
    matching = select(_DC.c.id).where(text_field(_DC.c.name)(op, value, case_sensitive))
    return and_(unbound, matching.exists())


# --- the objects' own fields --------------------------------------------------------------------

DATACENTER = Entity(
    {
        **_common(_DC),
        "local": bool_field(doc_bool(_DC, "local")),
        "status": enum_field(_DC.c.status, _values(DataCenterStatus)),
        "compatibility_version": _version(_DC, "version"),
    }
)

CLUSTER = Entity(
    {
        **_common(_C),
        "architecture": enum_field(doc_text(_C, "cpu", "architecture"), _values(Architecture)),
        "compatibility_level": _version(_C, "version"),
        "cpu_type": text_field(doc_text(_C, "cpu", "type")),
    }
)

# a host's active VMs and committed memory: those holding memory on it, as the scheduler counts
_VM_ON_HOST = (
    _V.c.host_id == _H.c.id,
    _V.c.status.in_(sorted(status.value for status in HOLDING_VM_STATUSES)),
)

HOST = Entity(
    {
        **_common(_H),
        "id": text_field(_H.c.id),
        "status": enum_field(_H.c.status, _values(HostStatus)),
        "external_status": enum_field(doc_text(_H, "external_status"), _values(ExternalStatus)),
        "cluster": linked(HOST_TO_CLUSTER, text_field(_C.c.name)),
        "datacenter": _datacenter_name(through(HOST_TO_CLUSTER, CLUSTER_TO_DATACENTER)),
        "address": text_field(_H.c.address),
        "version": text_field(doc_text(_H, "version", "full_version")),
        "cpus": int_field(_topology_product(_H, "sockets", "cores")),
        "memory": int_field(_H.c.memory, MIB),
        "cpu_speed": number_field(doc_float(_H, "cpu", "speed")),
        "cpu_model": text_field(doc_text(_H, "cpu", "name")),
        "active_vms": int_field(_count(_V, _H, *_VM_ON_HOST)),
        "migrating_vms": int_field(
            _count(_V, _H, _V.c.host_id == _H.c.id, _V.c.status == VmStatus.MIGRATING.value)
        ),
        "committed_mem": int_field(
            select(func.coalesce(func.sum(_V.c.memory), 0))
            .where(*_VM_ON_HOST)
            .correlate(_H)
            .scalar_subquery(),
            MIB,
        ),
        "type": enum_field(doc_text(_H, "type"), _values(HostType)),
        "architecture": enum_field(doc_text(_H, "cpu", "architecture"), _values(Architecture)),
        "update_available": bool_field(doc_bool(_H, "update_available")),
        "hw_id": text_field(_H.c.host_uuid),
    },
    unsupported=frozenset(
        {"cpu_usage", "mem_usage", "network_usage", "load", "tag", "ha_score", "spm_id"}
    ),
)

# oVirt's engine-side VM statuses that the API (and virtfleet) name otherwise
_OVIRT_VM_STATUSES = {
    "MigratingFrom": VmStatus.MIGRATING.value,
    "MigratingTo": VmStatus.MIGRATING.value,
}

_VM_TEXT = {**_common(_V), "id": text_field(_V.c.id)}

VM = Entity(
    {
        **_VM_TEXT,
        "status": enum_field(_V.c.status, _values(VmStatus), _OVIRT_VM_STATUSES),
        "on_host": linked(VM_TO_HOST, text_field(_H.c.name)),
        "fqdn": text_field(doc_text(_V, "fqdn")),
        "os": text_field(doc_text(_V, "os", "type")),
        "creationdate": datetime_field(_V.c.created_at),
        "memory": int_field(_V.c.memory, MIB),
        "guaranteed_memory": int_field(doc_int(_V, "memory_policy", "guaranteed"), MIB),
        "cluster": linked(VM_TO_CLUSTER, text_field(_C.c.name)),
        "tag": linked(
            through(via(_V.c.id, _VT.c.vm_id), via(_VT.c.tag_id, _TAG.c.id)),
            text_field(_TAG.c.name),
        ),
        "datacenter": _datacenter_name(through(VM_TO_CLUSTER, CLUSTER_TO_DATACENTER)),
        "type": enum_field(doc_text(_V, "type"), _values(VmType)),
        "architecture": linked(
            VM_TO_CLUSTER,
            enum_field(doc_text(_C, "cpu", "architecture"), _values(Architecture)),
        ),
        "custom_emulated_machine": text_field(doc_text(_V, "custom_emulated_machine")),
        "custom_cpu_type": text_field(doc_text(_V, "custom_cpu_model")),
        "compatibility_level": linked(VM_TO_CLUSTER, _version(_C, "version")),
        "custom_compatibility_level": _version(_V, "custom_compatibility_version"),
        "next_run_config_exists": bool_field(doc_bool(_V, "next_run_configuration_exists")),
        "has_illegal_images": bool_field(doc_bool(_V, "has_illegal_images")),
        "bios_type": enum_field(doc_text(_V, "bios", "type"), _values(BiosType)),
        "vcpus": int_field(_topology_product(_V, "sockets", "cores", "threads")),
    },
    unsupported=frozenset(
        {
            "ip",
            "uptime",
            "address",
            "cpu_usage",
            "mem_usage",
            "network_usage",
            "migration_progress_percent",
            "apps",
            "pool",
            "loggedinuser",
            "quota",
            "created_by_user_id",
            "k8s_namespace",
        }
    ),
)

TEMPLATE = Entity(
    {
        **_common(_T),
        "_vmt_id": text_field(_T.c.id),
        "id": text_field(_T.c.id),
        "os": text_field(doc_text(_T, "os", "type")),
        "creationdate": datetime_field(_T.c.created_at),
        "childcount": int_field(_count(_V, _T, _V.c.template_id == _T.c.id)),
        "mem": int_field(doc_int(_T, "memory"), MIB),
        "status": enum_field(_T.c.status, _values(TemplateStatus)),
        "cluster": linked(TEMPLATE_TO_CLUSTER, text_field(_C.c.name)),
        # A template belongs to a data center through its cluster, or through the storage of
        # its disks when it has no cluster; one with neither (Blank) serves every data center.
        "datacenter": _any_of(
            _datacenter_name(through(TEMPLATE_TO_CLUSTER, CLUSTER_TO_DATACENTER)),
            _datacenter_name(through(TEMPLATE_TO_DISK, DISK_TO_STORAGE, STORAGE_TO_DATACENTER)),
            _in_every_datacenter,
        ),
        "architecture": linked(
            TEMPLATE_TO_CLUSTER,
            enum_field(doc_text(_C, "cpu", "architecture"), _values(Architecture)),
        ),
        "version_name": text_field(doc_text(_T, "version", "version_name")),
    },
    unsupported=frozenset({"sealed", "quota", "tag"}),
)

STORAGE = Entity(
    {
        **_common(_SD),
        "id": text_field(_SD.c.id),
        "status": enum_field(_SD.c.status, _values(StorageDomainStatus)),
        "external_status": enum_field(doc_text(_SD, "external_status"), _values(ExternalStatus)),
        "datacenter": _datacenter_name(STORAGE_TO_DATACENTER),
        "type": enum_field(doc_text(_SD, "storage", "type"), _values(StorageType)),
        "free_size": int_field(doc_int(_SD, "available"), GIB),
        "used_size": int_field(doc_int(_SD, "used"), GIB),
        "total_size": int_field(
            func.coalesce(doc_int(_SD, "available"), 0) + func.coalesce(doc_int(_SD, "used"), 0),
            GIB,
        ),
        "committed": int_field(doc_int(_SD, "committed"), GIB),
        "wipe_after_delete": bool_field(doc_bool(_SD, "wipe_after_delete")),
        "discard_after_delete": bool_field(doc_bool(_SD, "discard_after_delete")),
        "low_space_threshold": int_field(doc_int(_SD, "warning_low_space_indicator")),
        "critical_space_threshold": int_field(doc_int(_SD, "critical_space_action_blocker")),
        "backup": bool_field(doc_bool(_SD, "backup")),
    },
    unsupported=frozenset({"shared_status"}),
)

_DISK_VMS = via(_D.c.id, _DA.c.disk_id)

DISK = Entity(
    {
        **_common(_D),
        "alias": text_field(_D.c.name),
        "id": text_field(_D.c.id),
        "provisioned_size": int_field(_D.c.provisioned_size),
        "size": int_field(_D.c.provisioned_size),
        "actual_size": int_field(doc_int(_D, "actual_size")),
        "creation_date": datetime_field(_D.c.created_at),
        "shareable": bool_field(doc_bool(_D, "shareable")),
        "status": enum_field(_D.c.status, _values(DiskStatus)),
        "disk_type": enum_field(
            func.coalesce(doc_text(_D, "storage_type"), DiskStorageType.IMAGE.value),
            _values(DiskStorageType),
        ),
        "disk_content_type": enum_field(
            func.coalesce(doc_text(_D, "content_type"), DiskContentType.DATA.value),
            _values(DiskContentType),
        ),
        "allocation_policy": _allocation_field(doc_bool(_D, "sparse")),
        "number_of_vms": int_field(
            _count(_DA, _D, _DA.c.disk_id == _D.c.id, _DA.c.vm_id.is_not(None))
        ),
        "vm_names": linked(_DISK_VMS, linked(via(_DA.c.vm_id, _V.c.id), text_field(_V.c.name))),
        "wipe_after_delete": bool_field(doc_bool(_D, "wipe_after_delete")),
    },
    unsupported=frozenset({"quota", "last_modified"}),
)

NETWORK = Entity(
    {
        **_common(_N),
        "vlanid": int_field(doc_int(_N, "vlan", "id")),
        "stp": bool_field(doc_bool(_N, "stp")),
        "mtu": int_field(doc_int(_N, "mtu")),
        "vmnetwork": _usage_field(_N, "vm"),
        "datacenter": _datacenter_name(NETWORK_TO_DATACENTER),
    },
    unsupported=frozenset({"label", "provider_name", "qos_name"}),
)

VNIC_PROFILE = Entity(
    {
        "name": text_field(_P.c.name),
        "description": text_field(doc_text(_P, "description")),
        "port_mirroring": bool_field(doc_bool(_P, "port_mirroring")),
        "passthrough": bool_field(doc_text(_P, "pass_through", "mode") == "enabled"),
        "network_name": linked(PROFILE_TO_NETWORK, text_field(_N.c.name)),
        "network": linked(PROFILE_TO_NETWORK, text_field(_N.c.name)),
        "compatibility_version": linked(
            through(PROFILE_TO_NETWORK, NETWORK_TO_DATACENTER), _version(_DC, "version")
        ),
        "datacenter": _datacenter_name(through(PROFILE_TO_NETWORK, NETWORK_TO_DATACENTER)),
    },
    unsupported=frozenset({"qos_name", "network_filter", "failover"}),
)

VNIC = Entity(
    {
        "name": text_field(_NIC.c.name),
        "mac": text_field(_NIC.c.mac),
        "network_name": linked(
            through(via(_NIC.c.vnic_profile_id, _P.c.id), PROFILE_TO_NETWORK),
            text_field(_N.c.name),
        ),
    }
)


def _user_login() -> ColumnElement[str]:
    """oVirt's user name: ``principal@authz`` (``admin@internal-authz``)."""
    login: ColumnElement[str] = (
        func.coalesce(doc_text(_U, "principal"), _U.c.name)
        + literal("@", String())
        + func.coalesce(doc_text(_U, "domain", "name"), "")
    )
    return login


USER = Entity(
    {
        "name": text_field(_U.c.name),
        "lastname": text_field(doc_text(_U, "last_name")),
        # the login with its authorization profile, or with its login profile (admin@internal)
        "usrname": _any_of(text_field(_user_login()), text_field(doc_text(_U, "user_name"))),
        "user_and_domain": text_field(doc_text(_U, "user_name")),
        "login": text_field(doc_text(_U, "principal")),
        "directory": text_field(doc_text(_U, "domain", "name")),
        "department": text_field(doc_text(_U, "department")),
    },
    unsupported=frozenset({"tag", "pool", "type"}),
)

_EVENT_OBJECTS = {
    "event_host": (_E.c.host_id, _H),
    "event_vm": (_E.c.vm_id, _V),
    "event_template": (_E.c.template_id, _T),
    "event_storage": (_E.c.storage_domain_id, _SD),
    "event_datacenter": (_E.c.data_center_id, _DC),
}

EVENT = Entity(
    {
        "type": int_field(_E.c.code),
        "severity": enum_field(_E.c.severity, _values(LogSeverity)),
        "message": text_field(_E.c.description),
        "time": datetime_field(_E.c.time),
        "usrname": linked(via(_E.c.user_id, _U.c.id), USER.fields["usrname"]),
        "usrid": text_field(_E.c.user_id),
        "correlation_id": text_field(_E.c.correlation_id),
        **{
            name: linked(via(column, table.c.id), text_field(table.c.name))
            for name, (column, table) in _EVENT_OBJECTS.items()
        },
        **{f"_{name}_id": text_field(column) for name, (column, _) in _EVENT_OBJECTS.items()},
    },
    unsupported=frozenset(
        {
            "origin",
            "custom_event_id",
            "deleted",
            "event_volume",
            "_event_volume_id",
            "_event_quota_id",
        }
    ),
    name_field="message",
)

JOB = Entity(
    {
        "status": enum_field(_J.c.status, _values(JobStatus)),
        "description": text_field(doc_text(_J, "description")),
        "correlation_id": linked(via(_J.c.id, _CMD.c.job_id), text_field(_CMD.c.correlation_id)),
    },
    name_field="description",
)

TAG = Entity({**_common(_TAG)})

# oVirt has no pools, quotas, gluster volumes or providers in virtfleet yet: cross-references to
# them are refused like unsupported fields.
_NOTHING = Entity({"name": text_field(literal("", String()))})

# --- collections: an entity with its cross-references -------------------------------------------

VMS = Searchable(
    VM,
    (
        CrossRef(("host", "hosts"), HOST, VM_TO_HOST),
        CrossRef(("template", "templates"), TEMPLATE, VM_TO_TEMPLATE),
        CrossRef(("event", "events"), EVENT, via(_V.c.id, _E.c.vm_id)),
        CrossRef(("user", "users"), USER, None),
        CrossRef(("storage",), STORAGE, through(VM_TO_DISK, DISK_TO_STORAGE)),
        CrossRef(("vnic",), VNIC, via(_V.c.id, _NIC.c.vm_id)),
        # not in oVirt's list for VMs, kept for scripts written against earlier virtfleet
        CrossRef(("clusters",), CLUSTER, VM_TO_CLUSTER),
    ),
    extra={"cluster.name": linked(VM_TO_CLUSTER, text_field(_C.c.name))},
    prefixes=("VM", "VMS"),
)

HOSTS = Searchable(
    HOST,
    (
        CrossRef(("vm", "vms"), VM, via(_H.c.id, _V.c.host_id)),
        CrossRef(
            ("template", "templates"), TEMPLATE, through(via(_H.c.id, _V.c.host_id), VM_TO_TEMPLATE)
        ),
        CrossRef(("event", "events"), EVENT, via(_H.c.id, _E.c.host_id)),
        CrossRef(("user", "users"), USER, None),
        CrossRef(
            ("storage",),
            STORAGE,
            through(HOST_TO_CLUSTER, via(_C.c.data_center_id, _SD.c.data_center_id)),
        ),
        CrossRef(("nic",), _NOTHING, None),
    ),
    extra={"cluster.name": HOST.fields["cluster"]},
    prefixes=("HOST", "HOSTS"),
)

TEMPLATES = Searchable(
    TEMPLATE,
    (
        CrossRef(("vm", "vms"), VM, via(_T.c.id, _V.c.template_id)),
        CrossRef(("host", "hosts"), HOST, through(via(_T.c.id, _V.c.template_id), VM_TO_HOST)),
        CrossRef(("event", "events"), EVENT, via(_T.c.id, _E.c.template_id)),
        CrossRef(("user", "users"), USER, None),
        CrossRef(("storage",), STORAGE, through(TEMPLATE_TO_DISK, DISK_TO_STORAGE)),
        CrossRef(("vnic",), VNIC, via(_T.c.id, _NIC.c.template_id)),
    ),
    prefixes=("TEMPLATE", "TEMPLATES"),
)

DATACENTERS = Searchable(
    DATACENTER,
    (
        CrossRef(("cluster", "clusters"), CLUSTER, via(_DC.c.id, _C.c.data_center_id)),
        CrossRef(("storage", "storages"), STORAGE, via(_DC.c.id, _SD.c.data_center_id)),
        CrossRef(("network", "networks"), NETWORK, via(_DC.c.id, _N.c.data_center_id)),
    ),
    prefixes=("DATACENTER",),
)

STORAGE_DOMAINS = Searchable(
    STORAGE,
    (
        CrossRef(
            ("host", "hosts"),
            HOST,
            through(via(_SD.c.data_center_id, _C.c.data_center_id), via(_C.c.id, _H.c.cluster_id)),
        ),
        CrossRef(("cluster", "clusters"), CLUSTER, via(_SD.c.data_center_id, _C.c.data_center_id)),
    ),
    prefixes=("STORAGE", "STORAGES"),
)

CLUSTERS = Searchable(
    CLUSTER,
    (
        CrossRef(("datacenter",), DATACENTER, CLUSTER_TO_DATACENTER),
        CrossRef(("storage",), STORAGE, via(_C.c.data_center_id, _SD.c.data_center_id)),
        CrossRef(("cluster_network",), NETWORK, None),
    ),
    prefixes=("CLUSTER", "CLUSTERS"),
)

DISKS = Searchable(
    DISK,
    (
        CrossRef(("datacenter",), DATACENTER, through(DISK_TO_STORAGE, STORAGE_TO_DATACENTER)),
        CrossRef(("storage", "storages"), STORAGE, DISK_TO_STORAGE),
    ),
    prefixes=("DISK", "DISKS"),
)

NETWORKS = Searchable(
    NETWORK,
    (
        CrossRef(("datacenter",), DATACENTER, NETWORK_TO_DATACENTER),
        CrossRef(("cluster_network",), CLUSTER, None),
        CrossRef(("host_network",), HOST, None),
        CrossRef(("provider",), _NOTHING, None),
    ),
    prefixes=("NETWORK", "NETWORKS"),
)

VNIC_PROFILES = Searchable(VNIC_PROFILE, prefixes=("VNICPROFILE", "VNICPROFILES"))

EVENTS = Searchable(
    EVENT,
    (
        CrossRef(("vm", "vms"), VM, via(_E.c.vm_id, _V.c.id)),
        CrossRef(("host", "hosts"), HOST, via(_E.c.host_id, _H.c.id)),
        CrossRef(("template", "templates"), TEMPLATE, via(_E.c.template_id, _T.c.id)),
        CrossRef(("user", "users"), USER, via(_E.c.user_id, _U.c.id)),
        CrossRef(("cluster", "clusters"), CLUSTER, via(_E.c.cluster_id, _C.c.id)),
        CrossRef(("volume", "volumes"), _NOTHING, None),
        CrossRef(("quota",), _NOTHING, None),
    ),
    # free text in oVirt searches the message; virtfleet's name field did so already
    extra={"name": text_field(_E.c.description)},
    prefixes=("EVENT", "EVENTS"),
)

USERS = Searchable(
    USER,
    (
        CrossRef(("vm", "vms"), VM, None),
        CrossRef(("host", "hosts"), HOST, None),
        CrossRef(("template", "templates"), TEMPLATE, None),
        CrossRef(("event", "events"), EVENT, via(_U.c.id, _E.c.user_id)),
    ),
    prefixes=("USER", "USERS"),
)

JOBS = Searchable(JOB, prefixes=("JOB", "JOBS"))

# oVirt has no search object for tags: a query on them takes no prefix
TAGS = Searchable(TAG)
