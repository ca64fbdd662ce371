"""The queries of ``cluster_networks``: which networks a cluster has, and how it uses them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Select, delete, func, insert, select, update

from virtfleet.engine.persistence import tables

_A = tables.cluster_networks


@dataclass(frozen=True)
class Attachment:
    network_id: str
    required: bool
    roles: frozenset[str]
    """What the network is for in this cluster: display, migration, management."""


def attached_ids(cluster_id: str) -> Select[tuple[str]]:
    """The ids of the networks attached to the cluster, as a subquery for filters."""
    return select(_A.c.network_id).where(_A.c.cluster_id == cluster_id)


def attachments(conn: Connection, cluster_id: str) -> Mapping[str, Attachment]:
    rows = conn.execute(
        select(_A.c.network_id, _A.c.required, _A.c.usages).where(_A.c.cluster_id == cluster_id)
    )
    return {
        row.network_id: Attachment(row.network_id, bool(row.required), frozenset(row.usages))
        for row in rows
    }


def attach(conn: Connection, cluster_id: str, attachment: Attachment) -> None:
    conn.execute(
        insert(_A).values(
            cluster_id=cluster_id,
            network_id=attachment.network_id,
            required=attachment.required,
            usages=sorted(attachment.roles),
        )
    )


def save(conn: Connection, cluster_id: str, attachment: Attachment) -> None:
    conn.execute(
        update(_A)
        .where((_A.c.cluster_id == cluster_id) & (_A.c.network_id == attachment.network_id))
        .values(required=attachment.required, usages=sorted(attachment.roles))
    )


def detach(conn: Connection, cluster_id: str, network_ids: Iterable[str]) -> None:
    conn.execute(
        delete(_A).where((_A.c.cluster_id == cluster_id) & _A.c.network_id.in_(list(network_ids)))
    )


def vnics_using(conn: Connection, cluster_id: str, network_ids: Iterable[str]) -> int:
    """How many vNICs of the cluster's VMs connect to one of the networks (through a profile)."""
    nics, vms, profiles = tables.nics, tables.vms, tables.vnic_profiles
    on_networks = select(profiles.c.id).where(profiles.c.network_id.in_(list(network_ids)))
    count = conn.execute(
        select(func.count())
        .select_from(nics.join(vms, nics.c.vm_id == vms.c.id))
        .where((vms.c.cluster_id == cluster_id) & nics.c.vnic_profile_id.in_(on_networks))
    ).scalar()
    return int(count or 0)
