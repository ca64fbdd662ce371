"""The queries of the ``permissions`` table: grants on the system or on one object."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select

from virtfleet.engine.persistence import tables

SYSTEM = "system"
"""The object type of a permission on everything (oVirt's system-wide grants)."""

_P = tables.permissions


@dataclass(frozen=True)
class PermissionRow:
    id: str
    role_id: str
    user_id: str
    object_type: str
    object_id: str | None


def grant(
    conn: Connection,
    *,
    role_id: str,
    user_id: str,
    object_type: str,
    object_id: str | None,
    now: datetime,
) -> PermissionRow:
    row = PermissionRow(str(uuid.uuid4()), role_id, user_id, object_type, object_id)
    conn.execute(
        insert(_P).values(
            id=row.id,
            role_id=role_id,
            user_id=user_id,
            object_type=object_type,
            object_id=object_id,
            created_at=now,
        )
    )
    return row


def on_object(conn: Connection, object_type: str, object_id: str) -> Sequence[PermissionRow]:
    """The grants on the object and the system-wide ones it inherits, oldest first."""
    found = conn.execute(
        select(_P.c.id, _P.c.role_id, _P.c.user_id, _P.c.object_type, _P.c.object_id)
        .where(
            or_(
                (_P.c.object_type == object_type) & (_P.c.object_id == object_id),
                _P.c.object_type == SYSTEM,
            )
        )
        .order_by(_P.c.created_at, _P.c.id)
    )
    return [PermissionRow(*row) for row in found]


def revoke_object(conn: Connection, object_type: str, object_id: str) -> None:
    """Drop every grant on an object that is gone."""
    conn.execute(
        delete(_P).where((_P.c.object_type == object_type) & (_P.c.object_id == object_id))
    )
