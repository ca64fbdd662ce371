"""Monitoring's writes, applied in shared transactions on monitoring's own database thread.

A thousand hosts report VM state changes and statistics many times a second. One transaction
per report spends the engine on commits and, queued on the default executor, delays the start
commands that share it. Here every report waiting when the thread is free is applied in one
transaction, in arrival order; the caller still awaits its own result, so each host's reports
keep their order. Each unit of work must leave the database consistent after every write it
makes (monitoring's writes are compare-and-swap moves of one row plus their event), since a
unit failing with a domain error does not undo the writes of the units beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from virtfleet.common.errors import VirtfleetError
from virtfleet.engine.persistence.database import Database

log = logging.getLogger(__name__)

R = TypeVar("R")
Work = Callable[[Connection], Any]

MAX_BATCH = 500


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


@dataclass
class _Pending:
    work: Work
    future: asyncio.Future[Any]


class BatchWriter:
    """Queues units of work and applies each waiting batch in one transaction on one thread."""

    def __init__(
        self, database: Database, *, max_batch: int = MAX_BATCH, name: str = "monitoring"
    ) -> None:
        self._database = database
        self._name = name
        self._max_batch = max_batch
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[_Pending] = []
        self._drainer: asyncio.Task[None] | None = None
        self._stopped = False
        self.batches = 0
        self.units = 0

    async def start(self) -> None:
        self._stopped = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self._name}-db")

    async def stop(self) -> None:
        """Drop what is still queued (monitoring re-reads every host's VMs when it reconnects),
        let the batch in flight finish, and release the thread."""
        self._stopped = True
        dropped, self._pending = self._pending, []
        for item in dropped:
            item.future.cancel()
        if dropped:
            log.info("%s writes dropped at stop count=%d", self._name, len(dropped))
        if self._drainer is not None:
            await asyncio.wait([self._drainer])
            self._drainer = None
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True)

    async def run(self, work: Callable[[Connection], R]) -> R:
        """Apply ``work(conn)`` in the next batch and return its result (or raise its error)."""
        if self._stopped or self._executor is None:
            raise asyncio.CancelledError(f"{self._name} writes are stopped")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(work, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name=f"{self._name}-batch-writer")
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and self._executor is not None:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            works = [item.work for item in batch]
            try:
                outcomes = await loop.run_in_executor(self._executor, self._apply, works)
            except BaseException as exc:
                for item in batch:
                    if item.future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        item.future.cancel()
                    else:
                        item.future.set_exception(exc)
                raise
            self.batches += 1
            self.units += len(batch)
            for item, outcome in zip(batch, outcomes, strict=True):
                if item.future.done():
                    continue
                if outcome.error is not None:
                    item.future.set_exception(outcome.error)
                else:
                    item.future.set_result(outcome.value)

    def _apply(self, works: list[Work]) -> list[_Outcome]:
        try:
            with self._database.transaction() as conn:
                return [_run_unit(work, conn) for work in works]
        except SQLAlchemyError as exc:
            if len(works) == 1:
                return [_Outcome(error=exc)]
            log.warning(
                "batch of %d %s writes failed, applying them one by one: %s",
                len(works),
                self._name,
                exc,
            )
            return [self._apply_alone(work) for work in works]

    def _apply_alone(self, work: Work) -> _Outcome:
        try:
            with self._database.transaction() as conn:
                return _run_unit(work, conn)
        except SQLAlchemyError as exc:
            return _Outcome(error=exc)


def _run_unit(work: Work, conn: Connection) -> _Outcome:
    """One unit's result; a database error fails the whole transaction, anything else only the
    unit."""
    try:
        return _Outcome(value=work(conn))
    except SQLAlchemyError:
        raise
    except VirtfleetError as exc:
        return _Outcome(error=exc)
    except Exception as exc:
        log.exception("batched write failed")
        return _Outcome(error=exc)
