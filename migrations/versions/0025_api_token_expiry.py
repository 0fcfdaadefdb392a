"""api tokens: a name and an expiry (api_token.name, expires_at)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01

Tokens made before had no expiry. They get the default lifetime counted from the upgrade (90
days), not from their creation: scripts running on them keep working, and their owners have time
to see them on their account page and replace them, instead of finding them dead the next morning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

token = sa.table("api_token", sa.column("name", sa.String), sa.column("expires_at", DateTimeUTC()))


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("name", sa.String(120), nullable=True))
        batch.add_column(sa.Column("expires_at", DateTimeUTC(), nullable=True))
    op.execute(token.update().values(name="", expires_at=datetime.now(UTC) + timedelta(days=90)))
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("name", existing_type=sa.String(120), nullable=False)
        batch.alter_column("expires_at", existing_type=DateTimeUTC(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("name")
