"""lab_session.joining: join only when live (default), opened early, or locked

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lab_session") as batch:
        batch.add_column(sa.Column("joining", sa.String(32), nullable=False, server_default="when_live"))


def downgrade() -> None:
    with op.batch_alter_table("lab_session") as batch:
        batch.drop_column("joining")
