"""Suite-wide fixtures: a fresh PostgreSQL database per test when the PostgreSQL run is on."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_ENV = "VIRTFLEET_TEST_PG_ADMIN_URL"


@pytest.fixture(autouse=True)
def _postgres_database_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """With ``VIRTFLEET_TEST_PG_ADMIN_URL`` set, engines built without an explicit database URL
    use a new PostgreSQL database, dropped after the test."""
    admin_url = os.environ.get(PG_ADMIN_ENV)
    if not admin_url:
        yield
        return
    name = f"vf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv("VIRTFLEET_DATABASE_URL", admin_url.rsplit("/", 1)[0] + "/" + name)
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
