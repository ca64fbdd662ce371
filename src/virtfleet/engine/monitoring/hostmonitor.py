"""Watches every active host: heartbeats, reconnection with backoff, the grace period before a
host is declared non responsive, stats reports and VM state forwarding."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from virtfleet.common.apimodel.enums import HostStatus, LogSeverity
from virtfleet.common.clock import Clock
from virtfleet.common.errors import HostUnreachable, NotFound, VirtfleetError
from virtfleet.common.protocol import (
    HOST_GET_STATS,
    HOST_PING,
    HOST_STATS_REPORT,
    VM_LIST,
    VM_STATE_CHANGED,
    Empty,
    HostStats,
    StatsReport,
    VmState,
    Wire,
)
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.statuses import MONITORED_HOSTS
from virtfleet.engine.core.transaction import run_in_transaction
from virtfleet.engine.core.transitions import change_status
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.monitoring.hoststate import free_memory_of, save_stats
from virtfleet.engine.monitoring.vmsink import VmStateSink
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database

log = logging.getLogger(__name__)

R = TypeVar("R")


# Statuses a host leaves for ``up`` once its agent answers.
_COMES_UP_FROM = frozenset(MONITORED_HOSTS - {HostStatus.UP})
# Statuses a silent host leaves for ``non_responsive``.
_GOES_SILENT_FROM = frozenset(MONITORED_HOSTS - {HostStatus.NON_RESPONSIVE})
_MAX_BACKOFF_FACTOR = 5.0


class HostLiveness:
    """When one host last answered, and whether it has been silent past the grace period."""

    def __init__(self, clock: Clock, grace_s: float) -> None:
        self._clock = clock
        self._grace_s = grace_s
        self._last = clock.monotonic()
        self.lost = False

    def heard(self) -> None:
        self._last = self._clock.monotonic()

    def silent_for(self) -> float:
        return self._clock.monotonic() - self._last

    def overdue(self) -> bool:
        """True once when the host has been silent for longer than the grace period."""
        if self.lost or self.silent_for() <= self._grace_s:
            return False
        self.lost = True
        return True

    def answered(self) -> bool:
        """Record an answer; True when the host had been declared lost (it is back)."""
        was_lost, self.lost = self.lost, False
        self.heard()
        return was_lost


class _StopWatching(Exception):
    """The host left the monitored statuses (maintenance, removed): its watcher ends."""


@dataclass(eq=False)
class _Watch:
    host_id: str
    liveness: HostLiveness
    up_confirmed: bool = False
    task: asyncio.Task[None] | None = None
    up: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class StatsSample:
    stats: HostStats
    time: datetime


class HostMonitor:
    """One watcher task per monitored host plus a sweeper that applies the grace period."""

    def __init__(
        self,
        config: EngineConfig,
        database: Database,
        clock: Clock,
        eventlog: EventLog,
        *,
        connections: HostConnections,
        writer: BatchWriter,
        sink: VmStateSink,
    ) -> None:
        self._database = database
        self._eventlog = eventlog
        self._connections = connections
        self._writer = writer
        self._sink = sink
        self._clock = clock
        self._interval = config.host_heartbeat_interval_s
        self._grace = config.host_grace_s
        self._stats_interval = config.host_stats_interval_s
        self._watches: dict[str, _Watch] = {}
        self._stats: dict[str, StatsSample] = {}
        self._stats_saved: dict[str, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        hosts = await self._db(lambda conn: repos.hosts.query(conn))
        for host in hosts:
            if host.id is not None and host.status in MONITORED_HOSTS:
                self._watch(host.id)
        self._sweeper = asyncio.create_task(self._sweep(), name="host-grace-sweeper")
        log.info("host monitoring started hosts=%d", len(self._watches))

    async def stop(self) -> None:
        self._loop = None
        tasks = [w.task for w in self._watches.values() if w.task is not None]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watches.clear()
        self._sweeper = None
        await self._connections.close_all()

    # --- what others call ------------------------------------------------------------------------

    def refresh_soon(self, host_id: str) -> None:
        """Thread-safe: re-read the host's status and start or stop watching it accordingly."""
        loop = self._loop
        if loop is None:
            return  # not running: start() reads every host
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lambda: loop.create_task(self.refresh(host_id)))

    async def refresh(self, host_id: str) -> None:
        """Watch the host if its status is a monitored one, else drop its watcher."""
        host = await self._db(lambda conn: repos.hosts.find(conn, host_id))
        if host is not None and host.status in MONITORED_HOSTS:
            if self._loop is not None:
                self._watch(host_id)
        else:
            await self.unwatch(host_id)

    async def unwatch(self, host_id: str) -> None:
        watch = self._watches.pop(host_id, None)
        if watch is not None and watch.task is not None:
            watch.task.cancel()
            await asyncio.gather(watch.task, return_exceptions=True)
        await self._connections.drop(host_id)

    async def wait_up(self, host_id: str, timeout: float) -> bool:
        """Wait until monitoring has had the host's first answer; False after ``timeout``."""
        watch = self._watches.get(host_id)
        if watch is None:
            return False
        try:
            await asyncio.wait_for(watch.up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def latest_stats(self, host_id: str) -> StatsSample | None:
        return self._stats.get(host_id)

    def free_memory(self, conn: Connection, host_ids: Sequence[str]) -> dict[str, int]:
        """Free memory per host from the reports held in memory; the database for the rest
        (hosts that have not reported since the engine started)."""
        found: dict[str, int] = {}
        missing = []
        for host_id in host_ids:
            sample = self._stats.get(host_id)
            if sample is None:
                missing.append(host_id)
            else:
                found[host_id] = sample.stats.memory_free_bytes
        return found | free_memory_of(conn, missing)

    def watching(self, host_id: str) -> bool:
        return host_id in self._watches

    # --- grace -----------------------------------------------------------------------------------

    async def check_grace(self) -> None:
        """Declare non responsive every watched host silent for longer than the grace period."""
        for watch in list(self._watches.values()):
            if watch.liveness.overdue():
                watch.up_confirmed = False
                watch.up.clear()
                await self._lost(watch.host_id)

    # Every loop here also ends once stop has begun (``_loop`` is None): on Python 3.11 a
    # ``wait_for`` whose call finishes just as its task is cancelled loses the cancellation.

    async def _sweep(self) -> None:
        while self._loop is not None:
            await self._clock.sleep(min(self._interval, self._grace / 2))
            try:
                await self.check_grace()
            except Exception:
                log.exception("host grace check failed")

    # --- one host --------------------------------------------------------------------------------

    def _watch(self, host_id: str) -> None:
        if host_id in self._watches:
            return
        watch = _Watch(host_id, HostLiveness(self._clock, self._grace))
        self._watches[host_id] = watch
        watch.task = asyncio.get_running_loop().create_task(
            self._run(watch), name=f"host-monitor-{host_id}"
        )

    async def _run(self, watch: _Watch) -> None:
        host_id = watch.host_id
        backoff = self._interval
        try:
            while self._loop is not None:
                try:
                    await self._session(watch)
                except (_StopWatching, NotFound):
                    raise
                except HostUnreachable as exc:
                    log.info("host unreachable host=%s error=%s", host_id, exc.detail)
                except Exception:
                    log.exception("host monitoring session failed host=%s", host_id)
                if watch.liveness.silent_for() < 2 * self._interval:
                    backoff = self._interval  # it answered a moment ago: retry promptly
                await self._connections.drop(host_id)
                await self._clock.sleep(backoff)
                backoff = min(backoff * 2, self._interval * _MAX_BACKOFF_FACTOR)
        except (_StopWatching, NotFound):
            log.info("host no longer monitored host=%s", host_id)
            if self._watches.get(host_id) is watch:
                del self._watches[host_id]
            await self._connections.drop(host_id)

    async def _session(self, watch: _Watch) -> None:
        """Connect, reconcile the VM list, then heartbeat until the connection fails."""
        host_id = watch.host_id
        host = await self._db(lambda conn: repos.hosts.get(conn, host_id))
        if host.status not in MONITORED_HOSTS:
            raise _StopWatching
        await self._connections.open(
            host_id, host.address or "", host.port or 0, self._on_notification
        )
        await self._first_stats(host_id)
        await self._answered(watch)
        vms = await self._connections.call(host_id, VM_LIST, Empty())
        await self._sink.on_vm_list(host_id, list(vms.vms))
        ping_timeout = max(min(HOST_PING.timeout_s, self._grace), self._interval)
        while self._loop is not None:
            await self._connections.call(host_id, HOST_PING, Empty(), timeout=ping_timeout)
            await self._answered(watch)
            await self._clock.sleep(self._interval)

    async def _first_stats(self, host_id: str) -> None:
        """Ask for stats once per session, so a host that comes up (activated, reconnected)
        shows them at once rather than at its next periodic report."""
        try:
            stats = await self._connections.call(host_id, HOST_GET_STATS, Empty())
        except HostUnreachable:
            raise
        except Exception as exc:
            log.warning("host gave no stats host=%s error=%s", host_id, exc)
            return
        await self._store_stats(host_id, stats)

    async def _answered(self, watch: _Watch) -> None:
        came_back = watch.liveness.answered()
        if watch.up_confirmed and not came_back:
            return
        change = await self._db(lambda conn: self._come_up(conn, watch.host_id))
        if change is None:
            host = await self._db(lambda conn: repos.hosts.find(conn, watch.host_id))
            if host is None or host.status not in MONITORED_HOSTS:
                raise _StopWatching
        watch.up_confirmed = True
        watch.up.set()

    def _come_up(self, conn: Connection, host_id: str) -> HostStatus | None:
        change = change_status(conn, host_id, _COMES_UP_FROM, HostStatus.UP)
        if change is None:
            return None
        name = change.host.name
        if change.previous == HostStatus.NON_RESPONSIVE:
            text = f"Host {name} is responding again."
        else:
            text = f"Host {name} is up."
        self._eventlog.record(
            conn,
            code=EventCode.HOST_UP,
            severity=LogSeverity.NORMAL,
            description=text,
            host_id=host_id,
        )
        return change.previous

    async def _lost(self, host_id: str) -> None:
        def mark(conn: Connection) -> bool:
            change = change_status(conn, host_id, _GOES_SILENT_FROM, HostStatus.NON_RESPONSIVE)
            if change is None:
                return False
            self._eventlog.record(
                conn,
                code=EventCode.HOST_NON_RESPONSIVE,
                severity=LogSeverity.WARNING,
                description=f"Host {change.host.name} is non responsive.",
                host_id=host_id,
            )
            return True

        if await self._db(mark):
            log.warning("host non responsive host=%s", host_id)
            await self._sink.on_host_lost(host_id)

    # --- notifications ---------------------------------------------------------------------------

    async def _on_notification(self, host_id: str, name: str, params: Wire) -> None:
        watch = self._watches.get(host_id)
        if watch is not None:
            watch.liveness.heard()
        if name == HOST_STATS_REPORT.name and isinstance(params, StatsReport):
            await self._store_stats(host_id, params.host)
            await self._sink.on_vm_stats(host_id, list(params.vms))
        elif name == VM_STATE_CHANGED.name and isinstance(params, VmState):
            await self._sink.on_vm_state(host_id, params)

    async def _store_stats(self, host_id: str, stats: HostStats) -> None:
        now = self._clock.now()
        self._stats[host_id] = StatsSample(stats, now)
        mono = self._clock.monotonic()
        saved = self._stats_saved.get(host_id)
        if saved is not None and mono - saved < self._stats_interval:
            return
        self._stats_saved[host_id] = mono
        try:
            await self._writer.run(lambda conn: save_stats(conn, host_id, stats, now))
        except VirtfleetError as exc:
            log.warning("cannot save host stats host=%s error=%s", host_id, exc.detail)

    async def _db(self, fn: Callable[[Connection], R]) -> R:
        return await run_in_transaction(self._database, fn)
