"""The audit event log: append-only rows with integer ids, and a live stream of committed events.

``record`` writes inside the caller's transaction; subscribers hear of an event only once that
transaction has committed, so a rolled-back operation never shows up in the portal.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, event, insert, select

from virtfleet.common.apimodel.enums import LogSeverity
from virtfleet.common.apimodel.system import Event
from virtfleet.common.clock import Clock
from virtfleet.common.errors import NotFound
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.persistence.tables import events

log = logging.getLogger(__name__)

# Columns holding the ids of the objects an event concerns, and the Event field of each.
_REFS = {
    "vm_id": "vm",
    "host_id": "host",
    "cluster_id": "cluster",
    "data_center_id": "data_center",
    "storage_domain_id": "storage_domain",
    "template_id": "template",
    "user_id": "user",
}

# How long a subscriber waits for a wake-up before looking at the table anyway.
_IDLE_RECHECK_SECONDS = 5.0


class EventCode(IntEnum):
    """Codes of the events the engine writes; oVirt's AuditLogType numbers where one exists."""

    ENGINE_STARTED = 1  # VDC_START
    ENGINE_STOPPED = 2  # VDC_STOP
    HOST_NON_RESPONSIVE = 12  # VDS_FAILURE
    HOST_UP = 13  # VDS_DETECTED
    HOST_MAINTENANCE = 15  # VDS_MAINTENANCE
    HOST_ACTIVATED = 16  # VDS_ACTIVATE
    USER_LOGGED_IN = 30  # USER_VDC_LOGIN
    USER_LOGGED_OUT = 31  # USER_VDC_LOGOUT
    VM_STARTED = 32  # USER_RUN_VM
    VM_POWERED_OFF = 33  # USER_STOP_VM
    VM_ADDED = 34  # USER_ADD_VM
    VM_UPDATED = 35  # USER_UPDATE_VM
    VM_REMOVED = 36  # USER_REMOVE_VM
    HOST_ADDED = 42  # USER_ADD_VDS
    HOST_REMOVED = 44  # USER_REMOVE_VDS
    VM_START_FAILED = 54  # USER_FAILED_RUN_VM
    VM_DOWN = 61  # VM_DOWN
    VM_MIGRATION_STARTED = 62  # VM_MIGRATION_START
    VM_MIGRATION_DONE = 63  # VM_MIGRATION_DONE
    VM_MIGRATION_FAILED = 65  # VM_MIGRATION_FAILED
    VM_SHUTDOWN_INITIATED = 73  # USER_INITIATED_SHUTDOWN_VM
    USER_LOGIN_FAILED = 114  # USER_VDC_LOGIN_FAILED
    VM_CRASHED = 119  # VM_DOWN_ERROR
    VM_NOT_RESPONDING = 126  # VM_NOT_RESPONDING
    HOST_INSTALLED = 504  # VDS_INSTALL
    HOST_INSTALL_FAILED = 505  # VDS_INSTALL_FAILED
    VM_SUSPENDED = 512  # USER_SUSPEND_VM_FINISH_SUCCESS
    HOST_CPU_BELOW_CLUSTER = 515  # VDS_CPU_LOWER_THAN_CLUSTER
    CLUSTER_ADDED = 809  # USER_ADD_VDS_GROUP
    DATA_CENTER_ADDED = 950  # USER_ADD_STORAGE_POOL
    STORAGE_DOMAIN_ADDED = 956  # USER_ADD_STORAGE_DOMAIN
    STORAGE_DOMAIN_REMOVED = 960  # USER_REMOVE_STORAGE_DOMAIN
    STORAGE_DOMAIN_ATTACHED = 962  # USER_ATTACH_STORAGE_DOMAIN_TO_POOL
    STORAGE_DOMAIN_DETACHED = 964  # USER_DETACH_STORAGE_DOMAIN_FROM_POOL
    STORAGE_DOMAIN_ACTIVATED = 966  # USER_ACTIVATED_STORAGE_DOMAIN
    STORAGE_DOMAIN_DEACTIVATED = 968  # USER_DEACTIVATED_STORAGE_DOMAIN
    STORAGE_DOMAIN_UNREACHABLE = 970  # SYSTEM_DEACTIVATED_STORAGE_DOMAIN
    DISK_REMOVED = 2014  # USER_FINISHED_REMOVE_DISK
    DISK_ADDED = 2021  # USER_ADD_DISK_FINISHED_SUCCESS
    HA_VM_FAILED = 9602  # HA_VM_FAILED
    HA_VM_RESTART_FAILED = 9603  # HA_VM_RESTART_FAILED
    # virtfleet's own codes, above oVirt's range.
    JOB_FINISHED = 90001
    JOB_FAILED = 90002
    JOB_ABORTED = 90003
    VM_RUNNING_ON_TWO_HOSTS = 90004
    STORAGE_DOMAIN_RECOVERED = 90005


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


