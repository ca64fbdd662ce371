"""Hosts: adding and enrolling them, maintenance and activation, their statistics and NICs.

Long work (enrollment, activation, refresh) runs as persisted commands from
``commands/host_commands.py``; status changes here are compare-and-swap on the host row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    HostStatus,
    LogSeverity,
    SpmStatus,
    StatisticKind,
    StatisticUnit,
    ValueType,
    VmStatus,
)
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.common.protocol import DEFAULT_AGENT_PORT, HostStats
from virtfleet.engine.commands import store
from virtfleet.engine.commands.host_commands import (
    ACTIVATE_HOST,
    ADD_HOST,
    HOST_LOCK_REASON,
    INSTALL_HOST,
    REFRESH_HOST,
)
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.transitions import change_status
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.monitoring.hoststate import forget_stats
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import (
    DocumentService,
    ListQuery,
    Options,
    ResourceService,
    Scope,
    one_listed,
)
from virtfleet.engine.services.host_nics import latest_host_stats
from virtfleet.engine.services.refs import new_id, reference, require_name, resolve
from virtfleet.engine.services.search import catalog

_T = tables.hosts

REMOVABLE = frozenset({HostStatus.MAINTENANCE, HostStatus.INSTALL_FAILED})
INSTALLABLE = frozenset(
    {HostStatus.MAINTENANCE, HostStatus.INSTALL_FAILED, HostStatus.NON_OPERATIONAL}
)
ACTIVATABLE = frozenset({HostStatus.MAINTENANCE, HostStatus.NON_OPERATIONAL})
DEACTIVATABLE = frozenset(
    {
        HostStatus.UP,
        HostStatus.INITIALIZING,
        HostStatus.NON_RESPONSIVE,
        HostStatus.NON_OPERATIONAL,
        HostStatus.CONNECTING,
        HostStatus.UNASSIGNED,
        HostStatus.ERROR,
        HostStatus.INSTALL_FAILED,
    }
)


class HostService(DocumentService[m.Host]):
    """``/hosts``: the enrollment secret arrives as ``root_password`` and is never stored."""

    search_fields: ClassVar = catalog.HOSTS.resolvers()
    immutable_fields: ClassVar = frozenset({"id", "href", "status", "hardware_information"})

    def __init__(
        self, database: Database, eventlog: EventLog, runner: CommandRunner, monitor: HostMonitor
    ) -> None:
        super().__init__(database, repos.hosts)
        self.eventlog = eventlog
        self.runner = runner
        self.monitor = monitor

    # --- add -------------------------------------------------------------------------------------

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Host, options: Options) -> m.Host:
        name = require_name(obj, "host")
        if repos.hosts.find_by_name(conn, name) is not None:
            raise Conflict("Cannot add Host. The Host name is already in use.")
        address = (obj.address or "").strip()
        if not address:
            raise InvalidInput("Cannot add Host: its address is required")
        if not obj.root_password:
            raise InvalidInput(
                "Cannot add Host: root_password (the agent's enrollment secret) is required"
            )
        port = obj.port if obj.port is not None else DEFAULT_AGENT_PORT
        if not 0 < port < 65536:
            raise InvalidInput(f"Cannot add Host: port {port} is out of range")
        cluster = resolve(conn, repos.clusters, obj.cluster, field="cluster")
        return obj.model_copy(
            update={
                "id": new_id(),
                "name": name,
                "address": address,
                "port": port,
                "cluster": reference(m.Cluster, cluster),
                "status": HostStatus.INSTALLING,
                "root_password": None,
                "hardware_information": None,
                "power_management": obj.power_management or m.PowerManagement(enabled=False),
                "spm": m.Spm(priority=5, status=SpmStatus.NONE),
            }
        )

    def after_add(self, conn: Connection, scope: Scope, obj: m.Host) -> None:
        self.eventlog.record(
            conn,
            code=EventCode.HOST_ADDED,
            severity=LogSeverity.NORMAL,
            description=f"Host {obj.name} was added.",
            host_id=obj.id,
            cluster_id=obj.cluster.id if obj.cluster else None,
        )

    def add(self, scope: Scope, obj: m.Host, options: Options) -> m.Host:
        secret = obj.root_password or ""
        host = super().add(scope, obj, options)
        assert host.id is not None
        self._submit(ADD_HOST, host, secret=secret)
        return host

    # --- update and remove -----------------------------------------------------------------------

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Host, updated: m.Host
    ) -> m.Host:
        require_name(updated, "host")
        moved = (
            updated.address != current.address
            or updated.port != current.port
            or (updated.cluster and updated.cluster.id) != (current.cluster and current.cluster.id)
        )
        if moved and current.status not in REMOVABLE:
            raise Conflict(
                "Cannot edit Host. The address, port and cluster change only in maintenance."
            )
        cluster = resolve(conn, repos.clusters, updated.cluster, field="cluster")
        return updated.model_copy(
            update={"root_password": None, "cluster": reference(m.Cluster, cluster)}
        )

    def before_remove(self, conn: Connection, scope: Scope, obj: m.Host, options: Options) -> None:
        assert obj.id is not None
        if obj.status not in REMOVABLE:
            raise Conflict("Cannot remove Host. Host is not in maintenance")
        store.check_locks(conn, {obj.id: HOST_LOCK_REASON})

    def after_remove(self, conn: Connection, scope: Scope, obj: m.Host) -> None:
        assert obj.id is not None
        forget_stats(conn, obj.id)
        self.eventlog.record(
            conn,
            code=EventCode.HOST_REMOVED,
            severity=LogSeverity.NORMAL,
            description=f"Host {obj.name} was removed.",
            cluster_id=obj.cluster.id if obj.cluster else None,
        )

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        remove = super().remove
        self.runner.when_unlocked(lambda: remove(scope, object_id, options))
        self.monitor.refresh_soon(object_id)

    # --- actions ---------------------------------------------------------------------------------

    def activate(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        host = self._move(scope, object_id, ACTIVATABLE, HostStatus.INITIALIZING, "activate")
        return self._started(self._submit(ACTIVATE_HOST, host))

    def install(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        secret = action.root_password or (action.host.root_password if action.host else None)
        if not secret:
            raise InvalidInput(
                "Cannot install Host: give the agent's enrollment secret as root_password"
            )
        host = self._move(scope, object_id, INSTALLABLE, HostStatus.INSTALLING, "install")
        return self._started(self._submit(INSTALL_HOST, host, secret=secret))

    def refresh(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        host = self.get(scope, object_id)
        return self._started(self._submit(REFRESH_HOST, host))

    def deactivate(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        self._deactivate(scope, object_id)
        return m.Action(status="complete")

    def _deactivate(self, scope: Scope, object_id: str) -> None:
        def attempt() -> None:
            with self.db.transaction() as conn:
                host = self.get_in_scope(conn, scope, object_id)
                store.check_locks(conn, {object_id: HOST_LOCK_REASON})
                if host.status == HostStatus.MAINTENANCE:
                    raise Conflict(
                        "Cannot switch Host to Maintenance mode. "
                        "Host is already in Maintenance mode."
                    )
                if host.status not in DEACTIVATABLE:
                    raise Conflict(
                        "Cannot switch Host to Maintenance mode. "
                        f"Host {host.name} is {host.status}."
                    )
                running = repos.vms.count(
                    conn,
                    (tables.vms.c.host_id == object_id) & (tables.vms.c.status != VmStatus.DOWN),
                )
                if running:
                    raise Conflict(
                        f"Cannot switch Host {host.name} to Maintenance mode: "
                        f"it runs {running} VM(s) and migrating them is not available yet. "
                        "Stop or shut them down first."
                    )
                if change_status(conn, object_id, DEACTIVATABLE, HostStatus.MAINTENANCE) is None:
                    raise Conflict(f"Host {host.name} changed status; try again")
                self.eventlog.record(
                    conn,
                    code=EventCode.HOST_MAINTENANCE,
                    severity=LogSeverity.NORMAL,
                    description=f"Host {host.name} was switched to Maintenance mode.",
                    host_id=object_id,
                )

        self.runner.when_unlocked(attempt)
        self.monitor.refresh_soon(object_id)

    def _move(
        self,
        scope: Scope,
        object_id: str,
        allowed: frozenset[HostStatus],
        to: HostStatus,
        verb: str,
    ) -> m.Host:
        def attempt() -> m.Host:
            with self.db.transaction() as conn:
                host = self.get_in_scope(conn, scope, object_id)
                store.check_locks(conn, {object_id: HOST_LOCK_REASON})
                if host.status not in allowed:
                    wanted = " or ".join(sorted(s.value for s in allowed))
                    raise Conflict(
                        f"Cannot {verb} Host. Host {host.name} is {host.status}; "
                        f"it must be {wanted}."
                    )
                change = change_status(conn, object_id, allowed, to)
                if change is None:
                    raise Conflict(f"Host {host.name} changed status; try again")
                return change.host

        return self.runner.when_unlocked(attempt)

    def _submit(self, kind: str, host: m.Host, **extra: Any) -> str:
        assert host.id is not None
        params = {"host_id": host.id, "name": host.name, **extra}
        return self.runner.submit(kind, params, locks=[(host.id, HOST_LOCK_REASON)])

    @staticmethod
    def _started(job_id: str) -> m.Action:
        return m.Action(status="complete", job=m.Job(id=job_id))


# --- statistics ---------------------------------------------------------------------------------

_STAT_NAMESPACE = uuid.UUID("7d3f4f0e-5b7a-4a53-9a8c-0c1d2e3f4a5b")


def _statistic(
    host_id: str,
    name: str,
    description: str,
    datum: float | None,
    unit: StatisticUnit,
    kind: ValueType,
) -> m.Statistic:
    return m.Statistic(
        id=str(uuid.uuid5(_STAT_NAMESPACE, f"{host_id}/{name}")),
        name=name,
        description=description,
        kind=StatisticKind.GAUGE,
        type=kind,
        unit=unit,
        values=[m.Value(datum=datum)],
        host=m.Host(id=host_id),
    )


_Row = tuple[str, str, float | None, StatisticUnit, ValueType]


def _used(total: int | None, free: int | None) -> int | None:
    return None if total is None or free is None else max(total - free, 0)


def host_statistics(host_id: str, stats: HostStats) -> list[m.Statistic]:
    """A stats report under oVirt's statistic names; a figure the host did not measure is not
    listed (oVirt lists only the 5-minute load average)."""
    b, pct, i, d = StatisticUnit.BYTES, StatisticUnit.PERCENT, ValueType.INTEGER, ValueType.DECIMAL
    memory_used = _used(stats.memory_total_bytes, stats.memory_free_bytes)
    rows: list[_Row] = [
        ("memory.total", "Total memory", stats.memory_total_bytes, b, i),
        ("memory.used", "Used memory", memory_used, b, i),
        ("memory.free", "Free memory", stats.memory_free_bytes, b, i),
        ("memory.shared", "Shared memory", stats.memory_shared_bytes, b, i),
        ("memory.buffers", "I/O buffers", stats.memory_buffers_bytes, b, i),
        ("memory.cached", "OS caches", stats.memory_cached_bytes, b, i),
        ("swap.total", "Total swap", stats.swap_total_bytes, b, i),
        ("swap.free", "Free swap", stats.swap_free_bytes, b, i),
        ("swap.used", "Used swap", _used(stats.swap_total_bytes, stats.swap_free_bytes), b, i),
        ("swap.cached", "Swap also cached in memory", stats.swap_cached_bytes, b, i),
        ("ksm.cpu.current", "KSM CPU usage", stats.ksm_cpu_pct, pct, d),
        ("cpu.current.user", "User CPU usage", stats.cpu_user_pct, pct, d),
        ("cpu.current.system", "System CPU usage", stats.cpu_system_pct, pct, d),
        ("cpu.current.idle", "Idle CPU usage", stats.cpu_idle_pct, pct, d),
        ("cpu.load.avg.5m", "CPU 5 minute load average", stats.load_avg_5m, StatisticUnit.NONE, d),
        ("boot.time", "Boot time", stats.boot_time, StatisticUnit.SECONDS, i),
    ]
    return [_statistic(host_id, *row) for row in rows if row[2] is not None]


class HostStatisticsService(ResourceService):
    """``/hosts/{id}/statistics``: the latest stats report, from memory or its saved snapshot."""

    def __init__(self, database: Database, monitor: HostMonitor) -> None:
        self.db = database
        self.monitor = monitor

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Statistic]:
        stats = latest_host_stats(self.db, self.monitor, scope.parent)
        return [] if stats is None else host_statistics(scope.parent, stats)

    def get(self, scope: Scope, object_id: str) -> m.Statistic:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The statistic with id '{object_id}' does not exist",
        )
