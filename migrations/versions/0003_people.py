"""people: member, participant, consent_record

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(60), nullable=False),
        sa.Column("organisation", sa.String(120), nullable=True),
        sa.Column("city", sa.String(120), nullable=True),
        sa.Column("sector", sa.String(32), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_member_community_id_community"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_member_community_id"), "member", ["community_id"])
    op.create_table(
        "participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(60), nullable=False),
        sa.Column("organisation", sa.String(120), nullable=True),
        sa.Column("city", sa.String(120), nullable=True),
        sa.Column("sector", sa.String(32), nullable=True),
        sa.Column("consent", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("proxy", sa.Boolean(), nullable=False),
        sa.Column("joined_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_participant_session_id_lab_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_participant_member_id_member"), ondelete="SET NULL"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_participant_token_hash")),
    )
    op.create_index(op.f("ix_participant_session_id"), "participant", ["session_id"])
    op.create_index(op.f("ix_participant_member_id"), "participant", ["member_id"])
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(32), nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("recorded_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_consent_record_participant_id_participant"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_consent_record_participant_id"), "consent_record", ["participant_id"])


def downgrade() -> None:
    op.drop_table("consent_record")
    op.drop_table("participant")
    op.drop_table("member")
