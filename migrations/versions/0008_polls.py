"""polls: poll and poll_answer (poll, scale and number activities)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("options", JsonB, nullable=False),
        sa.Column("scale_min", sa.Integer(), nullable=True),
        sa.Column("scale_max", sa.Integer(), nullable=True),
        sa.Column("min_label", sa.String(60), nullable=False),
        sa.Column("max_label", sa.String(60), nullable=False),
        sa.Column("number_min", sa.Float(), nullable=True),
        sa.Column("number_max", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("opened_at", DateTimeUTC(), nullable=True),
        sa.Column("closed_at", DateTimeUTC(), nullable=True),
        sa.Column("revealed_at", DateTimeUTC(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["lab_session.id"], name=op.f("fk_poll_session_id_lab_session"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_poll_activity_id_activity"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("activity_id", name=op.f("uq_poll_activity_id")),
    )
    op.create_index(op.f("ix_poll_session_id"), "poll", ["session_id"])
    op.create_table(
        "poll_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("choices", JsonB, nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_answer")),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], name=op.f("fk_poll_answer_poll_id_poll"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_poll_answer_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["account.id"], name=op.f("fk_poll_answer_entered_by_id_account"), ondelete="SET NULL"
        ),
        sa.UniqueConstraint("poll_id", "participant_id", name=op.f("uq_poll_answer_poll_id_participant_id")),
    )
    op.create_index(op.f("ix_poll_answer_participant_id"), "poll_answer", ["participant_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_poll_answer_participant_id"), table_name="poll_answer")
    op.drop_table("poll_answer")
    op.drop_index(op.f("ix_poll_session_id"), table_name="poll")
    op.drop_table("poll")
