"""Clusters: sets of compatible hosts sharing CPU type, networks and scheduling rules."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import Architecture, MigrationBandwidthAssignmentMethod
from virtfleet.common.cputypes import cluster_cpu_type
from virtfleet.common.errors import Conflict
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.scheduler.policies import policy_for
from virtfleet.engine.services.base import DocumentService, Options, Scope
from virtfleet.engine.services.cluster_networks import (
    attach_management_network,
    replace_data_center,
)
from virtfleet.engine.services.compat import COMPATIBILITY_VERSION, SUPPORTED_VERSIONS
from virtfleet.engine.services.refs import new_id, reference, require_name, resolve_optional
from virtfleet.engine.services.search import catalog

_T = tables.clusters


def scheduling_policy_ref(named: m.SchedulingPolicy | None) -> m.SchedulingPolicy:
    """The policy a cluster names (by id or name, oVirt's default when none), stored by id; a
    400 fault for a policy that does not exist. Stored references carry no name, so a name
    always comes from the client and wins over the id an update merged it with."""
    policy = policy_for((named.name or named.id) if named is not None else None)
    return m.SchedulingPolicy(id=policy.id)


def cluster_defaults(obj: m.Cluster) -> dict[str, object]:
    """What oVirt fills in for a new cluster when the client leaves it out."""
    return {
        "cpu": obj.cpu or m.Cpu(architecture=Architecture.X86_64),
        "version": obj.version or COMPATIBILITY_VERSION,
        "supported_versions": SUPPORTED_VERSIONS,
        "ksm": obj.ksm or m.Ksm(enabled=True, merge_across_nodes=True),
        "fencing_policy": obj.fencing_policy
        or m.FencingPolicy(
            enabled=True,
            skip_if_sd_active=m.SkipIfSdActive(enabled=False),
            skip_if_connectivity_broken=m.SkipIfConnectivityBroken(enabled=False, threshold=50),
        ),
        "migration": obj.migration
        or m.MigrationOptions(
            bandwidth=m.MigrationBandwidth(
                assignment_method=MigrationBandwidthAssignmentMethod.AUTO
            )
        ),
        "memory_policy": obj.memory_policy
        or m.MemoryPolicy(over_commit=m.MemoryOverCommit(percent=100)),
        "ballooning_enabled": obj.ballooning_enabled
        if obj.ballooning_enabled is not None
        else True,
        "virt_service": obj.virt_service if obj.virt_service is not None else True,
        "gluster_service": bool(obj.gluster_service),
        "ha_reservation": bool(obj.ha_reservation),
        "threads_as_cores": bool(obj.threads_as_cores),
        "error_handling": obj.error_handling or m.ErrorHandling(on_error="migrate"),
    }


class ClusterService(DocumentService[m.Cluster]):
    search_fields: ClassVar = catalog.CLUSTERS.resolvers()

    def __init__(self, database: Database, *, parent_column: str | None = None) -> None:
        super().__init__(database, repos.clusters, parent_column=parent_column)

    def _checked(self, conn: Connection, obj: m.Cluster) -> m.Cluster:
        """A cluster whose name, data center and CPU type are all real."""
        require_name(obj, "cluster")
        if obj.cpu is not None and obj.cpu.type:
            cluster_cpu_type(obj.cpu.type)
        data_center = resolve_optional(
            conn, repos.data_centers, obj.data_center, field="data_center"
        )
        return obj.model_copy(
            update={
                "data_center": reference(m.DataCenter, data_center),
                "scheduling_policy": scheduling_policy_ref(obj.scheduling_policy),
            }
        )

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.Cluster, options: Options
    ) -> m.Cluster:
        obj = self._checked(conn, obj)
        return obj.model_copy(update={"id": new_id(), **cluster_defaults(obj)})

    def after_add(self, conn: Connection, scope: Scope, obj: m.Cluster) -> None:
        attach_management_network(conn, obj)

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Cluster, updated: m.Cluster
    ) -> m.Cluster:
        checked = self._checked(conn, updated)
        replace_data_center(conn, checked, current)
        return checked

    def before_remove(
        self, conn: Connection, scope: Scope, obj: m.Cluster, options: Options
    ) -> None:
        in_cluster = (
            (repos.hosts, tables.hosts.c.cluster_id == obj.id, "host"),
            (repos.vms, tables.vms.c.cluster_id == obj.id, "VM"),
        )
        for repo, condition, what in in_cluster:
            count = repo.count(conn, condition)
            if count:
                raise Conflict(
                    f"Cannot remove cluster '{obj.name}': it still has {count} {what}(s)"
                )
        for template in repos.templates.query(conn, tables.templates.c.cluster_id == obj.id):
            repos.templates.save(conn, template.model_copy(update={"cluster": None}))
