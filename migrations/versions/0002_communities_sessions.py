"""communities and sessions: community, lab_session, session_facilitator, activity

lab_session.current_activity_id and activity.session_id point at each other, so the
lab_session -> activity foreign key is added once both tables exist.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("city", sa.String(120), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
    )
    op.create_table(
        "lab_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("starts_at", DateTimeUTC(), nullable=True),
        sa.Column("ends_at", DateTimeUTC(), nullable=True),
        sa.Column("city", sa.String(120), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("join_code", sa.String(16), nullable=False),
        sa.Column("consent_text_version", sa.String(32), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("current_activity_id", sa.Integer(), nullable=True),  # FK added below
        sa.Column("timer_ends_at", DateTimeUTC(), nullable=True),
        sa.Column("timer_remaining_s", sa.Integer(), nullable=True),
        sa.Column("started_at", DateTimeUTC(), nullable=True),
        sa.Column("closed_at", DateTimeUTC(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_session")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_lab_session_community_id_community"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["account.id"],
            name=op.f("fk_lab_session_created_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("join_code", name=op.f("uq_lab_session_join_code")),
    )
    op.create_index(op.f("ix_lab_session_community_id"), "lab_session", ["community_id"])
    op.create_table(
        "session_facilitator",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("added_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "account_id", name=op.f("pk_session_facilitator")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_session_facilitator_session_id_lab_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_session_facilitator_account_id_account"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("opened_at", DateTimeUTC(), nullable=True),
        sa.Column("closed_at", DateTimeUTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_activity_session_id_lab_session"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_activity_session_id"), "activity", ["session_id"])
    with op.batch_alter_table("lab_session") as batch:
        batch.create_foreign_key(
            op.f("fk_lab_session_current_activity_id_activity"),
            "activity",
            ["current_activity_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("lab_session") as batch:
        batch.drop_constraint(op.f("fk_lab_session_current_activity_id_activity"), type_="foreignkey")
    op.drop_table("activity")
    op.drop_table("session_facilitator")
    op.drop_table("lab_session")
    op.drop_table("community")
