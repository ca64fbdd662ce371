"""The schema. Each resource is a row of searchable columns plus its full model as a JSON document.

The columns are what searches, joins, uniqueness and compare-and-swap need; the document keeps
every other field of the API type, so adding a model field needs no migration. Changing a column
does: see ``migrations/``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)


def _document_table(name: str, *extra: Column[Any] | Index | UniqueConstraint) -> Table:
    """A resource table: id, name, status, version (for compare-and-swap), document, and extras."""
    return Table(
        name,
        metadata,
        Column("id", ID, primary_key=True),
        Column("name", String(255), nullable=False, index=True),
        Column("status", String(40), nullable=True, index=True),
        Column("version", Integer, nullable=False, default=1),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("doc", JSON, nullable=False),
        *extra,
    )


def _ref(column: str, table: str, *, nullable: bool = True, cascade: bool = False) -> Column[str]:
    return Column(
        column,
        ID,
        ForeignKey(f"{table}.id", ondelete="CASCADE" if cascade else None),
        nullable=nullable,
        index=True,
    )


data_centers = _document_table("data_centers", UniqueConstraint("name"))
clusters = _document_table(
    "clusters", _ref("data_center_id", "data_centers"), UniqueConstraint("name")
)
hosts = _document_table(
    "hosts",
    _ref("cluster_id", "clusters", nullable=False),
    Column("address", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("host_uuid", String(36), nullable=True),
    # capacity the scheduler reads for every placement, so it needs no document parsing
    Column("memory", BigInteger, nullable=True),
    Column("cpu_threads", Integer, nullable=True),
    UniqueConstraint("name"),
)
storage_domains = _document_table(
    "storage_domains",
    _ref("data_center_id", "data_centers"),
    Column("path", Text, nullable=False),
    UniqueConstraint("name"),
)
networks = _document_table(
    "networks",
    _ref("data_center_id", "data_centers", nullable=False, cascade=True),
    UniqueConstraint("data_center_id", "name"),
)
vnic_profiles = _document_table(
    "vnic_profiles",
    _ref("network_id", "networks", nullable=False, cascade=True),
    UniqueConstraint("network_id", "name"),
)
templates = _document_table("templates", _ref("cluster_id", "clusters"))
vms = _document_table(
    "vms",
    _ref("cluster_id", "clusters", nullable=False),
    _ref("template_id", "templates"),
    _ref("host_id", "hosts"),
    Column("memory", BigInteger, nullable=True),
    UniqueConstraint("name"),
    # Placement sums what each host's VMs hold on every start: from this index alone, never
    # reading the documents, so its cost stays small with tens of thousands of VMs.
    Index("ix_vms_placement", "host_id", "status", "memory", "id"),
)
disks = _document_table(
    "disks",
    _ref("storage_domain_id", "storage_domains"),
    Column("provisioned_size", BigInteger, nullable=True),
)
disk_attachments = _document_table(
    "disk_attachments",
    _ref("vm_id", "vms", cascade=True),
    _ref("template_id", "templates", cascade=True),
    _ref("disk_id", "disks", nullable=False),
)
nics = _document_table(
    "nics",
    _ref("vm_id", "vms", cascade=True),
    _ref("template_id", "templates", cascade=True),
    _ref("vnic_profile_id", "vnic_profiles"),
    Column("mac", String(17), nullable=True, unique=True),
)
tags = _document_table("tags", _ref("parent_id", "tags"), UniqueConstraint("name"))
# Which tags are assigned to which VMs (``/vms/{id}/tags``); gone with either side.
vm_tags = Table(
    "vm_tags",
    metadata,
    Column("vm_id", ID, ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ID, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)
# A running VM's changes kept for its next run (oVirt's next-run configuration): only the
# fields that change, applied when the VM goes down.
vm_next_runs = Table(
    "vm_next_runs",
    metadata,
    Column("vm_id", ID, ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("doc", JSON, nullable=False),
)
# VMs that have run once (oVirt's ``is_initialized``): a VM's stored ``initialization`` is
# applied on its first run only, then only when a start asks for it (run once).
initialized_vms = Table(
    "initialized_vms",
    metadata,
    Column("vm_id", ID, ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("first_run", DateTime(timezone=True), nullable=False),
)
users = _document_table(
    "users", Column("password_hash", Text, nullable=True), UniqueConstraint("name")
)
# Roles granted to users, on the whole system or on one object (oVirt's permissions); the
# object is named by kind and id since it may live in any table.
permissions = Table(
    "permissions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("role_id", ID, nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("object_type", String(32), nullable=False),
    Column("object_id", ID, nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# Networks attached to clusters, with the cluster's own settings for each: whether hosts must
# have it, and the roles (display, migration, management) it plays in that cluster.
cluster_networks = Table(
    "cluster_networks",
    metadata,
    Column("cluster_id", ID, ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "network_id",
        ID,
        ForeignKey("networks.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("required", Boolean, nullable=False),
    Column("usages", JSON, nullable=False),
)
jobs = _document_table(
    "jobs",
    Column("start_time", DateTime(timezone=True), nullable=False, index=True),
    Column("end_time", DateTime(timezone=True), nullable=True),
)
steps = _document_table(
    "steps",
    _ref("job_id", "jobs", nullable=False, cascade=True),
    Column("number", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("code", Integer, nullable=False),
    Column("severity", String(16), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("correlation_id", String(64), nullable=True),
    Column("vm_id", ID, nullable=True, index=True),
    Column("host_id", ID, nullable=True, index=True),
    Column("cluster_id", ID, nullable=True),
    Column("data_center_id", ID, nullable=True),
    Column("storage_domain_id", ID, nullable=True),
    Column("template_id", ID, nullable=True),
    Column("user_id", ID, nullable=True),
    Column("job_id", ID, nullable=True),
)

commands = Table(
    "commands",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("job_id", ID, ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
    Column("state", String(24), nullable=False, index=True),
    Column("next_step", Integer, nullable=False),
    Column("params", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Column("error", Text, nullable=True),
    Column("correlation_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Objects held by a running command; a restart releases what no live command holds.
locks = Table(
    "locks",
    metadata,
    Column("object_id", ID, primary_key=True),
    Column("command_id", ID, ForeignKey("commands.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(64), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
)
