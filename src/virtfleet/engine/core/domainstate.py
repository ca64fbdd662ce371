"""A storage domain's status and space, and the status of its data center, which follows them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import DataCenterStatus, StorageDomainStatus, StorageDomainType
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

_D = tables.storage_domains


def refresh_data_center_status(conn: Connection, data_center_id: str | None) -> None:
    """A data center is up with an active data domain, in maintenance with only inactive ones,
    uninitialized with none (oVirt's storage pool states)."""
    if data_center_id is None:
        return
    center = repos.data_centers.find(conn, data_center_id)
    if center is None:
        return
    attached = repos.storage_domains.query(conn, _D.c.data_center_id == data_center_id)
    data = [d for d in attached if d.type in (StorageDomainType.DATA, None)]
    if any(d.status == StorageDomainStatus.ACTIVE for d in data):
        status = DataCenterStatus.UP
    elif data:
        status = DataCenterStatus.MAINTENANCE
    else:
        status = DataCenterStatus.UNINITIALIZED
    if center.status != status:
        repos.data_centers.save(conn, center.model_copy(update={"status": status}))


def set_domain_status(
    conn: Connection,
    domain_id: str,
    status: StorageDomainStatus,
    *,
    only_from: tuple[StorageDomainStatus, ...] = (),
    info: p.DomainInfo | None = None,
    **changes: Any,
) -> m.StorageDomain | None:
    """Move a domain to ``status`` (if it is in one of ``only_from``, when given) and refresh
    its data center; None when the domain is gone or was elsewhere."""
    domain = repos.storage_domains.find(conn, domain_id)
    if domain is None or (only_from and domain.status not in only_from):
        return None
    update: dict[str, Any] = {"status": status, **changes}
    if info is not None:
        update |= space_fields(info)
    version = repos.storage_domains.version_of(conn, domain_id)
    updated = domain.model_copy(update=update)
    repos.storage_domains.save(conn, updated, expected_version=version)
    refresh_data_center_status(conn, data_center_of(domain))
    return updated


def space_fields(info: p.DomainInfo | p.DomainUsage) -> dict[str, int]:
    """The API's ``available`` and ``used`` bytes from what a host measured."""
    return {"available": info.free_bytes, "used": max(info.total_bytes - info.free_bytes, 0)}


def data_center_of(domain: m.StorageDomain) -> str | None:
    if domain.data_center is not None:
        return domain.data_center.id
    return None
