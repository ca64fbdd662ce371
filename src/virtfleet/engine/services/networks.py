"""Logical networks of data centers and the vNIC profiles VMs connect through."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import ColumnElement, Connection, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import NetworkStatus, NetworkUsage
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import DocumentService, Options, Scope
from virtfleet.engine.services.refs import new_id, reference, require_name, resolve
from virtfleet.engine.services.search import catalog

MANAGEMENT_NETWORK = "ovirtmgmt"
_N = tables.networks
_P = tables.vnic_profiles


class NetworkService(DocumentService[m.Network]):
    """Networks, all or those of one data center (``scope_kind="data_center"``)."""

    search_fields: ClassVar = catalog.NETWORKS.resolvers()
    immutable_fields = frozenset({"id", "href", "data_center"})

    def __init__(self, database: Database, *, scope_kind: str | None = None) -> None:
        super().__init__(database, repos.networks)
        self.scope_kind = scope_kind

    def scope_filter(self, scope: Scope) -> ColumnElement[bool] | None:
        if self.scope_kind == "data_center":
            return _N.c.data_center_id == scope.parent
        return None

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.Network, options: Options
    ) -> m.Network:
        require_name(obj, "network")
        data_center = resolve(conn, repos.data_centers, obj.data_center, field="data_center")
        if obj.vlan is not None and obj.vlan.id is not None and not 0 <= obj.vlan.id <= 4094:
            raise InvalidInput("A VLAN tag must be between 0 and 4094")
        if obj.mtu is not None and obj.mtu != 0 and not 68 <= obj.mtu <= 9000:
            raise InvalidInput("The MTU must be 0 (default) or between 68 and 9000")
        network = obj.model_copy(
            update={
                "id": new_id(),
                "data_center": reference(m.DataCenter, data_center),
                "usages": obj.usages if obj.usages is not None else [NetworkUsage.VM],
                "mtu": obj.mtu or 0,
                "stp": bool(obj.stp),
                "required": obj.required if obj.required is not None else True,
                "status": NetworkStatus.OPERATIONAL,
                "profile_required": True,
            }
        )
        return network

    def after_add(self, conn: Connection, scope: Scope, obj: m.Network) -> None:
        # like oVirt, a new VM network gets a vNIC profile of the same name
        if NetworkUsage.VM in (obj.usages or []):
            repos.vnic_profiles.insert(conn, default_profile(obj))

    def before_remove(
        self, conn: Connection, scope: Scope, obj: m.Network, options: Options
    ) -> None:
        if obj.name == MANAGEMENT_NETWORK:
            raise Conflict("The management network cannot be removed")
        profiles = select(_P.c.id).where(_P.c.network_id == obj.id)
        if repos.nics.count(conn, tables.nics.c.vnic_profile_id.in_(profiles)):
            raise Conflict(f"The network '{obj.name}' is used by VM network interfaces")


def add_management_network(conn: Connection, data_center_id: str) -> m.Network:
    """Every data center gets ``ovirtmgmt`` and its vNIC profile, as in oVirt."""
    network = m.Network(
        id=new_id(),
        name=MANAGEMENT_NETWORK,
        description="Management Network",
        data_center=m.DataCenter(id=data_center_id),
        usages=[
            NetworkUsage.VM,
            NetworkUsage.MANAGEMENT,
            NetworkUsage.DISPLAY,
            NetworkUsage.MIGRATION,
        ],
        mtu=0,
        stp=False,
        required=True,
        status=NetworkStatus.OPERATIONAL,
        profile_required=True,
    )
    repos.networks.insert(conn, network)
    repos.vnic_profiles.insert(conn, default_profile(network))
    return network


def default_profile(network: m.Network) -> m.VnicProfile:
    return m.VnicProfile(
        id=new_id(),
        name=network.name,
        network=m.Network(id=network.id),
        port_mirroring=False,
        migratable=False,
    )


class VnicProfileService(DocumentService[m.VnicProfile]):
    search_fields: ClassVar = catalog.VNIC_PROFILES.resolvers()
    immutable_fields = frozenset({"id", "href", "network"})

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.vnic_profiles)

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.VnicProfile, options: Options
    ) -> m.VnicProfile:
        require_name(obj, "vNIC profile")
        network = resolve(conn, repos.networks, obj.network, field="network")
        return obj.model_copy(
            update={
                "id": new_id(),
                "network": reference(m.Network, network),
                "port_mirroring": bool(obj.port_mirroring),
                "migratable": bool(obj.migratable),
            }
        )

    def before_remove(
        self, conn: Connection, scope: Scope, obj: m.VnicProfile, options: Options
    ) -> None:
        users = repos.nics.count(conn, tables.nics.c.vnic_profile_id == obj.id)
        if users:
            raise Conflict(f"The vNIC profile '{obj.name}' is used by {users} NIC(s)")
