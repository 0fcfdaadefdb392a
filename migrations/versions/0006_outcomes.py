"""outcomes: outcome, outcome_source, follow_up, and the case.from_outcome_id foreign key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("what_changed", sa.Text(), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("when_on", sa.Date(), nullable=True),
        sa.Column("where", sa.String(120), nullable=True),
        sa.Column("significance", sa.Text(), nullable=False),
        sa.Column("contribution", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_outcome_session_id_lab_session"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_outcome_community_id_community"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["account.id"],
            name=op.f("fk_outcome_created_by_id_account"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(op.f("ix_outcome_session_id"), "outcome", ["session_id"])
    op.create_table(
        "outcome_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_source")),
        sa.ForeignKeyConstraint(
            ["outcome_id"],
            ["outcome.id"],
            name=op.f("fk_outcome_source_outcome_id_outcome"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["note.id"], name=op.f("fk_outcome_source_note_id_note"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["cluster.id"],
            name=op.f("fk_outcome_source_cluster_id_cluster"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_outcome_source_case_id_case"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_outcome_source_outcome_id"), "outcome_source", ["outcome_id"])
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("done_at", DateTimeUTC(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
        sa.ForeignKeyConstraint(
            ["outcome_id"], ["outcome.id"], name=op.f("fk_follow_up_outcome_id_outcome"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["account.id"],
            name=op.f("fk_follow_up_assigned_to_id_account"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(op.f("ix_follow_up_outcome_id"), "follow_up", ["outcome_id"])
    with op.batch_alter_table("case") as batch:
        batch.create_foreign_key(
            op.f("fk_case_from_outcome_id_outcome"),
            "outcome",
            ["from_outcome_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.drop_constraint(op.f("fk_case_from_outcome_id_outcome"), type_="foreignkey")
    op.drop_table("follow_up")
    op.drop_table("outcome_source")
    op.drop_table("outcome")
