"""privacy: erasure (the deletion log, ids and times only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(36), nullable=False),
        sa.Column("participants", JsonB, nullable=False),
        sa.Column("member_ids", JsonB, nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure")),
        sa.UniqueConstraint("key", name=op.f("uq_erasure_key")),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["account.id"], name=op.f("fk_erasure_requested_by_id_account"), ondelete="SET NULL"
        ),
    )


def downgrade() -> None:
    op.drop_table("erasure")
