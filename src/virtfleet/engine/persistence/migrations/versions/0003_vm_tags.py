"""tags assigned to VMs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vm_tags",
        sa.Column("vm_id", sa.String(length=36), nullable=False),
        sa.Column("tag_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_tags_vm_id_vms", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name="fk_vm_tags_tag_id_tags", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "tag_id", name="pk_vm_tags"),
    )
    with op.batch_alter_table("vm_tags", schema=None) as batch_op:
        batch_op.create_index("ix_vm_tags_tag_id", ["tag_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vm_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_vm_tags_tag_id")
    op.drop_table("vm_tags")