@dataclass
class _Pending:
    """Events written on one connection and not yet committed, with the savepoint marks."""

    events: list[Event] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)
    committed: list[Event] = field(default_factory=list)


class EventLog:
    """Writes, lists and streams audit events."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._key = f"virtfleet.eventlog.{id(self)}"
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._hooks: list[tuple[Any, str, Any]] = [
            (database.engine, "commit", self._on_commit),
            (database.engine, "rollback", self._on_rollback),
            (database.engine, "savepoint", self._on_savepoint),
            (database.engine, "rollback_savepoint", self._on_rollback_savepoint),
            (database.engine, "release_savepoint", self._on_release_savepoint),
            # The pool hands the connection back only after COMMIT has returned.
            (database.engine.pool, "checkin", self._on_checkin),
        ]
        for target, name, fn in self._hooks:
            event.listen(target, name, fn)

    def close(self) -> None:
        """Detach from the database's events (tests build several logs on one database)."""
        for target, name, fn in self._hooks:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)

    # --- writes ----------------------------------------------------------------------------------

    def record(
        self,
        conn: Connection,
        *,
        code: int,
        severity: LogSeverity | str,
        description: str,
        vm_id: str | None = None,
        host_id: str | None = None,
        cluster_id: str | None = None,
        data_center_id: str | None = None,
        storage_domain_id: str | None = None,
        template_id: str | None = None,
        user_id: str | None = None,
        job_id: str | None = None,
        correlation_id: str | None = None,
    ) -> int:
        """Append an event inside the caller's transaction and return its id."""
        values: dict[str, Any] = {
            "time": self.clock.now().astimezone(UTC),
            "code": int(code),
            "severity": LogSeverity(severity).value,
            "description": description,
            "correlation_id": correlation_id,
            "vm_id": vm_id,
            "host_id": host_id,
            "cluster_id": cluster_id,
            "data_center_id": data_center_id,
            "storage_domain_id": storage_domain_id,
            "template_id": template_id,
            "user_id": user_id,
            "job_id": job_id,
        }
        key = conn.execute(insert(events).values(**values)).inserted_primary_key
        assert key is not None
        event_id = int(key[0])
        self._pending(conn).events.append(_to_event({"id": event_id, **values}))
        return event_id

    # --- reads -----------------------------------------------------------------------------------

    def list(
        self,
        conn: Connection,
        *,
        max: int | None = None,
        from_id: int | None = None,
        where: ColumnElement[bool] | None = None,
        order_by: Sequence[ColumnElement[Any]] = (),
        offset: int = 0,
    ) -> builtins.list[Event]:
        """Events in ``order_by``, then newest first; ``from_id`` keeps only those after it
        (oVirt's ``from``)."""
        statement = select(events)
        if from_id is not None:
            statement = statement.where(events.c.id > from_id)
        if where is not None:
            statement = statement.where(where)
        statement = statement.order_by(*order_by, events.c.id.desc())
        if max is not None:
            statement = statement.limit(max)
        if offset:
            statement = statement.offset(offset)
        return [_to_event(row._asdict()) for row in conn.execute(statement)]

    def get(self, conn: Connection, event_id: int | str) -> Event:
        try:
            key = int(event_id)
        except ValueError:
            key = -1
        row = conn.execute(select(events).where(events.c.id == key)).first()
        if row is None:
            raise NotFound(f"The event with id '{event_id}' does not exist")
        return _to_event(row._asdict())

    def _after(self, after_id: int) -> builtins.list[Event]:
        with self.database.read() as conn:
            statement = select(events).where(events.c.id > after_id).order_by(events.c.id)
            return [_to_event(row._asdict()) for row in conn.execute(statement)]

    # --- live stream -----------------------------------------------------------------------------

    async def subscribe(self, after_id: int) -> AsyncIterator[Event]:
        """Every event committed after ``after_id``: the backlog in id order, then live ones."""
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscriber)
        try:
            # Registered before reading the backlog, so nothing committed in between is lost;
            # what both the backlog and the queue hold is yielded once.
            backlog = await asyncio.to_thread(self._after, after_id)
            seen = {int(e.id or 0) for e in backlog}
            for item in backlog:
                yield item
            while True:
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), _IDLE_RECHECK_SECONDS)
                except TimeoutError:
                    continue
                item_id = int(item.id or 0)
                if item_id in seen:
                    seen.discard(item_id)
                elif item_id > after_id:
                    yield item
        finally:
            with self._lock:
                self._subscribers.discard(subscriber)

    def _publish(self, committed: builtins.list[Event]) -> None:
        with self._lock:
            subscribers = builtins.list(self._subscribers)
        for subscriber in subscribers:
            for item in committed:
                try:
                    subscriber.loop.call_soon_threadsafe(subscriber.queue.put_nowait, item)
                except RuntimeError:
                    log.debug("event subscriber's loop is closed")

    # --- transaction hooks -----------------------------------------------------------------------

    def _pending(self, conn: Connection) -> _Pending:
        pending = conn.info.get(self._key)
        if pending is None:
            pending = conn.info[self._key] = _Pending()
        assert isinstance(pending, _Pending)
        return pending

    def _on_commit(self, conn: Connection) -> None:
        pending = conn.info.get(self._key)
        if pending is not None and pending.events:
            pending.committed.extend(pending.events)
            pending.events.clear()
            pending.marks.clear()

    def _on_rollback(self, conn: Connection) -> None:
        # Also reached when COMMIT itself fails: then nothing was committed after all.
        conn.info.pop(self._key, None)

    def _on_savepoint(self, conn: Connection, _name: str) -> None:
        pending = conn.info.get(self._key)
        if pending is not None:
            pending.marks.append(len(pending.events))
        else:
            self._pending(conn).marks.append(0)

    def _on_rollback_savepoint(self, conn: Connection, _name: str, _context: Any) -> None:
        pending = conn.info.get(self._key)
        if pending is not None and pending.marks:
            del pending.events[pending.marks.pop() :]

    def _on_release_savepoint(self, conn: Connection, _name: str, _context: Any) -> None:
        pending = conn.info.get(self._key)
        if pending is not None and pending.marks:
            pending.marks.pop()

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record is None:
            return
        pending = record.info.pop(self._key, None)
        if isinstance(pending, _Pending) and pending.committed:
            self._publish(pending.committed)


def _to_event(row: dict[str, Any]) -> Event:
    time: datetime = row["time"]
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)  # SQLite returns what was stored in UTC without offset
    doc: dict[str, Any] = {
        "id": str(row["id"]),
        "code": row["code"],
        "severity": row["severity"],
        "description": row["description"],
        "time": time,
        "correlation_id": row["correlation_id"],
        "origin": "virtfleet",
    }
    for column, name in _REFS.items():
        if row[column] is not None:
            doc[name] = {"id": row[column]}
    return Event.model_validate(doc)
