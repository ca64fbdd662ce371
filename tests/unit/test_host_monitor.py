"""The grace period of host monitoring, driven by a simulated clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.sinks import RecordingSink
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.common.clock import ManualClock
from virtfleet.engine.assembly import Engine, build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.monitoring import HostLiveness, HostMonitor
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.persistence import repositories as repos

GRACE_S = 60.0


def test_a_host_is_not_overdue_within_the_grace_period() -> None:
    clock = ManualClock()
    liveness = HostLiveness(clock, GRACE_S)
    clock.advance(GRACE_S)
    assert not liveness.overdue()


def test_a_host_silent_past_the_grace_period_is_overdue_once() -> None:
    clock = ManualClock()
    liveness = HostLiveness(clock, GRACE_S)
    clock.advance(GRACE_S + 0.1)
    assert liveness.overdue()
    clock.advance(GRACE_S * 10)
    assert not liveness.overdue()


def test_each_answer_restarts_the_grace_period() -> None:
    clock = ManualClock()
    liveness = HostLiveness(clock, GRACE_S)
    for _ in range(10):
        clock.advance(GRACE_S - 1)
        liveness.heard()
    assert not liveness.overdue()


def test_an_answer_after_being_lost_reports_the_host_back() -> None:
    clock = ManualClock()
    liveness = HostLiveness(clock, GRACE_S)
    assert not liveness.answered()
    clock.advance(GRACE_S + 1)
    assert liveness.overdue()
    assert liveness.answered()
    assert not liveness.answered()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, ManualClock]]:
    clock = ManualClock()
    config = EngineConfig(data_dir=tmp_path, host_grace_s=GRACE_S)
    ctx = build_engine(config, clock=clock)
    seed_defaults(ctx.database, clock)
    try:
        yield ctx, clock
    finally:
        ctx.eventlog.close()
        ctx.database.dispose()


def _insert_host(ctx: Engine, status: HostStatus) -> str:
    with ctx.database.transaction() as conn:
        cluster = repos.clusters.find_by_name(conn, "Default")
        assert cluster is not None
        host = m.Host(
            id="11111111-1111-1111-1111-111111111111",
            name="h1",
            address="127.0.0.1",
            port=1,
            status=status,
            cluster=m.Cluster(id=cluster.id),
        )
        repos.hosts.insert(conn, host)
    assert host.id is not None
    return host.id


def _monitor(ctx: Engine, sink: RecordingSink, tmp_path: Path) -> HostMonitor:
    """A monitor of its own beside the engine's (which is not started), reporting to ``sink``."""
    return HostMonitor(
        ctx.config,
        ctx.database,
        ctx.clock,
        ctx.eventlog,
        connections=HostConnections(tmp_path / "pki"),
        writer=ctx.batch_writer,
        sink=sink,
    )


def _status(ctx: Engine, host_id: str) -> HostStatus | None:
    with ctx.database.read() as conn:
        return repos.hosts.get(conn, host_id).status


async def test_grace_check_marks_a_silent_host_non_responsive_once(
    engine: tuple[Engine, ManualClock], tmp_path: Path
) -> None:
    ctx, clock = engine
    sink = RecordingSink()
    host_id = _insert_host(ctx, HostStatus.UP)
    monitor = _monitor(ctx, sink, tmp_path)
    await monitor.start()  # the watcher cannot connect (port 1): the host stays silent
    try:
        clock.advance(GRACE_S - 1)
        await monitor.check_grace()
        assert _status(ctx, host_id) == HostStatus.UP
        clock.advance(2)
        await monitor.check_grace()
        await monitor.check_grace()
        assert _status(ctx, host_id) == HostStatus.NON_RESPONSIVE
        assert sink.lost == [host_id]
        with ctx.database.read() as conn:
            codes = [e.code for e in ctx.eventlog.list(conn)]
        assert codes.count(EventCode.HOST_NON_RESPONSIVE) == 1
    finally:
        await monitor.stop()


async def test_grace_check_leaves_a_host_in_maintenance_alone(
    engine: tuple[Engine, ManualClock], tmp_path: Path
) -> None:
    ctx, clock = engine
    host_id = _insert_host(ctx, HostStatus.MAINTENANCE)
    monitor = _monitor(ctx, RecordingSink(), tmp_path)
    await monitor.start()
    try:
        clock.advance(GRACE_S * 2)
        await monitor.check_grace()
        assert _status(ctx, host_id) == HostStatus.MAINTENANCE
        assert not monitor.watching(host_id)
    finally:
        await monitor.stop()
