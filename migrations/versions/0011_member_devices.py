"""members: merged_into_id, and member_device (the long-lived device cookie of a community)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_member_merged_into_id_member"), "member", ["merged_into_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "member_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("last_seen_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_device")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_device_member_id_member"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_device_token_hash")),
    )
    op.create_index(op.f("ix_member_device_member_id"), "member_device", ["member_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_member_device_member_id"), table_name="member_device")
    op.drop_table("member_device")
    with op.batch_alter_table("member") as batch:
        batch.drop_constraint(op.f("fk_member_merged_into_id_member"), type_="foreignkey")
        batch.drop_column("merged_into_id")
