"""a covering index for placement's per-host sums

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vms_placement", ["host_id", "status", "memory", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.drop_index("ix_vms_placement")
