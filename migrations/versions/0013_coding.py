"""qualitative coding: code, coding, memo

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code")),
        sa.ForeignKeyConstraint(["parent_id"], ["code.id"], name=op.f("fk_code_parent_id_code"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["account.id"], name=op.f("fk_code_created_by_id_account"), ondelete="SET NULL"
        ),
    )
    op.create_index(op.f("ix_code_parent_id"), "code", ["parent_id"])
    op.create_table(
        "coding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coding")),
        sa.ForeignKeyConstraint(["code_id"], ["code.id"], name=op.f("fk_coding_code_id_code"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"], name=op.f("fk_coding_note_id_note"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_coding_account_id_account"), ondelete="SET NULL"
        ),
    )
    for column in ("code_id", "note_id", "account_id"):
        op.create_index(op.f(f"ix_coding_{column}"), "coding", [column])
    op.create_table(
        "memo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memo")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_memo_account_id_account"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"], name=op.f("fk_memo_note_id_note"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["code_id"], ["code.id"], name=op.f("fk_memo_code_id_code"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["lab_session.id"], name=op.f("fk_memo_session_id_lab_session"), ondelete="CASCADE"
        ),
    )
    for column in ("account_id", "note_id", "code_id", "session_id"):
        op.create_index(op.f(f"ix_memo_{column}"), "memo", [column])


def downgrade() -> None:
    op.drop_table("memo")
    op.drop_table("coding")
    op.drop_table("code")
