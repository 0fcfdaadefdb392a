"""research grants: research_grant

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "research_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_grant")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_research_grant_account_id_account"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_research_grant_session_id_lab_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_research_grant_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["account.id"],
            name=op.f("fk_research_grant_granted_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("account_id", "session_id", name=op.f("uq_research_grant_account_id_session_id")),
        sa.UniqueConstraint("account_id", "community_id", name=op.f("uq_research_grant_account_id_community_id")),
        sa.CheckConstraint(
            "(session_id IS NULL) <> (community_id IS NULL)", name=op.f("ck_research_grant_one_scope")
        ),
    )
    op.create_index(op.f("ix_research_grant_account_id"), "research_grant", ["account_id"])
    op.create_index(op.f("ix_research_grant_session_id"), "research_grant", ["session_id"])
    op.create_index(op.f("ix_research_grant_community_id"), "research_grant", ["community_id"])


def downgrade() -> None:
    op.drop_table("research_grant")
