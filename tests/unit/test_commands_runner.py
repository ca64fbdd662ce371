"""The command runner: steps in order with shared data, rollback on failure, object locks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from support.sinks import RecordingSink
from virtfleet.common.apimodel import DiskAttachment
from virtfleet.common.apimodel.enums import JobStatus, LogSeverity, StepEnum, StepStatus
from virtfleet.common.clock import SystemClock
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.engine.commands import CommandContext, CommandDefinition, CommandRunner, Step, store
from virtfleet.engine.commands.env import CommandEnv
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.transaction import run_in_transaction
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.persistence.database import Database, sqlite_url
from virtfleet.engine.persistence.tables import commands, jobs, locks
from virtfleet.engine.scheduler.scheduler import Scheduler


@pytest.fixture
def eventlog(database: Database) -> Iterator[EventLog]:
    log = EventLog(database, SystemClock())
    yield log
    log.close()


class NoInlineDisks:
    def attach(self, vm_id: str, attachment: DiskAttachment) -> None:
        raise AssertionError("no command here creates disks")

    def remove(self, vm_id: str, attachment_id: str) -> None:
        raise AssertionError("no command here removes disks")


@pytest.fixture
def env(database: Database, eventlog: EventLog, tmp_path: Path) -> CommandEnv:
    config = EngineConfig(data_dir=tmp_path)
    connections = HostConnections(tmp_path / "pki")
    monitor = HostMonitor(
        config,
        database,
        SystemClock(),
        eventlog,
        connections=connections,
        writer=BatchWriter(database),
        sink=RecordingSink(),
    )
    return CommandEnv(config, connections, monitor, NoInlineDisks(), Scheduler())


@pytest.fixture
async def runner(
    database: Database, eventlog: EventLog, env: CommandEnv
) -> AsyncIterator[CommandRunner]:
    runner = CommandRunner(database, SystemClock(), eventlog)
    runner.env = env
    await runner.start()
    yield runner
    await runner.stop()


def _vm_name(params: Mapping[str, Any]) -> str:
    return f"Starting VM {params['vm']}"


def _recording(trail: list[str], name: str) -> Step:
    async def run(ctx: CommandContext) -> None:
        trail.append(f"run {name}")

    async def undo(ctx: CommandContext) -> None:
        trail.append(f"undo {name}")

    return Step(name=name, description=f"Doing {name}", run=run, undo=undo)


def _failing(error: Exception) -> Step:
    async def run(ctx: CommandContext) -> None:
        raise error

    async def undo(ctx: CommandContext) -> None:
        raise AssertionError("the failing step itself is not undone")

    return Step(name="explode", description="Exploding", run=run, undo=undo)


def _blocking(entered: asyncio.Event, release: asyncio.Event) -> Step:
    async def run(ctx: CommandContext) -> None:
        entered.set()
        await release.wait()

    return Step(name="block", description="Waiting", run=run)


def _count(database: Database, table: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


async def test_three_steps_run_in_order_passing_data_and_the_job_finishes(
    runner: CommandRunner, database: Database, eventlog: EventLog
) -> None:
    seen: dict[str, Any] = {}

    async def place(ctx: CommandContext) -> None:
        ctx.data["host"] = f"host-for-{ctx.params['vm']}"

    async def define(ctx: CommandContext) -> None:
        ctx.data["domain"] = f"{ctx.data['host']}/domain"

    async def launch(ctx: CommandContext) -> None:
        seen.update(ctx.data, env=ctx.env)

    runner.register(
        CommandDefinition(
            kind="vm_start",
            describe=_vm_name,
            steps=[
                Step("place", "Choosing a host", place, type=StepEnum.VALIDATING),
                Step("define", "Defining the domain", define),
                Step("launch", "Launching", launch, type=StepEnum.FINALIZING),
            ],
            refs=lambda params, data: {"vm_id": params["vm"]},
            success_code=EventCode.VM_STARTED,
        )
    )

    job_id = runner.submit("vm_start", {"vm": "vm-1"}, locks=[("vm-1", "VM is starting")])
    job = await runner.wait(job_id, timeout=10)

    assert job.status == JobStatus.FINISHED
    assert job.description == "Starting VM vm-1"
    assert job.end_time is not None and job.start_time is not None
    assert seen == {
        "host": "host-for-vm-1",
        "domain": "host-for-vm-1/domain",
        "env": runner.env,
    }
    with database.read() as conn:
        steps = store.list_steps(conn, job_id)
        events = eventlog.list(conn)
    assert [(s.number, s.description, s.status) for s in steps] == [
        (0, "Choosing a host", StepStatus.FINISHED),
        (1, "Defining the domain", StepStatus.FINISHED),
        (2, "Launching", StepStatus.FINISHED),
    ]
    assert [s.type for s in steps] == [StepEnum.VALIDATING, StepEnum.EXECUTING, StepEnum.FINALIZING]
    assert all(s.job is not None and s.job.id == job_id for s in steps)
    assert _count(database, locks) == 0
    assert [(e.code, e.severity, e.description) for e in events] == [
        (EventCode.VM_STARTED, LogSeverity.NORMAL, "Starting VM vm-1 finished.")
    ]
    assert events[0].vm is not None and events[0].vm.id == "vm-1"


async def test_failing_step_undoes_completed_steps_in_reverse_and_fails_the_job(
    runner: CommandRunner, database: Database, eventlog: EventLog
) -> None:
    trail: list[str] = []
    runner.register(
        CommandDefinition(
            kind="vm_start",
            describe=_vm_name,
            steps=[
                _recording(trail, "a"),
                _recording(trail, "b"),
                _failing(Conflict("The storage domain is gone")),
                _recording(trail, "never"),
            ],
        )
    )

    job_id = runner.submit("vm_start", {"vm": "vm-1"}, locks=[("vm-1", "VM is starting")])
    job = await runner.wait(job_id, timeout=10)

    assert job.status == JobStatus.FAILED
    assert trail == ["run a", "run b", "undo b", "undo a"]
    with database.read() as conn:
        assert store.job_error(conn, job_id) == "The storage domain is gone"
        steps = store.list_steps(conn, job_id)
        events = eventlog.list(conn)
    assert [s.status for s in steps] == [
        StepStatus.FINISHED,
        StepStatus.FINISHED,
        StepStatus.FAILED,
    ]
    assert _count(database, locks) == 0
    assert events[0].severity == LogSeverity.ERROR
    assert events[0].code == EventCode.JOB_FAILED
    assert events[0].description == "Starting VM vm-1 failed: The storage domain is gone"


async def test_an_undo_that_fails_does_not_stop_the_others_and_is_reported(
    runner: CommandRunner, database: Database
) -> None:
    trail: list[str] = []

    async def broken_undo(ctx: CommandContext) -> None:
        raise RuntimeError("volume busy")

    runner.register(
        CommandDefinition(
            kind="k",
            describe=lambda params: "Job",
            steps=[
                _recording(trail, "a"),
                Step("b", "B", _recording(trail, "b").run, undo=broken_undo),
                _failing(ValueError("bad")),
            ],
        )
    )

    job = await runner.wait(runner.submit("k", {}), timeout=10)

    assert job.status == JobStatus.FAILED
    assert trail == ["run a", "run b", "undo a"]
    with database.read() as conn:
        error = store.job_error(conn, job.id or "")
    assert error == "ValueError: bad; undo failed: b: RuntimeError: volume busy"


async def test_submit_on_a_locked_object_raises_conflict_and_writes_nothing(
    runner: CommandRunner, database: Database
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    runner.register(
        CommandDefinition(kind="vm_start", describe=_vm_name, steps=[_blocking(entered, release)])
    )
    first = runner.submit("vm_start", {"vm": "vm-1"}, locks=[("vm-1", "VM is starting")])
    await asyncio.wait_for(entered.wait(), 10)

    with pytest.raises(Conflict, match="vm-1 is locked by Starting VM vm-1"):
        runner.submit(
            "vm_start",
            {"vm": "vm-1"},
            locks=[("disk-9", "Disk in use"), ("vm-1", "VM is starting")],
        )

    assert (_count(database, jobs), _count(database, commands), _count(database, locks)) == (
        1,
        1,
        1,
    )
    release.set()
    assert (await runner.wait(first, timeout=10)).status == JobStatus.FINISHED
    assert _count(database, locks) == 0


async def test_object_is_free_again_once_the_holding_command_ended(
    runner: CommandRunner,
) -> None:
    trail: list[str] = []
    runner.register(
        CommandDefinition(kind="k", describe=lambda p: "Job", steps=[_recording(trail, "a")])
    )

    first = runner.submit("k", {}, locks=[("vm-1", "busy")])
    await runner.wait(first, timeout=10)
    second = runner.submit("k", {}, locks=[("vm-1", "busy")])

    assert (await runner.wait(second, timeout=10)).status == JobStatus.FINISHED


async def test_submit_works_from_a_worker_thread(runner: CommandRunner) -> None:
    trail: list[str] = []
    runner.register(
        CommandDefinition(kind="k", describe=lambda p: "Job", steps=[_recording(trail, "a")])
    )

    job_id = await asyncio.to_thread(runner.submit, "k", {}, description="From the API")
    job = await runner.wait(job_id, timeout=10)

    assert (job.status, job.description, trail) == (JobStatus.FINISHED, "From the API", ["run a"])


async def test_params_are_read_only_to_steps(runner: CommandRunner) -> None:
    async def tamper(ctx: CommandContext) -> None:
        ctx.params["vm"] = "other"  # type: ignore[index]

    runner.register(
        CommandDefinition(kind="k", describe=lambda p: "Job", steps=[Step("t", "T", tamper)])
    )

    job = await runner.wait(runner.submit("k", {"vm": "vm-1"}), timeout=10)

    assert job.status == JobStatus.FAILED


async def test_wait_gives_up_after_its_timeout(runner: CommandRunner) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    runner.register(
        CommandDefinition(kind="k", describe=lambda p: "Job", steps=[_blocking(entered, release)])
    )
    job_id = runner.submit("k", {})

    with pytest.raises(TimeoutError):
        await runner.wait(job_id, timeout=0.2)
    release.set()
    assert (await runner.wait(job_id, timeout=10)).status == JobStatus.FINISHED


def test_unknown_command_kind_is_refused(database: Database, eventlog: EventLog) -> None:
    runner = CommandRunner(database, SystemClock(), eventlog)

    with pytest.raises(InvalidInput):
        runner.submit("nope", {})


def test_a_command_needs_steps_with_distinct_names() -> None:
    async def run(ctx: CommandContext) -> None:
        return None

    with pytest.raises(ValueError):
        CommandDefinition(kind="k", describe=lambda p: "", steps=[])
    with pytest.raises(ValueError):
        CommandDefinition(kind="k", describe=lambda p: "", steps=[Step("a", "", run)] * 2)


async def test_steps_can_use_the_database_and_log_events(
    runner: CommandRunner, database: Database, eventlog: EventLog
) -> None:
    async def note(ctx: CommandContext) -> None:
        ctx.data["jobs"] = await ctx.db(lambda conn: len(store.list_jobs(conn)))
        await ctx.log_event(EventCode.VM_DOWN, "VM vm-1 is down.", vm_id="vm-1")

    runner.register(
        CommandDefinition(kind="k", describe=lambda p: "Job", steps=[Step("n", "N", note)])
    )

    job_id = runner.submit("k", {}, correlation_id="corr-1")
    await runner.wait(job_id, timeout=10)

    with database.read() as conn:
        events = eventlog.list(conn)
    step_event = events[-1]
    assert (step_event.code, step_event.correlation_id) == (EventCode.VM_DOWN, "corr-1")
    assert step_event.vm is not None and step_event.vm.id == "vm-1"
    assert events[0].correlation_id == "corr-1"


async def test_a_transaction_cancelled_before_it_began_never_runs(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "queued.db"))
    gate = threading.Event()
    ran: list[int] = []

    def blocked(conn: Connection) -> None:
        gate.wait(5)

    def queued(conn: Connection) -> None:
        ran.append(1)

    try:
        # fill every worker thread so the next transaction waits in the queue
        busy = [asyncio.ensure_future(run_in_transaction(database, blocked)) for _ in range(64)]
        waiting = asyncio.ensure_future(run_in_transaction(database, queued))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 1.0)
        gate.set()
        await asyncio.gather(*busy)
        await asyncio.sleep(0.1)
        assert ran == []
    finally:
        gate.set()
        database.dispose()
