"""What the engine keeps of a host's live state: its status (compare-and-swap), latest stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from virtfleet.common.protocol import HostStats
from virtfleet.engine.persistence import tables

_STATS_KEY = "host_stats:"


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


def forget_stats(conn: Connection, host_id: str) -> None:
    conn.execute(delete(tables.settings).where(tables.settings.c.key == _STATS_KEY + host_id))
