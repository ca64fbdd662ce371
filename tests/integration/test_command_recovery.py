"""Engine restarts: a command cut off mid-way is resumed or rolled back from its persisted state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from virtfleet.common.apimodel.enums import JobStatus, LogSeverity, StepStatus
from virtfleet.common.clock import SystemClock
from virtfleet.engine.commands import (
    CommandContext,
    CommandDefinition,
    CommandRunner,
    Recovery,
    Step,
    store,
)
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.persistence.database import Database, sqlite_url
from virtfleet.engine.persistence.tables import commands, locks, metadata


class Engine:
    """One engine lifetime on a database file: its own Database, EventLog and CommandRunner."""

    def __init__(self, path: Path, definition: CommandDefinition) -> None:
        self.database = Database(sqlite_url(path))
        metadata.create_all(self.database.engine)
        self.eventlog = EventLog(self.database, SystemClock())
        self.runner = CommandRunner(self.database, SystemClock(), self.eventlog)
        self.runner.register(definition)

    async def crash(self) -> None:
        await self.runner.stop()
        self.eventlog.close()
        self.database.dispose()


class Scenario:
    """Steps that record what ran; the second step hangs in the first engine (the crash)."""

    def __init__(self) -> None:
        self.trail: list[str] = []
        self.hang = True
        self.hanging = asyncio.Event()

    def definition(self, recovery: Recovery) -> CommandDefinition:
        async def prepare(ctx: CommandContext) -> None:
            self.trail.append("run prepare")
            ctx.data["volume"] = f"vol-{ctx.params['disk']}"

        async def undo_prepare(ctx: CommandContext) -> None:
            self.trail.append("undo prepare")

        async def copy(ctx: CommandContext) -> None:
            self.trail.append(f"run copy {ctx.data['volume']}")
            if self.hang:
                self.hanging.set()
                await asyncio.Event().wait()

        async def undo_copy(ctx: CommandContext) -> None:
            self.trail.append(f"undo copy {ctx.data['volume']}")

        async def register(ctx: CommandContext) -> None:
            self.trail.append("run register")

        return CommandDefinition(
            kind="disk_copy",
            describe=lambda params: f"Copying disk {params['disk']}",
            steps=[
                Step("prepare", "Preparing the volume", prepare, undo_prepare),
                Step("copy", "Copying data", copy, undo_copy),
                Step("register", "Registering the disk", register),
            ],
            recovery=recovery,
        )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engine.db"


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.eventlog.close()
        engine.database.dispose()


async def _crash_in_second_step(
    db_path: Path, scenario: Scenario, recovery: Recovery, engines: list[Engine]
) -> str:
    first = Engine(db_path, scenario.definition(recovery))
    engines.append(first)
    await first.runner.start()
    job_id = first.runner.submit("disk_copy", {"disk": "d1"}, locks=[("d1", "Disk is copied")])
    await asyncio.wait_for(scenario.hanging.wait(), 10)
    await first.crash()
    return job_id


async def _restart(
    db_path: Path, scenario: Scenario, recovery: Recovery, engines: list[Engine]
) -> Engine:
    scenario.hang = False
    second = Engine(db_path, scenario.definition(recovery))
    engines.append(second)
    await second.runner.start()
    return second


def _lock_count(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(locks)).scalar_one())


async def test_resumable_command_carries_on_from_the_persisted_step_after_a_restart(
    db_path: Path, engines: list[Engine]
) -> None:
    scenario = Scenario()
    job_id = await _crash_in_second_step(db_path, scenario, "resume", engines)

    second = await _restart(db_path, scenario, "resume", engines)
    job = await second.runner.wait(job_id, timeout=10)
    await second.runner.stop()

    assert job.status == JobStatus.FINISHED
    # prepare is not repeated; copy runs again and still sees prepare's output.
    assert scenario.trail == ["run prepare", "run copy vol-d1", "run copy vol-d1", "run register"]
    with second.database.read() as conn:
        steps = store.list_steps(conn, job_id)
    assert [(s.number, s.status) for s in steps] == [
        (0, StepStatus.FINISHED),
        (1, StepStatus.FINISHED),
        (2, StepStatus.FINISHED),
    ]
    assert _lock_count(second.database) == 0


async def test_command_stays_running_and_locked_while_the_engine_is_down(
    db_path: Path, engines: list[Engine]
) -> None:
    scenario = Scenario()
    job_id = await _crash_in_second_step(db_path, scenario, "resume", engines)

    database = Database(sqlite_url(db_path))
    try:
        with database.read() as conn:
            job = store.get_job(conn, job_id)
            steps = store.list_steps(conn, job_id)
        assert job.status == JobStatus.STARTED
        assert [s.status for s in steps] == [StepStatus.FINISHED, StepStatus.STARTED]
        assert _lock_count(database) == 1
    finally:
        database.dispose()


async def test_rollback_command_undoes_the_interrupted_and_completed_steps_after_a_restart(
    db_path: Path, engines: list[Engine]
) -> None:
    scenario = Scenario()
    job_id = await _crash_in_second_step(db_path, scenario, "rollback", engines)

    second = await _restart(db_path, scenario, "rollback", engines)
    job = await second.runner.wait(job_id, timeout=10)
    await second.runner.stop()

    assert job.status == JobStatus.ABORTED
    assert scenario.trail == [
        "run prepare",
        "run copy vol-d1",
        "undo copy vol-d1",
        "undo prepare",
    ]
    with second.database.read() as conn:
        steps = store.list_steps(conn, job_id)
        events = second.eventlog.list(conn)
        error = store.job_error(conn, job_id)
    assert [s.status for s in steps] == [StepStatus.FINISHED, StepStatus.ABORTED]
    assert error == "Interrupted by an engine restart"
    assert (events[0].code, events[0].severity) == (EventCode.JOB_ABORTED, LogSeverity.WARNING)
    assert _lock_count(second.database) == 0


async def test_command_submitted_before_start_runs_once_the_runner_starts(
    db_path: Path, engines: list[Engine]
) -> None:
    scenario = Scenario()
    scenario.hang = False
    engine = Engine(db_path, scenario.definition("rollback"))
    engines.append(engine)

    job_id = engine.runner.submit("disk_copy", {"disk": "d2"})
    await engine.runner.start()
    job = await engine.runner.wait(job_id, timeout=10)
    await engine.runner.stop()

    assert job.status == JobStatus.FINISHED
    assert scenario.trail == ["run prepare", "run copy vol-d2", "run register"]


async def test_start_releases_locks_left_by_commands_that_are_no_longer_live(
    db_path: Path, engines: list[Engine]
) -> None:
    scenario = Scenario()
    engine = Engine(db_path, scenario.definition("resume"))
    engines.append(engine)
    now = datetime.now(UTC)
    with engine.database.transaction() as conn:
        conn.execute(
            insert(commands).values(
                id="c-dead",
                kind="disk_copy",
                job_id=None,
                state=store.FAILED,
                next_step=1,
                params={},
                data={},
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(insert(locks).values(object_id="d3", command_id="c-dead", reason="stale"))

    await engine.runner.start()
    locked_after_start = _lock_count(engine.database)
    scenario.hang = False
    job_id = engine.runner.submit("disk_copy", {"disk": "d3"}, locks=[("d3", "copy")])
    job = await engine.runner.wait(job_id, timeout=10)
    await engine.runner.stop()

    assert locked_after_start == 0
    assert job.status == JobStatus.FINISHED


async def test_a_failing_command_cut_off_while_undoing_finishes_its_rollback_after_a_restart(
    db_path: Path, engines: list[Engine]
) -> None:
    trail: list[str] = []
    hanging = asyncio.Event()
    hang = [True]

    async def work(ctx: CommandContext) -> None:
        trail.append("run work")

    async def undo_work(ctx: CommandContext) -> None:
        trail.append("undo work")
        if hang[0]:
            hanging.set()
            await asyncio.Event().wait()

    async def explode(ctx: CommandContext) -> None:
        raise RuntimeError("no space left")

    definition = CommandDefinition(
        kind="disk_copy",
        describe=lambda params: "Copying",
        steps=[Step("work", "Work", work, undo_work), Step("explode", "Explode", explode)],
    )
    first = Engine(db_path, definition)
    engines.append(first)
    await first.runner.start()
    job_id = first.runner.submit("disk_copy", {})
    await asyncio.wait_for(hanging.wait(), 10)
    await first.crash()

    hang[0] = False
    second = Engine(db_path, definition)
    engines.append(second)
    await second.runner.start()
    job = await second.runner.wait(job_id, timeout=10)
    await second.runner.stop()

    assert job.status == JobStatus.FAILED
    assert trail == ["run work", "undo work", "undo work"]
    with second.database.read() as conn:
        assert store.job_error(conn, job_id) == "RuntimeError: no space left"
