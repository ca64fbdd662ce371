"""Permissions as stored: ``admin@internal`` is SuperUser on the system (granted when the user is
made) and, as in oVirt, the creator of a VM is its UserVmManager. Roles are oVirt's predefined
ones (SuperUser, UserVmManager), by id, until roles get a table of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from virtfleet.common import apimodel as m
from virtfleet.engine.persistence import permissions as stored
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import ListQuery, ResourceService, Scope, one_listed

SUPER_USER_ROLE_ID = "00000000-0000-0000-0000-000000000001"
USER_VM_MANAGER_ROLE_ID = "DEF00006-0000-0000-0000-DEF000000006"
VM = "vm"


def grant_system_super_user(conn: Connection, user_id: str, now: datetime) -> None:
    stored.grant(
        conn,
        role_id=SUPER_USER_ROLE_ID,
        user_id=user_id,
        object_type=stored.SYSTEM,
        object_id=None,
        now=now,
    )


def grant_vm_manager(conn: Connection, user_name: str, vm_id: str, now: datetime) -> None:
    """The creator of a VM manages it; a creator without a user row (none yet) gets nothing."""
    user_id = conn.execute(
        select(tables.users.c.id).where(tables.users.c.name == user_name)
    ).scalar()
    if user_id is not None:
        stored.grant(
            conn,
            role_id=USER_VM_MANAGER_ROLE_ID,
            user_id=str(user_id),
            object_type=VM,
            object_id=vm_id,
            now=now,
        )


def revoke_vm_permissions(conn: Connection, vm_id: str) -> None:
    stored.revoke_object(conn, VM, vm_id)


def _permission(row: stored.PermissionRow) -> m.Permission:
    role = m.Role(id=row.role_id)
    on_vm = m.Vm(id=row.object_id) if row.object_type == VM else None
    return m.Permission(id=row.id, role=role, user=m.User(id=row.user_id), vm=on_vm)


class VmPermissionService(ResourceService):
    """``/vms/{id}/permissions``: the VM's own grants and the system-wide ones it inherits."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Permission]:
        with self.db.read() as conn:
            repos.vms.get(conn, scope.parent)  # NotFound for an unknown VM
            rows = stored.on_object(conn, VM, scope.parent)
        return [_permission(row) for row in rows]

    def get(self, scope: Scope, object_id: str) -> m.Permission:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The permission with id '{object_id}' does not exist",
        )
