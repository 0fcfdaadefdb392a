"""cases: case, case_share

case.from_outcome_id gets its foreign key in 0006, once the outcome table exists.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("city", sa.String(120), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("sdgs", JsonB, nullable=False),
        sa.Column("topics", JsonB, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("boosters", sa.Text(), nullable=False),
        sa.Column("barriers", sa.Text(), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("derived_from_id", sa.Integer(), nullable=True),
        sa.Column("from_outcome_id", sa.Integer(), nullable=True),  # FK added in 0006
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
        sa.ForeignKeyConstraint(
            ["derived_from_id"], ["case.id"], name=op.f("fk_case_derived_from_id_case"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["account.id"], name=op.f("fk_case_created_by_id_account"), ondelete="SET NULL"
        ),
    )
    op.create_index(op.f("ix_case_derived_from_id"), "case", ["derived_from_id"])
    op.create_table(
        "case_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("presenter", sa.String(120), nullable=True),
        sa.Column("shared_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_share")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_share_case_id_case"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_case_share_session_id_lab_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_case_share_activity_id_activity"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(op.f("ix_case_share_case_id"), "case_share", ["case_id"])
    op.create_index(op.f("ix_case_share_session_id"), "case_share", ["session_id"])


def downgrade() -> None:
    op.drop_table("case_share")
    op.drop_table("case")
