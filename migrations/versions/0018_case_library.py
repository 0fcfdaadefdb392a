"""case library: case_submission, case status/links/updated_at, full-text search

"url" becomes the first of "links". Search: an FTS5 table on SQLite (filled from the existing
cases here, kept by the cases service afterwards), a GIN expression index on PostgreSQL.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC, JsonB
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# As labs.models has them today (a revision keeps the shape it was written with).
CASE_SEARCH_PG = (
    "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || coalesce(city, '')"
    " || ' ' || coalesce(country, '') || ' ' || coalesce(organisation, '') || ' ' || coalesce(boosters, '')"
    " || ' ' || coalesce(barriers, '') || ' ' || coalesce(topics::text, ''))"
)
CASE_SEARCH_SQLITE = (
    "CREATE VIRTUAL TABLE case_search USING fts5(title, summary, place, organisation, boosters, barriers,"
    " topics, tokenize = 'unicode61 remove_diacritics 2')"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("links", JsonB, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("status", sa.String(32), nullable=False, server_default="published"))
        batch.add_column(sa.Column("updated_at", DateTimeUTC(), nullable=True))
    if _sqlite():
        op.execute('UPDATE "case" SET links = json_array(url) WHERE url IS NOT NULL')
    else:
        op.execute('UPDATE "case" SET links = jsonb_build_array(url) WHERE url IS NOT NULL')
    with op.batch_alter_table("case") as batch:
        batch.alter_column("links", server_default=None)
        batch.alter_column("status", server_default=None)
        batch.drop_column("url")
        batch.create_index(op.f("ix_case_status_created_at"), ["status", "created_at"])
    op.create_table(
        "case_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("submitted_at", DateTimeUTC(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", DateTimeUTC(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_submission")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_submission_case_id")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_submission_case_id_case"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["account.id"],
            name=op.f("fk_case_submission_reviewed_by_id_account"),
            ondelete="SET NULL",
        ),
    )
    if _sqlite():
        op.execute(CASE_SEARCH_SQLITE)
        op.execute(
            "INSERT INTO case_search (rowid, title, summary, place, organisation, boosters, barriers, topics)"
            " SELECT id, title, summary, city || ' ' || country, coalesce(organisation, ''), boosters, barriers,"
            " (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(\"case\".topics)) FROM \"case\""
        )
    else:
        op.execute(f'CREATE INDEX ix_case_search ON "case" USING gin ({CASE_SEARCH_PG})')


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TABLE case_search")
    else:
        op.execute("DROP INDEX ix_case_search")
    op.drop_table("case_submission")
    # Cases that never made it into the library go with their submissions.
    op.execute("DELETE FROM \"case\" WHERE status IN ('submitted', 'rejected')")
    with op.batch_alter_table("case") as batch:
        batch.drop_index(op.f("ix_case_status_created_at"))
        batch.add_column(sa.Column("url", sa.String(500), nullable=True))
    if _sqlite():
        op.execute("UPDATE \"case\" SET url = json_extract(links, '$[0]')")
    else:
        op.execute('UPDATE "case" SET url = links->>0')
    with op.batch_alter_table("case") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("status")
        batch.drop_column("links")
