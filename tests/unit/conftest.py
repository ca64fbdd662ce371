"""Fixtures several unit modules share: an engine database with every table, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from virtfleet.engine.persistence.database import Database, sqlite_url
from virtfleet.engine.persistence.tables import metadata


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(sqlite_url(tmp_path / "engine.db"))
    metadata.create_all(db.engine)
    yield db
    db.dispose()
