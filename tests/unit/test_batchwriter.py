"""Monitoring's batched writes: shared transactions, per-unit results, prompt stop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, func, insert, select, text

from virtfleet.common.errors import Conflict
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database


def _put(key: str) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(insert(tables.settings).values(key=key, value="1"))
        return key

    return work


def _count(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.settings)).scalar_one())


async def test_waiting_units_share_transactions_and_each_gets_its_result(
    database: Database,
) -> None:
    writer = BatchWriter(database)
    await writer.start()
    try:
        results = await asyncio.gather(*(writer.run(_put(f"k{i}")) for i in range(200)))
    finally:
        await writer.stop()
    assert results == [f"k{i}" for i in range(200)]
    assert _count(database) == 200
    assert writer.units == 200
    assert writer.batches < 20


async def test_a_unit_failing_with_a_domain_error_fails_alone(database: Database) -> None:
    def refused(conn: Connection) -> None:
        raise Conflict("the VM moved first")

    writer = BatchWriter(database)
    await writer.start()
    try:
        outcomes = await asyncio.gather(
            writer.run(_put("a")),
            writer.run(refused),
            writer.run(_put("b")),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], Conflict)
    assert _count(database) == 2


async def test_a_database_error_retries_the_others_in_their_own_transactions(
    database: Database,
) -> None:
    writer = BatchWriter(database)
    await writer.start()
    try:
        outcomes = await asyncio.gather(
            writer.run(_put("same")),
            writer.run(_put("same")),
            writer.run(_put("other")),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert outcomes[0] == "same" and outcomes[2] == "other"
    assert isinstance(outcomes[1], Exception)
    assert _count(database) == 2


async def test_stop_drops_queued_units_without_waiting_for_them(database: Database) -> None:
    gate = threading.Event()

    def blocked(conn: Connection) -> None:
        gate.wait(5)
        conn.execute(text("SELECT 1"))

    writer = BatchWriter(database)
    await writer.start()
    first = asyncio.ensure_future(writer.run(blocked))
    await asyncio.sleep(0.1)  # the first batch is on the thread; the rest queue behind it
    queued = [asyncio.ensure_future(writer.run(_put(f"q{i}"))) for i in range(50)]
    await asyncio.sleep(0)
    stopping = asyncio.ensure_future(writer.stop())
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.wait_for(stopping, 5)
    await first
    assert all(task.cancelled() for task in queued)
    assert _count(database) == 0
    with pytest.raises(asyncio.CancelledError):
        await writer.run(_put("late"))
