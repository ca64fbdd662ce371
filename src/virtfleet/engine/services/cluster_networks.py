"""``/clusters/{id}/networks``: the data center's networks a cluster has attached, whether its
hosts must have each (``required``) and the roles each plays there (display, migration,
management). A new cluster gets its data center's management network, as in oVirt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import ColumnElement, Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import NetworkUsage
from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.engine.persistence import cluster_networks as attached
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.cluster_networks import Attachment
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import DocumentService, ListQuery, Options, Scope
from virtfleet.engine.services.networks import MANAGEMENT_NETWORK, NetworkService

ROLES = frozenset({NetworkUsage.DISPLAY, NetworkUsage.MIGRATION, NetworkUsage.MANAGEMENT})
# A client names the network and says how the cluster uses it; the network's own fields
# (MTU, VLAN...) change at /networks/{id}.
_REFERENCE_FIELDS = frozenset({"id", "href", "name", "data_center", "cluster"})
_ATTACHMENT_FIELDS = frozenset({"required", "usages"})


def attach_management_network(conn: Connection, cluster: m.Cluster) -> None:
    """Attach the cluster's data center's ``ovirtmgmt`` with every role, required."""
    if cluster.id is None or cluster.data_center is None or cluster.data_center.id is None:
        return
    network = _network_named(conn, cluster.data_center.id, MANAGEMENT_NETWORK)
    if network is not None and network.id is not None:
        role_names = frozenset(role.value for role in ROLES)
        attached.attach(conn, cluster.id, Attachment(network.id, True, role_names))


def replace_data_center(conn: Connection, cluster: m.Cluster, current: m.Cluster) -> None:
    """A cluster moved to another data center keeps none of the old one's networks; refused
    while one of its VMs has a vNIC on them."""
    before = current.data_center.id if current.data_center is not None else None
    after = cluster.data_center.id if cluster.data_center is not None else None
    if before == after or cluster.id is None:
        return
    old = list(attached.attachments(conn, cluster.id))
    if attached.vnics_using(conn, cluster.id, old):
        raise Conflict(
            f"Cannot change the data center of cluster '{cluster.name}': its VMs have network "
            "interfaces on the networks of its current one"
        )
    attached.detach(conn, cluster.id, old)
    attach_management_network(conn, cluster)


def _network_named(conn: Connection, data_center_id: str, name: str) -> m.Network | None:
    found = repos.networks.query(
        conn,
        (tables.networks.c.data_center_id == data_center_id) & (tables.networks.c.name == name),
    )
    return found[0] if found else None


def _refuse_other_fields(obj: m.Network, allowed: frozenset[str]) -> None:
    extra = sorted(f for f in obj.model_fields_set - allowed if getattr(obj, f) is not None)
    if extra:
        raise InvalidInput(
            f"A cluster's network takes only required and usages; these are the network's own "
            f"(change them at /networks): {', '.join(extra)}"
        )


def _roles(network: m.Network, usages: list[NetworkUsage]) -> frozenset[str]:
    """The cluster roles asked for; ``vm`` is the network's own usage and only restated."""
    unsupported = sorted({u.value for u in usages} - {r.value for r in ROLES} - {"vm"})
    if unsupported:
        raise InvalidInput(f"Unsupported network usages in a cluster: {', '.join(unsupported)}")
    if NetworkUsage.VM in usages and NetworkUsage.VM not in (network.usages or []):
        raise InvalidInput(f"The network '{network.name}' is not a VM network (usage vm)")
    return frozenset(u.value for u in usages if u in ROLES)


