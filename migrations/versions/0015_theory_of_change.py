"""Theory of Change: toc_node, toc_link, toc_node_outcome

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "toc_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("about_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["about_id"], ["toc_node.id"], name=op.f("fk_toc_node_about_id_toc_node"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_toc_node_community_id_community"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_toc_node")),
    )
    with op.batch_alter_table("toc_node", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_toc_node_community_id"), ["community_id"], unique=False)

    op.create_table(
        "toc_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.Integer(), nullable=False),
        sa.Column("to_id", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_toc_link_community_id_community"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_id"], ["toc_node.id"], name=op.f("fk_toc_link_from_id_toc_node"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_id"], ["toc_node.id"], name=op.f("fk_toc_link_to_id_toc_node"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_toc_link")),
        sa.UniqueConstraint("from_id", "to_id", name=op.f("uq_toc_link_from_id_to_id")),
    )
    with op.batch_alter_table("toc_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_toc_link_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_toc_link_to_id"), ["to_id"], unique=False)

    op.create_table(
        "toc_node_outcome",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["toc_node.id"], name=op.f("fk_toc_node_outcome_node_id_toc_node"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["outcome_id"], ["outcome.id"], name=op.f("fk_toc_node_outcome_outcome_id_outcome"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", "outcome_id", name=op.f("pk_toc_node_outcome")),
    )
    with op.batch_alter_table("toc_node_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_toc_node_outcome_outcome_id"), ["outcome_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("toc_node_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_toc_node_outcome_outcome_id"))
    op.drop_table("toc_node_outcome")
    with op.batch_alter_table("toc_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_toc_link_community_id"))
        batch_op.drop_index(batch_op.f("ix_toc_link_to_id"))
    op.drop_table("toc_link")
    with op.batch_alter_table("toc_node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_toc_node_community_id"))
    op.drop_table("toc_node")
