"""What a step sees while it runs: the command's parameters, earlier steps' outputs, the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from virtfleet.common.apimodel.enums import LogSeverity
from virtfleet.common.clock import Clock
from virtfleet.engine.commands.env import CommandEnv
from virtfleet.engine.core.eventlog import EventLog
from virtfleet.engine.core.transaction import run_in_transaction
from virtfleet.engine.persistence.database import Database

R = TypeVar("R")


@dataclass
class CommandContext:
    """Per-command state handed to every step.

    ``data`` is persisted after each completed step, so a command resumed after a restart sees
    what its earlier steps produced; it must hold JSON values only.
    """

    command_id: str
    job_id: str
    params: Mapping[str, Any]
    data: dict[str, Any]
    clock: Clock
    database: Database
    eventlog: EventLog
    correlation_id: str | None = None
    bound_env: CommandEnv | None = None

    @property
    def env(self) -> CommandEnv:
        """The engine around the command; only a runner without one (a unit test) lacks it."""
        if self.bound_env is None:
            raise RuntimeError("this command runner has no engine environment bound")
        return self.bound_env

    async def db(self, fn: Callable[[Connection], R]) -> R:
        """Run ``fn(conn)`` in a worker thread inside one transaction."""
        return await run_in_transaction(self.database, fn)

    async def read(self, fn: Callable[[Connection], R]) -> R:
        """``db`` for reads: it does not queue behind the engine's writers."""
        return await run_in_transaction(self.database, fn, read_only=True)

    async def log_event(
        self,
        code: int,
        description: str,
        *,
        severity: LogSeverity | str = LogSeverity.NORMAL,
        **refs: str | None,
    ) -> int:
        """Write an audit event tied to this command's job and correlation id."""
        return await self.db(
            lambda conn: self.eventlog.record(
                conn,
                code=code,
                severity=severity,
                description=description,
                job_id=self.job_id,
                correlation_id=self.correlation_id,
                **refs,
            )
        )
