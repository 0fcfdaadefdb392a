"""event streams beyond sessions: event.stream/stream_id, nullable session_id, event_stream

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_stream",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_event_stream")),
    )
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("stream", sa.String(16), nullable=False, server_default="session"))
        batch.add_column(sa.Column("stream_id", sa.Integer(), nullable=True))
    # Existing events all belong to a session stream: they keep their numbers.
    op.execute("UPDATE event SET stream_id = session_id")
    with op.batch_alter_table("event") as batch:
        batch.alter_column("stream", server_default=None)
        batch.alter_column("stream_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("session_id", existing_type=sa.Integer(), nullable=True)
        batch.create_unique_constraint(op.f("uq_event_stream_stream_id_seq"), ["stream", "stream_id", "seq"])


def downgrade() -> None:
    op.execute("DELETE FROM event WHERE stream <> 'session'")
    with op.batch_alter_table("event") as batch:
        batch.drop_constraint(op.f("uq_event_stream_stream_id_seq"), type_="unique")
        batch.alter_column("session_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("stream_id")
        batch.drop_column("stream")
    op.drop_table("event_stream")
