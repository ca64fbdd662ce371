"""Which host runs a storage operation (oVirt's SPM role, without the election): an up host that
sees the domain, tried in turn until one answers."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import Connection, select

from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.common.errors import Conflict, HostUnreachable
from virtfleet.common.protocol import Method, P, R
from virtfleet.engine.persistence import tables

log = logging.getLogger(__name__)


class AgentCaller(Protocol):
    """What storage commands need of the engine's host connections."""

    async def call(
        self, host_id: str, method: Method[P, R], params: P, timeout: float | None = None
    ) -> R: ...


def up_hosts(conn: Connection, data_center_id: str | None) -> list[tuple[str, str]]:
    """Ids and names of the up hosts of a data center's clusters (of every cluster if None)."""
    h, c = tables.hosts, tables.clusters
    statement = select(h.c.id, h.c.name).where(h.c.status == HostStatus.UP.value)
    if data_center_id is not None:
        statement = statement.join(c, c.c.id == h.c.cluster_id).where(
            c.c.data_center_id == data_center_id
        )
    return [(row.id, row.name) for row in conn.execute(statement.order_by(h.c.name, h.c.id))]


def storage_host_candidates(
    conn: Connection, data_center_id: str | None, preferred: str | None = None
) -> list[tuple[str, str]]:
    """The hosts to try for a storage operation, ``preferred`` first; Conflict if there is none."""
    hosts = up_hosts(conn, data_center_id)
    if preferred is not None:
        named = [host for host in hosts if host[0] == preferred]
        if not named:
            name = conn.execute(
                select(tables.hosts.c.name).where(tables.hosts.c.id == preferred)
            ).scalar()
            raise Conflict(f"The host '{name or preferred}' is not up")
        hosts = named + [host for host in hosts if host[0] != preferred]
    if not hosts:
        where = "in the data center" if data_center_id is not None else "at all"
        raise Conflict(f"No host is up {where} to run the storage operation")
    return hosts


async def call_on_any(
    caller: AgentCaller, hosts: list[tuple[str, str]], method: Method[P, R], params: P
) -> tuple[str, R]:
    """Run ``method`` on the first host that answers; returns that host's id and the result.

    Only an unreachable host passes the call on: an error the agent answers is the answer.
    """
    failures: list[str] = []
    for host_id, name in hosts:
        try:
            return host_id, await caller.call(host_id, method, params)
        except HostUnreachable as exc:
            log.warning("storage host unreachable host=%s method=%s", name, method.name)
            failures.append(f"{name}: {exc.detail}")
    raise HostUnreachable(f"No host could run {method.name}; unreachable: {'; '.join(failures)}")
