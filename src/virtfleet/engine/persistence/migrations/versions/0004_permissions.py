"""stored permissions: admin's SuperUser grant on the system, UserVmManager on each VM

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 04:00:00
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# oVirt's predefined role ids
SUPER_USER = "00000000-0000-0000-0000-000000000001"
USER_VM_MANAGER = "DEF00006-0000-0000-0000-DEF000000006"


def upgrade() -> None:
    permissions = op.create_table(
        "permissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_permissions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_permissions"),
    )
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.create_index("ix_permissions_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_permissions_object_id", ["object_id"], unique=False)
    # what was true before the table existed: admin is SuperUser and made every VM
    conn = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("name"))
    vms = sa.table("vms", sa.column("id"))
    admin = conn.execute(sa.select(users.c.id).where(users.c.name == "admin")).scalar()
    if admin is None:
        return
    now = datetime.now(UTC)
    rows = [(SUPER_USER, "system", None)]
    rows += [(USER_VM_MANAGER, "vm", vm_id) for (vm_id,) in conn.execute(sa.select(vms.c.id))]
    op.bulk_insert(
        permissions,
        [
            {
                "id": str(uuid.uuid4()),
                "role_id": role,
                "user_id": admin,
                "object_type": kind,
                "object_id": object_id,
                "created_at": now,
            }
            for role, kind, object_id in rows
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.drop_index("ix_permissions_object_id")
        batch_op.drop_index("ix_permissions_user_id")
    op.drop_table("permissions")
