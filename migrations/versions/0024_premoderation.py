"""Pre-moderation: lab_session.premoderation (notes wait for approval) and note.approval

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lab_session") as batch:
        batch.add_column(sa.Column("premoderation", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("note") as batch:
        batch.add_column(sa.Column("approval", sa.String(32), nullable=False, server_default="approved"))


def downgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.drop_column("approval")
    with op.batch_alter_table("lab_session") as batch:
        batch.drop_column("premoderation")