class ClusterNetworkService(DocumentService[m.Network]):
    search_fields: ClassVar = NetworkService.search_fields

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.networks)

    def scope_filter(self, scope: Scope) -> ColumnElement[bool] | None:
        return tables.networks.c.id.in_(attached.attached_ids(scope.parent))

    # --- reads -----------------------------------------------------------------------------------

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Network]:
        with self.db.read() as conn:
            repos.clusters.get(conn, scope.parent)
        networks = super().list(scope, query)
        with self.db.read() as conn:
            settings = attached.attachments(conn, scope.parent)
        # a network detached between the two reads is left out
        pairs = [(n, settings.get(n.id or "")) for n in networks]
        return [_as_attached(n, a, scope.parent) for n, a in pairs if a is not None]

    def get(self, scope: Scope, object_id: str) -> m.Network:
        with self.db.read() as conn:
            network = self.get_in_scope(conn, scope, object_id)
            settings = attached.attachments(conn, scope.parent)
        return _as_attached(network, settings[object_id], scope.parent)

    # --- attach, change, detach ------------------------------------------------------------------

    def add(self, scope: Scope, obj: m.Network, options: Options) -> m.Network:
        _refuse_other_fields(obj, _REFERENCE_FIELDS | _ATTACHMENT_FIELDS)
        with self.db.transaction() as conn:
            cluster = repos.clusters.get(conn, scope.parent)
            network = self._network_of(conn, cluster, obj)
            assert network.id is not None
            settings = attached.attachments(conn, scope.parent)
            if network.id in settings:
                raise Conflict(
                    f"Cannot attach network '{network.name}': it is already attached to "
                    f"cluster '{cluster.name}'"
                )
            required = obj.required if obj.required is not None else True
            attachment = Attachment(network.id, required, _roles(network, obj.usages or []))
            attached.attach(conn, scope.parent, attachment)
            self._take_roles(conn, cluster, attachment)
            return _as_attached(network, attachment, scope.parent)

    def update(self, scope: Scope, object_id: str, changes: m.Network) -> m.Network:
        _refuse_other_fields(changes, _ATTACHMENT_FIELDS | {"href", "name"})
        if changes.id not in (None, object_id):
            raise InvalidInput("These fields cannot be changed: id")
        with self.db.transaction() as conn:
            cluster = repos.clusters.get(conn, scope.parent)
            network = self.get_in_scope(conn, scope, object_id)
            if changes.name not in (None, network.name):
                raise InvalidInput("A network is renamed at /networks, not in a cluster")
            settings = attached.attachments(conn, scope.parent)
            current = settings[object_id]
            roles = current.roles if changes.usages is None else _roles(network, changes.usages)
            if NetworkUsage.MANAGEMENT.value in current.roles - roles:
                raise Conflict(
                    f"Cluster '{cluster.name}' keeps a management network: give the management "
                    "role to another network instead"
                )
            required = current.required if changes.required is None else changes.required
            attachment = Attachment(object_id, required, roles)
            attached.save(conn, scope.parent, attachment)
            self._take_roles(conn, cluster, attachment)
            return _as_attached(network, attachment, scope.parent)

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        with self.db.transaction() as conn:
            cluster = repos.clusters.get(conn, scope.parent)
            network = self.get_in_scope(conn, scope, object_id)
            settings = attached.attachments(conn, scope.parent)
            if NetworkUsage.MANAGEMENT.value in settings[object_id].roles:
                raise Conflict(
                    f"Cannot detach network '{network.name}': it is the management network of "
                    f"cluster '{cluster.name}'"
                )
            used = attached.vnics_using(conn, scope.parent, [object_id])
            if used:
                raise Conflict(
                    f"Cannot detach network '{network.name}' from cluster '{cluster.name}': "
                    f"{used} VM network interface(s) use it"
                )
            attached.detach(conn, scope.parent, [object_id])

    # --- helpers ---------------------------------------------------------------------------------

    def _network_of(self, conn: Connection, cluster: m.Cluster, ref: m.Network) -> m.Network:
        """The network named by id, or by name within the cluster's data center, which it must
        belong to."""
        dc_id = cluster.data_center.id if cluster.data_center is not None else None
        if dc_id is None:
            raise Conflict(f"Cluster '{cluster.name}' is in no data center: it has no networks")
        if ref.id is not None:
            network = repos.networks.get(conn, ref.id)
        elif ref.name is not None:
            found = _network_named(conn, dc_id, ref.name)
            if found is None:
                raise NotFound(f"Entity not found: network named '{ref.name}' in the data center")
            network = found
        else:
            raise InvalidInput("Name the network to attach (its id or name)")
        network_dc = network.data_center.id if network.data_center is not None else None
        if network_dc != dc_id:
            raise Conflict(
                f"Cannot attach network '{network.name}': it belongs to another data center "
                f"than cluster '{cluster.name}'"
            )
        return network

    def _take_roles(self, conn: Connection, cluster: m.Cluster, attachment: Attachment) -> None:
        """Each role has one network per cluster: the one given it takes it from the others.
        The management role moves only while the cluster has no hosts (they reach the engine
        through it)."""
        assert cluster.id is not None
        settings = attached.attachments(conn, cluster.id)
        for other in settings.values():
            if other.network_id == attachment.network_id:
                continue
            taken = other.roles & attachment.roles
            if not taken:
                continue
            if NetworkUsage.MANAGEMENT.value in taken and repos.hosts.count(
                conn, tables.hosts.c.cluster_id == cluster.id
            ):
                raise Conflict(
                    f"Cannot move the management role of cluster '{cluster.name}' while it has "
                    "hosts"
                )
            kept = Attachment(other.network_id, other.required, other.roles - taken)
            attached.save(conn, cluster.id, kept)


def _as_attached(network: m.Network, attachment: Attachment, cluster_id: str) -> m.Network:
    """The network as the cluster sees it: its own usage ``vm`` plus the cluster's roles."""
    own = [NetworkUsage.VM] if NetworkUsage.VM in (network.usages or []) else []
    roles = [role for role in NetworkUsage if role.value in attachment.roles]
    return network.model_copy(
        update={
            "cluster": m.Cluster(id=cluster_id),
            "required": attachment.required,
            "usages": own + roles,
            "display": NetworkUsage.DISPLAY.value in attachment.roles,
        }
    )
