"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from virtfleet.engine.persistence.database import MIGRATIONS_DIR, Database, sqlite_url


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_migrations_match_the_declared_tables(tmp_path: Path) -> None:
    config = _config(sqlite_url(tmp_path / "check.db"))
    command.upgrade(config, "head")
    command.check(config)  # raises when a table or column has no migration


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "twice.db"))
    database.migrate()
    database.migrate()
    database.dispose()


def test_vms_made_before_first_runs_were_kept_count_as_run(tmp_path: Path) -> None:
    """Their stored initialization was never applied on a start; an upgrade must not start
    applying it to VMs that have long run."""
    url = sqlite_url(tmp_path / "upgrade.db")
    config = _config(url)
    command.upgrade(config, "0006")
    engine = sa.create_engine(url)
    row = "(:id, :name, 1, CURRENT_TIMESTAMP, '{}'"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"INSERT INTO data_centers (id, name, version, created_at, doc) VALUES {row})"),
            {"id": "dc", "name": "dc"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO clusters (id, name, version, created_at, doc, data_center_id) "
                f"VALUES {row}, 'dc')"
            ),
            {"id": "c", "name": "c"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO vms (id, name, version, created_at, doc, cluster_id) "
                f"VALUES {row}, 'c')"
            ),
            {"id": "old-vm", "name": "old"},
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        marked = conn.execute(sa.text("SELECT vm_id FROM initialized_vms")).scalars().all()
    engine.dispose()
    assert marked == ["old-vm"]
