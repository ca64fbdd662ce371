"""Alembic environment: runs migrations on the connection the engine hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from virtfleet.engine.persistence.database import Database
from virtfleet.engine.persistence.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with Database.for_migrations(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
        conn.commit()
