"""networks attached to clusters, with required and their roles there

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MANAGEMENT = "ovirtmgmt"
MANAGEMENT_ROLES = ["management", "display", "migration"]


def upgrade() -> None:
    attached = op.create_table(
        "cluster_networks",
        sa.Column("cluster_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("usages", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name="fk_cluster_networks_cluster_id_clusters",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_cluster_networks_network_id_networks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cluster_id", "network_id", name="pk_cluster_networks"),
    )
    with op.batch_alter_table("cluster_networks", schema=None) as batch_op:
        batch_op.create_index("ix_cluster_networks_network_id", ["network_id"], unique=False)
    # before this table a cluster served every network of its data center: keep them attached
    conn = op.get_bind()
    clusters = sa.table("clusters", sa.column("id"), sa.column("data_center_id"))
    networks = sa.table("networks", sa.column("id"), sa.column("name"), sa.column("data_center_id"))
    pairs = conn.execute(
        sa.select(clusters.c.id, networks.c.id, networks.c.name).join(
            networks, networks.c.data_center_id == clusters.c.data_center_id
        )
    )
    rows = [
        {
            "cluster_id": cluster_id,
            "network_id": network_id,
            "required": True,
            "usages": MANAGEMENT_ROLES if name == MANAGEMENT else [],
        }
        for cluster_id, network_id, name in pairs
    ]
    if rows:
        op.bulk_insert(attached, rows)


def downgrade() -> None:
    with op.batch_alter_table("cluster_networks", schema=None) as batch_op:
        batch_op.drop_index("ix_cluster_networks_network_id")
    op.drop_table("cluster_networks")
