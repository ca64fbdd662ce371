"""the VMs that have run once, whose stored initialization is not applied again

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "initialized_vms",
        sa.Column("vm_id", sa.String(length=36), nullable=False),
        sa.Column("first_run", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_initialized_vms_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", name="pk_initialized_vms"),
    )
    # VMs made before this revision started without their stored initialization; counting them
    # as run keeps a later start from applying it out of the blue
    vms = sa.table("vms", sa.column("id", sa.String(length=36)))
    op.execute(
        table.insert().from_select(
            ["vm_id", "first_run"], sa.select(vms.c.id, sa.func.current_timestamp())
        )
    )


def downgrade() -> None:
    op.drop_table("initialized_vms")
