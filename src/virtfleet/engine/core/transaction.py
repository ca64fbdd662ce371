"""A database transaction run from async code in a worker thread, cancellable while it waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from virtfleet.engine.persistence.database import Database

R = TypeVar("R")


async def run_in_transaction(
    database: Database, fn: Callable[[Connection], R], *, read_only: bool = False
) -> R:
    """Run ``fn(conn)`` in a worker thread inside one transaction (a reading one, which does not
    wait for writers, when ``read_only``).

    A caller cancelled before its transaction began drops it at once (a stopping engine with
    thousands of queued commands does not run them first); one cancelled while its transaction
    runs still waits for it to end, so that once a stopped runner's tasks are gone no write of
    theirs can land behind a new runner's back.
    """
    call = _QueuedCall(read_only)
    future = asyncio.ensure_future(asyncio.to_thread(call.run, database, fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if call.abandon():
            future.add_done_callback(_retrieve)
            raise
        await asyncio.wait([future])
        _retrieve(future)  # the caller is gone, the failure is the caller's too
        raise


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Abandoned(Exception):
    """The transaction's caller was cancelled before a thread took it up."""


class _QueuedCall:
    """A transaction waiting for a worker thread, which its caller may give up before it starts."""

    def __init__(self, read_only: bool) -> None:
        self._read_only = read_only
        self._lock = threading.Lock()
        self._started = False
        self._abandoned = False

    def abandon(self) -> bool:
        """True when the transaction had not begun and now never will."""
        with self._lock:
            if not self._started:
                self._abandoned = True
            return self._abandoned

    def run(self, database: Database, fn: Callable[[Connection], R]) -> R:
        with self._lock:
            if self._abandoned:
                raise _Abandoned
            self._started = True
        with database.read() if self._read_only else database.transaction() as conn:
            return fn(conn)
