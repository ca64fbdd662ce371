"""Data centers: the top of the tree; each has clusters, networks and storage domains."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import DataCenterStatus, QuotaModeType, StorageFormat
from virtfleet.common.errors import Conflict
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import DocumentService, Options, Scope
from virtfleet.engine.services.compat import COMPATIBILITY_VERSION, SUPPORTED_VERSIONS
from virtfleet.engine.services.networks import add_management_network
from virtfleet.engine.services.refs import new_id, require_name
from virtfleet.engine.services.search import catalog

_T = tables.data_centers


class DataCenterService(DocumentService[m.DataCenter]):
    search_fields: ClassVar = catalog.DATACENTERS.resolvers()
    immutable_fields = frozenset({"id", "href", "status"})

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.data_centers)

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.DataCenter, options: Options
    ) -> m.DataCenter:
        require_name(obj, "data center")
        return obj.model_copy(
            update={
                "id": new_id(),
                "status": DataCenterStatus.UNINITIALIZED,
                "local": bool(obj.local),
                "storage_format": obj.storage_format or StorageFormat.V5,
                "version": obj.version or COMPATIBILITY_VERSION,
                "supported_versions": SUPPORTED_VERSIONS,
                "quota_mode": obj.quota_mode or QuotaModeType.DISABLED,
            }
        )

    def after_add(self, conn: Connection, scope: Scope, obj: m.DataCenter) -> None:
        assert obj.id is not None
        add_management_network(conn, obj.id)

    def before_remove(
        self, conn: Connection, scope: Scope, obj: m.DataCenter, options: Options
    ) -> None:
        attached = repos.storage_domains.count(
            conn, tables.storage_domains.c.data_center_id == obj.id
        )
        if attached and not options.flag("force"):
            raise Conflict(
                f"Cannot remove data center '{obj.name}': detach its {attached} storage "
                "domain(s) first"
            )
        # clusters of a removed data center stay, unattached, as in oVirt
        for cluster in repos.clusters.query(conn, tables.clusters.c.data_center_id == obj.id):
            repos.clusters.save(conn, cluster.model_copy(update={"data_center": None}))
