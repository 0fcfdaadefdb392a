"""session record and outcome harvesting: lab_session.summary; outcome change agent,
substantiation, owner and due date; follow-up private links, sending and answers; outcome kinds
collaboration -> new_collaboration and commitment -> other, follow-up status done -> answered

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lab_session") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("outcome") as batch:
        batch.add_column(sa.Column("change_agent", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("verified_by", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("verified_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("owner_name", sa.String(120), nullable=False, server_default=""))
        batch.add_column(sa.Column("owner_email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("updated_at", DateTimeUTC(), nullable=True))
    op.execute("UPDATE outcome SET updated_at = created_at")
    # A commitment is now "other" with an owner and a due date; a collaboration is a new one.
    op.execute("UPDATE outcome SET kind = 'new_collaboration' WHERE kind = 'collaboration'")
    op.execute("UPDATE outcome SET kind = 'other' WHERE kind = 'commitment'")
    with op.batch_alter_table("follow_up") as batch:
        batch.add_column(sa.Column("token_nonce", sa.String(32), nullable=True))
        batch.add_column(sa.Column("token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("sent_at", DateTimeUTC(), nullable=True))
        batch.add_column(sa.Column("progress", sa.String(32), nullable=True))
        batch.add_column(sa.Column("evidence", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("adopting_city", sa.String(120), nullable=True))
        batch.add_column(sa.Column("adaptations", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("answers", sa.Integer(), nullable=False, server_default="0"))
        batch.create_unique_constraint(op.f("uq_follow_up_token_hash"), ["token_hash"])
    op.execute("UPDATE follow_up SET status = 'answered', answers = 1 WHERE status = 'done'")
    with op.batch_alter_table("outcome") as batch:
        batch.alter_column("updated_at", existing_type=DateTimeUTC(), nullable=False)
    for table, columns in {
        "outcome": ["change_agent", "verified_by", "owner_name"],
        "follow_up": ["evidence", "adaptations", "answers"],
    }.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, server_default=None)


def downgrade() -> None:
    op.execute("UPDATE follow_up SET status = 'done' WHERE status = 'answered'")
    op.execute("UPDATE outcome SET kind = 'collaboration' WHERE kind = 'new_collaboration'")
    op.execute("UPDATE outcome SET kind = 'commitment' WHERE kind = 'other'")
    with op.batch_alter_table("follow_up") as batch:
        batch.drop_constraint(op.f("uq_follow_up_token_hash"), type_="unique")
        for column in ("answers", "adaptations", "adopting_city", "evidence", "progress", "sent_at"):
            batch.drop_column(column)
        batch.drop_column("token_hash")
        batch.drop_column("token_nonce")
    with op.batch_alter_table("outcome") as batch:
        for column in ("updated_at", "due_on", "owner_email", "owner_name", "verified_on", "verified_by"):
            batch.drop_column(column)
        batch.drop_column("change_agent")
    with op.batch_alter_table("lab_session") as batch:
        batch.drop_column("summary")
