"""The audit log: integer ids, newest first, and a live stream of committed events only."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection

from virtfleet.common.apimodel.enums import LogSeverity
from virtfleet.common.apimodel.system import Event
from virtfleet.common.clock import ManualClock
from virtfleet.common.errors import NotFound
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.persistence.tables import events


@pytest.fixture
def eventlog(database: Database) -> Iterator[EventLog]:
    log = EventLog(database, ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)))
    yield log
    log.close()


def _record(log: EventLog, conn: Connection, text: str, **refs: str) -> int:
    return log.record(
        conn, code=EventCode.VM_ADDED, severity=LogSeverity.NORMAL, description=text, **refs
    )


def _write(log: EventLog, database: Database, *texts: str) -> list[int]:
    with database.transaction() as conn:
        return [_record(log, conn, text) for text in texts]


async def _next(stream: AsyncIterator[Event], timeout: float = 5.0) -> Event:
    return await asyncio.wait_for(anext(stream), timeout)


def test_ids_increase_and_lists_are_newest_first(eventlog: EventLog, database: Database) -> None:
    ids = _write(eventlog, database, "first", "second", "third")

    with database.read() as conn:
        listed = eventlog.list(conn)

    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [e.description for e in listed] == ["third", "second", "first"]
    assert [e.id for e in listed] == [str(i) for i in reversed(ids)]


def test_from_id_keeps_only_later_events_and_max_limits(
    eventlog: EventLog, database: Database
) -> None:
    ids = _write(eventlog, database, "a", "b", "c", "d")

    with database.read() as conn:
        after_b = eventlog.list(conn, from_id=ids[1])
        newest_one = eventlog.list(conn, max=1)

    assert [e.description for e in after_b] == ["d", "c"]
    assert [e.description for e in newest_one] == ["d"]


def test_where_condition_filters_events(eventlog: EventLog, database: Database) -> None:
    with database.transaction() as conn:
        _record(eventlog, conn, "on vm", vm_id="vm-1")
        _record(eventlog, conn, "on host", host_id="host-1")

    with database.read() as conn:
        listed = eventlog.list(conn, where=events.c.host_id == "host-1")

    assert [e.description for e in listed] == ["on host"]


def test_event_carries_time_with_offset_severity_code_and_refs(
    eventlog: EventLog, database: Database
) -> None:
    with database.transaction() as conn:
        event_id = eventlog.record(
            conn,
            code=EventCode.HOST_NON_RESPONSIVE,
            severity="error",
            description="Host h1 is non responsive.",
            host_id="host-1",
            cluster_id="cluster-1",
            correlation_id="abc",
        )

    with database.read() as conn:
        event = eventlog.get(conn, str(event_id))

    assert event.id == str(event_id)
    assert event.time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert event.time is not None and event.time.utcoffset() is not None
    assert event.severity == LogSeverity.ERROR
    assert event.code == 12
    assert event.host is not None and event.host.id == "host-1"
    assert event.cluster is not None and event.cluster.id == "cluster-1"
    assert event.vm is None
    assert event.correlation_id == "abc"


def test_get_of_unknown_event_raises_not_found(eventlog: EventLog, database: Database) -> None:
    with database.read() as conn, pytest.raises(NotFound):
        eventlog.get(conn, "42")
    with database.read() as conn, pytest.raises(NotFound):
        eventlog.get(conn, "not-a-number")


def test_rolled_back_event_is_not_stored(eventlog: EventLog, database: Database) -> None:
    with pytest.raises(RuntimeError), database.transaction() as conn:
        _record(eventlog, conn, "lost")
        raise RuntimeError("operation failed")

    with database.read() as conn:
        assert eventlog.list(conn) == []


async def test_subscriber_gets_backlog_then_events_committed_later(
    eventlog: EventLog, database: Database
) -> None:
    first, second = _write(eventlog, database, "before-1", "before-2")
    stream = eventlog.subscribe(after_id=first)

    assert (await _next(stream)).description == "before-2"
    await asyncio.to_thread(_write, eventlog, database, "after")
    live = await _next(stream)

    assert live.description == "after"
    assert int(live.id or 0) > second
    await stream.aclose()  # type: ignore[attr-defined]


async def test_subscriber_is_woken_by_a_commit_in_another_thread(
    eventlog: EventLog, database: Database
) -> None:
    stream = eventlog.subscribe(after_id=0)
    waiting = asyncio.ensure_future(_next(stream, timeout=3.0))
    await asyncio.sleep(0.1)  # the subscriber is now parked on its queue

    thread = threading.Thread(target=_write, args=(eventlog, database, "from a worker"))
    thread.start()
    event = await waiting
    thread.join()

    assert event.description == "from a worker"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_subscriber_never_sees_rolled_back_events(
    eventlog: EventLog, database: Database
) -> None:
    stream = eventlog.subscribe(after_id=0)
    waiting = asyncio.ensure_future(_next(stream, timeout=3.0))
    await asyncio.sleep(0.1)

    def rolled_back_then_committed() -> None:
        with pytest.raises(RuntimeError), database.transaction() as conn:
            _record(eventlog, conn, "rolled back")
            raise RuntimeError("operation failed")
        with database.transaction() as conn:
            with pytest.raises(RuntimeError), conn.begin_nested():
                _record(eventlog, conn, "savepoint rolled back")
                raise RuntimeError("part failed")
            _record(eventlog, conn, "committed")

    await asyncio.to_thread(rolled_back_then_committed)

    assert (await waiting).description == "committed"
    with pytest.raises(TimeoutError):
        await _next(stream, timeout=0.3)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_subscriber_is_not_told_before_the_commit(
    eventlog: EventLog, database: Database
) -> None:
    stream = eventlog.subscribe(after_id=0)
    waiting = asyncio.ensure_future(_next(stream, timeout=3.0))
    await asyncio.sleep(0.1)
    recorded = threading.Event()
    release = threading.Event()

    def slow_transaction() -> None:
        with database.transaction() as conn:
            _record(eventlog, conn, "slow")
            recorded.set()
            release.wait(5)

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    await asyncio.to_thread(recorded.wait, 5)
    await asyncio.sleep(0.2)
    assert not waiting.done()

    release.set()
    assert (await waiting).description == "slow"
    thread.join()
    await stream.aclose()  # type: ignore[attr-defined]
