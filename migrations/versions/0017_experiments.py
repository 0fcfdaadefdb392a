"""experiments, their actions and sessions

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("topics", JsonB, nullable=False),
        sa.Column("sdgs", JsonB, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("result", sa.String(32), nullable=True),
        sa.Column("tried", sa.Text(), nullable=False),
        sa.Column("worked", sa.Text(), nullable=False),
        sa.Column("did_not_work", sa.Text(), nullable=False),
        sa.Column("for_whom", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("finished_at", DateTimeUTC(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_experiment_case_id_case"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_experiment_community_id_community"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["account.id"], name=op.f("fk_experiment_created_by_id_account"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["toc_link.id"], name=op.f("fk_experiment_link_id_toc_link"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment")),
    )
    with op.batch_alter_table("experiment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experiment_community_id"), ["community_id"], unique=False)

    op.create_table(
        "experiment_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_at", DateTimeUTC(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiment.id"],
            name=op.f("fk_experiment_action_experiment_id_experiment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_action")),
    )
    with op.batch_alter_table("experiment_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experiment_action_experiment_id"), ["experiment_id"], unique=False)

    op.create_table(
        "experiment_session",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiment.id"],
            name=op.f("fk_experiment_session_experiment_id_experiment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_session.id"],
            name=op.f("fk_experiment_session_session_id_lab_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "session_id", name=op.f("pk_experiment_session")),
    )


def downgrade() -> None:
    op.drop_table("experiment_session")
    with op.batch_alter_table("experiment_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_action_experiment_id"))
    op.drop_table("experiment_action")
    with op.batch_alter_table("experiment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_community_id"))
    op.drop_table("experiment")
