"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from virtfleet.engine.persistence.database import MIGRATIONS_DIR, Database, sqlite_url


def test_migrations_match_the_declared_tables(tmp_path: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlite_url(tmp_path / "check.db"))
    command.upgrade(config, "head")
    command.check(config)  # raises when a table or column has no migration


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "twice.db"))
    database.migrate()
    database.migrate()
    database.dispose()
