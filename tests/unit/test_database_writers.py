"""SQLite writers queue on the engine's lock and begin immediately; readers never wait for them."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, text

from virtfleet.engine.persistence.database import Database

THREADS = 8
ROUNDS = 25


def _make_counter(database: Database) -> None:
    with database.transaction() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT n FROM counter")).scalar_one())


def test_concurrent_read_then_write_transactions_all_commit(database: Database) -> None:
    """Each transaction reads the counter, yields, then writes it back plus one. A deferred
    transaction would find its snapshot stale and fail (SQLITE_BUSY), or lose increments."""
    _make_counter(database)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(ROUNDS):
                with database.transaction() as conn:
                    seen = _count(conn)
                    time.sleep(0)  # let the other threads run between the read and the write
                    conn.execute(text("UPDATE counter SET n = :n"), {"n": seen + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.read() as conn:
        assert _count(conn) == THREADS * ROUNDS


def test_a_reader_does_not_wait_for_a_writer_holding_the_database(database: Database) -> None:
    _make_counter(database)
    writing, done = threading.Event(), threading.Event()
    read: list[int] = []

    def hold() -> None:
        with database.transaction() as conn:
            conn.execute(text("UPDATE counter SET n = 41"))
            writing.set()
            done.wait(30)

    writer = threading.Thread(target=hold)
    writer.start()
    try:
        assert writing.wait(10)
        reader = threading.Thread(target=lambda: read.append(_read_count(database)))
        reader.start()
        reader.join(10)
        assert read == [0]  # the last commit, not the writer's uncommitted change
    finally:
        done.set()
        writer.join()
    assert _read_count(database) == 41


def test_a_failed_write_transaction_rolls_back_and_frees_the_lock(database: Database) -> None:
    _make_counter(database)
    try:
        with database.transaction() as conn:
            conn.execute(text("UPDATE counter SET n = 7"))
            raise RuntimeError("step failed")
    except RuntimeError:
        pass
    with database.transaction() as conn:  # would wait WRITE_WAIT_S if the lock were kept
        assert _count(conn) == 0


def _read_count(database: Database) -> int:
    with database.read() as conn:
        return _count(conn)
