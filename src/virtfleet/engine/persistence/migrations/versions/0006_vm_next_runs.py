"""the next-run configuration of running VMs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vm_next_runs",
        sa.Column("vm_id", sa.String(length=36), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_next_runs_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", name="pk_vm_next_runs"),
    )


def downgrade() -> None:
    op.drop_table("vm_next_runs")
