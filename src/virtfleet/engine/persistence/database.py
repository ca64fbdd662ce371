"""Opening the database (SQLite by default, PostgreSQL when configured) and migrating it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from virtfleet.common.errors import Busy, VirtfleetError
from virtfleet.engine.persistence.documents import SEEN_VERSIONS

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Marks a connection whose next transaction writes (``conn.info``, which outlives a checkout).
_WRITER = "virtfleet.writer"
# How long a write transaction waits for the engine's other writers, as SQLite's busy timeout.
WRITE_WAIT_S = 30.0


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # the driver opens no transactions of its own: _begin_sqlite says which kind each one is
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    """A writer takes SQLite's write lock when it begins: a deferred transaction that reads and
    then writes could find the database changed under its snapshot and fail, or sit in SQLite's
    busy loop, whose sleeps grow to 100 ms whatever the lock's holder is doing."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get(_WRITER) else "BEGIN")


class Database:
    """One SQLAlchemy engine plus the transaction helper every repository call runs in.

    SQLite has one writer at a time. The engine's own writers queue on a lock here, each handed
    the database the moment the one before commits, instead of polling SQLite's lock: under a
    burst of thousands of VM starts that polling, not the writes, was where the time went.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._write_lock = threading.Lock()
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=8,
                max_overflow=8,
            )
            event.listen(self.engine, "connect", _tune_sqlite)
            event.listen(self.engine, "begin", _begin_sqlite)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)

        def forget_versions(conn: Connection) -> None:
            conn.info.pop(SEEN_VERSIONS, None)

        event.listen(self.engine, "begin", forget_versions)

    @classmethod
    def for_migrations(cls, url: str) -> Engine:
        return create_engine(url, poolclass=NullPool)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if not self.is_sqlite:
            with self.engine.begin() as connection:
                yield connection
            return
        if not self._write_lock.acquire(timeout=WRITE_WAIT_S):
            raise Busy(
                f"The database stayed busy for {WRITE_WAIT_S:.0f} s; try again later",
                retry_after_s=5,
            )
        try:
            with self.engine.connect() as connection:
                connection.info[_WRITER] = True
                try:
                    with connection.begin():
                        yield connection
                finally:
                    connection.info.pop(_WRITER, None)
        finally:
            self._write_lock.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creating it on a fresh database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            # the first contact at start-up: an unreachable server or a refused login
            why = " ".join(str(exc.orig).split())
            raise VirtfleetError(
                f"cannot open the database {self._safe_url()}: {why}",
                reason="Database unavailable",
            ) from None
        log.info("database schema up to date url=%s", self._safe_url())

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
