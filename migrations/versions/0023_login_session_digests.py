"""login sessions: stored as digests, with idle expiry (login_session.token_hash, last_seen_at)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01

The rows of open logins hold the cookie's plain value in `id`. They are hashed in place (SHA-256,
what the app now looks up) rather than dropped: the cookies people hold still match, so nobody is
logged out by the upgrade, and from here on the database holds no usable secret. Downgrading
cannot turn a digest back into the cookie value, so it ends every login (people log in again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

login = sa.table("login_session", sa.column("token_hash", sa.String), sa.column("last_seen_at", DateTimeUTC()))


def upgrade() -> None:
    with op.batch_alter_table("login_session") as batch:
        batch.alter_column("id", new_column_name="token_hash", existing_type=sa.String(64), existing_nullable=False)
        batch.add_column(sa.Column("last_seen_at", DateTimeUTC(), nullable=True))
    conn = op.get_bind()
    # Seen now: a login older than the idle limit would otherwise end at the upgrade.
    now = datetime.now(UTC)
    for (plain,) in conn.execute(sa.select(login.c.token_hash)).all():
        digest = hashlib.sha256(plain.encode()).hexdigest()
        conn.execute(login.update().where(login.c.token_hash == plain).values(token_hash=digest, last_seen_at=now))
    with op.batch_alter_table("login_session") as batch:
        batch.alter_column("last_seen_at", existing_type=DateTimeUTC(), nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM login_session")
    with op.batch_alter_table("login_session") as batch:
        batch.drop_column("last_seen_at")
        batch.alter_column("token_hash", new_column_name="id", existing_type=sa.String(64), existing_nullable=False)
