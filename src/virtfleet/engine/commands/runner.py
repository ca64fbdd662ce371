"""Runs persisted commands step by step, and resumes or rolls them back after a restart.

Every state change is written before the runner moves on: a command row (state, next step,
step outputs), its job and step rows, and the locks on the objects it works on. After a crash
the rows say exactly where each command stood, so ``start`` can carry on from there. Those
bookkeeping writes of all commands go through one batch writer: each command still awaits its
own, but a thousand commands moving a step at once share a few transactions.

The runner takes at most ``max_live`` unfinished commands: past that, ``submit`` refuses with
``Busy`` (a 503 with Retry-After), so a client starting VMs faster than hosts boot them is
slowed down instead of filling the engine's memory with waiting commands.

As in oVirt, a step's row appears when the step starts (numbered from 0 in definition order)
and is finished, failed or aborted when it ends; a re-run after a restart reuses the row.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Connection

from virtfleet.common.apimodel.enums import JobStatus, LogSeverity, StepStatus
from virtfleet.common.apimodel.system import Job
from virtfleet.common.clock import Clock
from virtfleet.common.errors import Busy, Conflict, InvalidInput
from virtfleet.engine.commands import store
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Step
from virtfleet.engine.commands.env import CommandEnv
from virtfleet.engine.commands.revert import Reverter, describe_error
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.transaction import run_in_transaction
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.persistence.database import Database

log = logging.getLogger(__name__)

R = TypeVar("R")

_INTERRUPTED = "Interrupted by an engine restart"


# How long a submission waits for locks held by commands that are finishing.
LOCK_WAIT_S = 3.0
LOCK_RETRY_S = 0.05
# Unfinished commands the runner takes before it refuses new ones, and the wait it suggests.
MAX_LIVE = 2000
RETRY_AFTER_S = 2


class CommandRunner:
    """Owns the execution of every command on one event loop."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        eventlog: EventLog,
        definitions: Iterable[CommandDefinition] = (),
        *,
        max_live: int = MAX_LIVE,
    ) -> None:
        self.database = database
        self.max_live = max_live
        self._bookkeeping = BatchWriter(database, name="commands")
        self._live: set[str] = set()
        self.clock = clock
        self.eventlog = eventlog
        self.env: CommandEnv | None = None
        self._definitions: dict[str, CommandDefinition] = {}
        for definition in definitions:
            self.register(definition)
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._pending: list[str] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._completed = asyncio.Event()

    def register(self, definition: CommandDefinition) -> None:
        if definition.kind in self._definitions:
            raise ValueError(f"command kind {definition.kind!r} is already registered")
        self._definitions[definition.kind] = definition

    # --- submission (any thread) -----------------------------------------------------------------

    def submit(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        locks: Sequence[tuple[str, str]] = (),
        description: str | None = None,
        correlation_id: str | None = None,
        user_id: str | None = None,
        precheck: Callable[[Connection], None] | None = None,
    ) -> str:
        """Persist a new command with its job and locks, schedule it, and return the job id.

        Thread-safe and blocking: API worker threads call it. Raises ``store.Locked``, writing
        nothing, when a live command still holds one of ``locks`` (pairs of object id and reason)
        after a short wait; ``precheck(conn)`` validates under the locks (see create_command).
        """
        definition = self._definitions.get(kind)
        if definition is None:
            raise InvalidInput(f"Unknown command kind '{kind}'")
        if self._stopping:
            raise Conflict("The engine is shutting down; try again when it is back")
        command_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
        self._admit(command_id)

        def create() -> None:
            with self.database.transaction() as conn:
                store.create_command(
                    conn,
                    command_id=command_id,
                    job_id=job_id,
                    kind=kind,
                    params=params,
                    description=description or definition.describe(params),
                    held=locks,
                    correlation_id=correlation_id,
                    user_id=user_id,
                    now=self.clock.now(),
                    precheck=precheck,
                )

        try:
            self.when_unlocked(create)
        except BaseException:
            self._leave(command_id)
            raise
        with self._state_lock:
            loop = self._loop
            if loop is None:
                # Not started yet (or stopping): start() picks it up from the database.
                self._pending.append(command_id)
                return job_id
        try:
            loop.call_soon_threadsafe(self._launch, command_id, False)
        except RuntimeError:
            log.warning("command queued for the next start command=%s", command_id)
        log.info("command submitted kind=%s command=%s job=%s", kind, command_id, job_id)
        return job_id

    def _admit(self, command_id: str) -> None:
        with self._state_lock:
            if len(self._live) >= self.max_live:
                raise Busy(
                    f"The engine is busy with {len(self._live)} unfinished operations; "
                    f"try again in {RETRY_AFTER_S} seconds",
                    retry_after_s=RETRY_AFTER_S,
                )
            self._live.add(command_id)

    def _leave(self, command_id: str) -> None:
        with self._state_lock:
            self._live.discard(command_id)

    @property
    def live(self) -> int:
        """Unfinished commands counted against ``max_live``."""
        with self._state_lock:
            return len(self._live)

    def when_unlocked(self, attempt: Callable[[], R]) -> R:
        """Run ``attempt`` (a transaction that raises ``store.Locked`` while a live command holds
        what it needs), retrying for a short while.

        A command that has just published its result (a host ``up`` or ``install_failed``)
        still holds its locks for a moment: clients that saw the result and act at once wait
        briefly instead of getting a conflict. Blocking: for worker threads only.
        """
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                return attempt()
            except store.Locked:
                if time.monotonic() >= deadline or self._on_loop_thread():
                    raise
                time.sleep(LOCK_RETRY_S)

    def _on_loop_thread(self) -> bool:
        """Waiting must never block the event loop the commands themselves run on."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take over the running loop, then resume or roll back what a previous run left."""
        loop = asyncio.get_running_loop()
        await self._bookkeeping.start()
        records, released = await self._db(_recover_rows)
        if released:
            log.info("released locks of finished commands count=%d", released)
        with self._state_lock:
            self._loop = loop
            self._stopping = False
            pending, self._pending = set(self._pending), []
        for record in records:
            self._launch(record.id, record.id not in pending)
        for command_id in pending - {record.id for record in records}:
            self._launch(command_id, False)

    async def stop(self) -> None:
        """Cancel in-flight commands without marking them: the next start carries them on."""
        with self._state_lock:
            self._stopping = True
            self._loop = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._bookkeeping.stop()

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job leaves status ``started``; TimeoutError after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            signal = self._completed
            job = await self._read(partial(store.get_job, job_id=job_id))
            if job.status != JobStatus.STARTED:
                return job
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"job {job_id} is still running after {timeout} s")
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                raise TimeoutError(f"job {job_id} is still running after {timeout} s") from None

    def wait_blocking(self, job_id: str, timeout: float) -> tuple[Job, str | None]:
        """``wait`` from a worker thread: the finished job and its command's error, if any.

        For operations a client expects done when its call returns (a device hot-plug)."""
        loop = self._loop
        if loop is None or self._on_loop_thread():
            raise Conflict("The engine is not running commands now; try again later")
        future = asyncio.run_coroutine_threadsafe(self.wait(job_id, timeout), loop)
        try:
            job = future.result(timeout + 1)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise Conflict(f"The operation is still running (job {job_id})") from None
        with self.database.read() as conn:
            return job, store.job_error(conn, job_id)

    # --- execution (event loop) ------------------------------------------------------------------

    def _launch(self, command_id: str, recovering: bool) -> None:
        if command_id in self._tasks or self._stopping:
            return
        with self._state_lock:
            self._live.add(command_id)  # recovered commands count too
        task = asyncio.get_running_loop().create_task(
            self._run(command_id, recovering), name=f"command-{command_id}"
        )
        self._tasks[command_id] = task
        task.add_done_callback(partial(self._task_done, command_id))

    def _task_done(self, command_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(command_id, None)
        if not task.cancelled():
            self._leave(command_id)  # a cancelled one is carried on by the next start
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "command bookkeeping failed; it resumes on the next start command=%s",
                command_id,
                exc_info=task.exception(),
            )
        self._completed.set()
        self._completed = asyncio.Event()

    async def _run(self, command_id: str, recovering: bool) -> None:
        record = await self._read(partial(store.load_command, command_id=command_id))
        if record.state not in store.LIVE_STATES:
            return
        definition = self._definitions.get(record.kind)
        ctx = self._context(record)
        if definition is None:
            await self._end(
                ctx, None, state=store.FAILED, error=f"Unknown command kind '{record.kind}'"
            )
            return
        last = len(definition.steps) - 1
        if record.state == store.FAILING:
            await self._unwind(ctx, definition, record.next_step, store.FAILED, record.error)
            return
        if record.state == store.ABORTING:
            upto = await self._interrupted_upto(ctx, record.next_step, last)
            await self._unwind(ctx, definition, upto, store.ABORTED, record.error)
            return
        if recovering and definition.recovery == "rollback" and record.next_step <= last:
            upto = await self._interrupted_upto(ctx, record.next_step, last)
            if upto > 0:
                log.info("rolling back interrupted command command=%s", command_id)
                await self._db(
                    partial(
                        _set_state,
                        command_id=command_id,
                        state=store.ABORTING,
                        error=_INTERRUPTED,
                        now=self.clock.now(),
                    )
                )
                await self._unwind(ctx, definition, upto, store.ABORTED, _INTERRUPTED)
                return
        if recovering:
            log.info("resuming command command=%s step=%d", command_id, record.next_step)
        await self._execute(ctx, definition, record.next_step)

    async def _execute(
        self, ctx: CommandContext, definition: CommandDefinition, first: int
    ) -> None:
        steps = definition.steps
        await self._book(
            partial(_start_step, ctx=ctx, steps=steps, number=first, now=self.clock.now())
        )
        for number in range(first, len(steps)):
            try:
                await steps[number].run(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._fail(ctx, definition, number, exc)
                return
            # one transaction ends this step and starts the next: half the bookkeeping writes
            await self._book(
                partial(
                    _complete_step,
                    ctx=ctx,
                    steps=steps,
                    number=number,
                    data=dict(ctx.data),
                    now=self.clock.now(),
                )
            )
        await self._end(ctx, definition, state=store.FINISHED, error=None)

    async def _fail(
        self, ctx: CommandContext, definition: CommandDefinition, number: int, exc: Exception
    ) -> None:
        error = describe_error(exc)
        log.warning(
            "command step failed command=%s step=%s error=%s",
            ctx.command_id,
            definition.steps[number].name,
            error,
            exc_info=exc,
        )
        await self._book(
            partial(_mark_failing, ctx=ctx, number=number, error=error, now=self.clock.now())
        )
        await self._unwind(ctx, definition, number, store.FAILED, error)

    async def _unwind(
        self,
        ctx: CommandContext,
        definition: CommandDefinition,
        upto: int,
        state: str,
        error: str | None,
    ) -> None:
        """Undo steps ``0 .. upto-1`` newest first, then end the command in ``state``."""
        reverter = Reverter()
        for step in definition.steps[:upto]:
            if step.undo is not None:
                reverter.add(step.name, partial(step.undo, ctx))
        failures = await reverter.revert()
        if failures:
            error = f"{error or 'Rolled back'}; undo failed: {'; '.join(failures)}"
        await self._end(ctx, definition, state=state, error=error)

    async def _interrupted_upto(self, ctx: CommandContext, next_step: int, last: int) -> int:
        """How many steps to undo after an interruption: the interrupted one too, if it began."""
        if next_step > last:
            return next_step
        began = await self._read(partial(store.step_started, job_id=ctx.job_id, number=next_step))
        return next_step + 1 if began else next_step

    async def _end(
        self,
        ctx: CommandContext,
        definition: CommandDefinition | None,
        *,
        state: str,
        error: str | None,
    ) -> None:
        await self._book(
            partial(
                self._end_rows,
                ctx=ctx,
                definition=definition,
                state=state,
                error=error,
                now=self.clock.now(),
            )
        )
        log.info("command ended command=%s state=%s error=%s", ctx.command_id, state, error)

    def _end_rows(
        self,
        conn: Connection,
        *,
        ctx: CommandContext,
        definition: CommandDefinition | None,
        state: str,
        error: str | None,
        now: datetime,
    ) -> None:
        status = {
            store.FINISHED: JobStatus.FINISHED,
            store.FAILED: JobStatus.FAILED,
            store.ABORTED: JobStatus.ABORTED,
        }[state]
        ended: dict[str, Any] = {"state": state, "error": error}
        if definition is not None and definition.secret_params:
            ended["params"] = {
                k: v for k, v in ctx.params.items() if k not in definition.secret_params
            }
        store.update_command(conn, ctx.command_id, now=now, **ended)
        store.abort_open_steps(conn, ctx.job_id, now=now)
        job = store.end_job(conn, ctx.job_id, status=status, now=now)
        store.release_locks(conn, ctx.command_id)
        description = (job.description if job else None) or (
            definition.describe(ctx.params) if definition else ctx.command_id
        )
        refs: dict[str, Any] = {}
        if job is not None and job.owner is not None:
            refs["user_id"] = job.owner.id
        if definition is not None:
            refs.update(definition.refs(ctx.params, ctx.data))
        if state == store.FINISHED:
            code = definition.success_code if definition else EventCode.JOB_FINISHED
            severity = LogSeverity.NORMAL
            if definition is not None and definition.describe_done is not None:
                text = definition.describe_done(ctx.params, ctx.data)
            else:
                text = f"{description} finished."
        elif state == store.FAILED:
            code = definition.failure_code if definition else EventCode.JOB_FAILED
            severity = LogSeverity.ERROR
            text = f"{description} failed: {error}"
        else:
            code, severity = EventCode.JOB_ABORTED, LogSeverity.WARNING
            text = f"{description} was rolled back: {error}"
        self.eventlog.record(
            conn,
            code=code,
            severity=severity,
            description=text,
            job_id=ctx.job_id,
            correlation_id=ctx.correlation_id,
            **refs,
        )

    def _context(self, record: store.CommandRecord) -> CommandContext:
        return CommandContext(
            command_id=record.id,
            job_id=record.job_id,
            params=MappingProxyType(record.params),
            data=record.data,
            bound_env=self.env,
            clock=self.clock,
            database=self.database,
            eventlog=self.eventlog,
            correlation_id=record.correlation_id,
        )

    async def _db(self, fn: Callable[[Connection], R]) -> R:
        return await run_in_transaction(self.database, fn)

    async def _read(self, fn: Callable[[Connection], R]) -> R:
        return await run_in_transaction(self.database, fn, read_only=True)

    async def _book(self, fn: Callable[[Connection], R]) -> R:
        """A bookkeeping write, batched with other commands' (awaited all the same)."""
        return await self._bookkeeping.run(fn)


def _recover_rows(conn: Connection) -> tuple[list[store.CommandRecord], int]:
    released = store.release_dead_locks(conn)
    return store.live_commands(conn), released


def _set_state(conn: Connection, *, command_id: str, state: str, error: str, now: datetime) -> None:
    store.update_command(conn, command_id, now=now, state=state, error=error)


def _start_step(
    conn: Connection, *, ctx: CommandContext, steps: Sequence[Step], number: int, now: datetime
) -> None:
    step = steps[number]
    store.start_step(
        conn, ctx.job_id, number, description=step.description, type=step.type, now=now
    )


def _complete_step(
    conn: Connection,
    *,
    ctx: CommandContext,
    steps: Sequence[Step],
    number: int,
    data: dict[str, Any],
    now: datetime,
) -> None:
    store.end_step(conn, ctx.job_id, number, status=StepStatus.FINISHED, now=now)
    store.update_command(conn, ctx.command_id, now=now, next_step=number + 1, data=data)
    if number + 1 < len(steps):
        _start_step(conn, ctx=ctx, steps=steps, number=number + 1, now=now)  # touches the job
    else:
        store.touch_job(conn, ctx.job_id, now=now)


def _mark_failing(
    conn: Connection, *, ctx: CommandContext, number: int, error: str, now: datetime
) -> None:
    store.end_step(conn, ctx.job_id, number, status=StepStatus.FAILED, now=now)
    store.update_command(conn, ctx.command_id, now=now, state=store.FAILING, error=error)
    store.touch_job(conn, ctx.job_id, now=now)
