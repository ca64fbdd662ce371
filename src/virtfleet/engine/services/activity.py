"""What happened and what is happening: the audit events and the jobs with their steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import LogSeverity
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.commands import store
from virtfleet.engine.core.eventlog import EventLog
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import ListQuery, Options, ResourceService, Scope, page_bounds
from virtfleet.engine.services.search import (
    CompiledQuery,
    SearchFields,
    catalog,
    compile_query,
    parse_search,
)

_E = tables.events
_J = tables.jobs

# oVirt's EXTERNAL_EVENT_NORMAL / _WARNING / _ERROR, by severity
EXTERNAL_EVENT_CODES = {
    LogSeverity.NORMAL: 12001,
    LogSeverity.WARNING: 12002,
    LogSeverity.ERROR: 12003,
    LogSeverity.ALERT: 12003,
}


def _compiled(query: ListQuery, fields: SearchFields) -> CompiledQuery:
    return compile_query(
        parse_search(query.search or ""), fields, case_sensitive=query.case_sensitive
    )


class EventService(ResourceService):
    """``/events``: newest first; ``from`` gives those after an id; clients may add their own."""

    fields: ClassVar[SearchFields] = catalog.EVENTS.resolvers()

    def __init__(self, database: Database, eventlog: EventLog) -> None:
        self.db = database
        self.eventlog = eventlog

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Event]:
        compiled = _compiled(query, self.fields)
        limit, offset = page_bounds(query.max, compiled.page)
        from_id = None
        if query.from_id is not None:
            try:
                from_id = int(query.from_id)
            except ValueError:
                raise InvalidInput(f"'from' must be an event id, not '{query.from_id}'") from None
        with self.db.read() as conn:
            return self.eventlog.list(
                conn,
                max=limit,
                from_id=from_id,
                where=compiled.where,
                order_by=compiled.order_by,
                offset=offset,
            )

    def get(self, scope: Scope, object_id: str) -> m.Event:
        with self.db.read() as conn:
            return self.eventlog.get(conn, object_id)

    def add(self, scope: Scope, obj: Any, options: Options) -> m.Event:
        """External events, as oVirt allows (``origin`` and ``custom_id`` identify the sender)."""
        assert isinstance(obj, m.Event)
        if not obj.description:
            raise InvalidInput("An event needs a description")
        if not obj.origin or obj.custom_id is None:
            raise InvalidInput("An external event needs an origin and a custom_id")
        severity = LogSeverity(obj.severity or LogSeverity.NORMAL)
        with self.db.transaction() as conn:
            event_id = self.eventlog.record(
                conn,
                code=EXTERNAL_EVENT_CODES.get(severity, 12001),
                severity=severity,
                description=obj.description,
                vm_id=obj.vm.id if obj.vm else None,
                host_id=obj.host.id if obj.host else None,
            )
            return self.eventlog.get(conn, event_id)


class JobService(ResourceService):
    fields: ClassVar[SearchFields] = catalog.JOBS.resolvers()

    def __init__(self, database: Database) -> None:
        self.db = database

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Job]:
        compiled = _compiled(query, self.fields)
        limit, offset = page_bounds(query.max, compiled.page)
        with self.db.read() as conn:
            return store.list_jobs(
                conn,
                limit=limit,
                offset=offset,
                where=compiled.where,
                order_by=compiled.order_by,
            )

    def get(self, scope: Scope, object_id: str) -> m.Job:
        with self.db.read() as conn:
            return store.get_job(conn, object_id)


class JobStepService(ResourceService):
    def __init__(self, database: Database) -> None:
        self.db = database

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Step]:
        with self.db.read() as conn:
            return store.list_steps(conn, scope.parent)

    def get(self, scope: Scope, object_id: str) -> m.Step:
        with self.db.read() as conn:
            return store.get_step(conn, scope.parent, object_id)
