"""What the engine keeps of a host's live state: its status (compare-and-swap), latest stats."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.common.errors import Conflict
from virtfleet.common.protocol import HostStats
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

_CAS_ATTEMPTS = 5
_STATS_KEY = "host_stats:"

# Hosts the engine keeps a connection to; the others wait for an operator (activate, install).
MONITORED = frozenset(
    {
        HostStatus.UP,
        HostStatus.INITIALIZING,
        HostStatus.NON_RESPONSIVE,
        HostStatus.CONNECTING,
        HostStatus.UNASSIGNED,
    }
)


@dataclass(frozen=True)
class StatusChange:
    """A status move that happened: the host as written and the status it left."""

    host: m.Host
    previous: HostStatus | None


def change_status(
    conn: Connection,
    host_id: str,
    allowed: Collection[HostStatus] | None,
    to: HostStatus | None,
    **updates: Any,
) -> StatusChange | None:
    """Move the host to ``to`` (None: keep its status) if its status is one of ``allowed``
    (None: any), writing ``updates`` too; None when its status is not allowed.

    Compare-and-swap on the row's version, re-read on a lost race, so a status decided from a
    stale read is never written.
    """
    for _ in range(_CAS_ATTEMPTS):
        host = repos.hosts.find(conn, host_id)
        if host is None or (allowed is not None and host.status not in allowed):
            return None
        version = repos.hosts.version_of(conn, host_id)
        moved = host.model_copy(update={"status": to or host.status, **updates})
        try:
            repos.hosts.save(conn, moved, expected_version=version)
        except Conflict:
            continue
        return StatusChange(moved, host.status)
    raise Conflict(f"The host {host_id} keeps changing; it was not updated")


def save_stats(conn: Connection, host_id: str, stats: HostStats, at: datetime) -> None:
    """Keep the latest stats report of a host, so statistics survive an engine restart."""
    key = _STATS_KEY + host_id
    value = {"time": at.isoformat(), "stats": stats.model_dump(mode="json")}
    conn.execute(delete(tables.settings).where(tables.settings.c.key == key))
    conn.execute(insert(tables.settings).values(key=key, value=value))


def load_stats(conn: Connection, host_id: str) -> tuple[HostStats, datetime] | None:
    row = conn.execute(
        select(tables.settings.c.value).where(tables.settings.c.key == _STATS_KEY + host_id)
    ).first()
    if row is None:
        return None
    return HostStats.model_validate(row.value["stats"]), datetime.fromisoformat(row.value["time"])


def free_memory_of(conn: Connection, host_ids: Sequence[str]) -> dict[str, int]:
    """The free memory each host last reported, read for all of them in one query."""
    if not host_ids:
        return {}
    keys = {_STATS_KEY + host_id: host_id for host_id in host_ids}
    rows = conn.execute(
        select(tables.settings.c.key, tables.settings.c.value).where(
            tables.settings.c.key.in_(list(keys))
        )
    )
    return {keys[row.key]: int(row.value["stats"]["memory_free_bytes"]) for row in rows}


def host_name(conn: Connection, host_id: str) -> str:
    """The host's name for a message; its id when the host is gone."""
    host = repos.hosts.find(conn, host_id)
    return host.name if host is not None and host.name else host_id


def forget_stats(conn: Connection, host_id: str) -> None:
    conn.execute(delete(tables.settings).where(tables.settings.c.key == _STATS_KEY + host_id))
