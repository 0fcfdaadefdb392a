"""communities: erasure_mode (what erasing a person does to their notes) and created_by_id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("community") as batch:
        batch.add_column(sa.Column("erasure_mode", sa.String(32), nullable=False, server_default="unlink"))
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_community_created_by_id_account"), "account", ["created_by_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("community") as batch:
        batch.alter_column("erasure_mode", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("community") as batch:
        batch.drop_constraint(op.f("fk_community_created_by_id_account"), type_="foreignkey")
        batch.drop_column("created_by_id")
        batch.drop_column("erasure_mode")
