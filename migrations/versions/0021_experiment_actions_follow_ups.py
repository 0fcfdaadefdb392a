"""experiment actions become outcomes with a check-in: outcome.experiment_id; each
experiment_action row becomes an outcome of its lab (kind other, the owner, the due date) with one
follow-up on its due date (answered if it was done), and the experiment_action table goes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

action = sa.table(
    "experiment_action",
    sa.column("id", sa.Integer()),
    sa.column("experiment_id", sa.Integer()),
    sa.column("title", sa.String()),
    sa.column("owner", sa.String()),
    sa.column("due_on", sa.Date()),
    sa.column("done_at", DateTimeUTC()),
    sa.column("created_at", DateTimeUTC()),
)
experiment = sa.table(
    "experiment",
    sa.column("id", sa.Integer()),
    sa.column("community_id", sa.Integer()),
    sa.column("created_by_id", sa.Integer()),
)
outcome = sa.table(
    "outcome",
    sa.column("id", sa.Integer()),
    sa.column("session_id", sa.Integer()),
    sa.column("community_id", sa.Integer()),
    sa.column("experiment_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("title", sa.String()),
    sa.column("what_changed", sa.Text()),
    sa.column("who", sa.String()),
    sa.column("change_agent", sa.String()),
    sa.column("significance", sa.Text()),
    sa.column("contribution", sa.Text()),
    sa.column("evidence", sa.Text()),
    sa.column("verified_by", sa.String()),
    sa.column("owner_name", sa.String()),
    sa.column("due_on", sa.Date()),
    sa.column("created_by_id", sa.Integer()),
    sa.column("created_at", DateTimeUTC()),
    sa.column("updated_at", DateTimeUTC()),
)
follow_up = sa.table(
    "follow_up",
    sa.column("id", sa.Integer()),
    sa.column("outcome_id", sa.Integer()),
    sa.column("due_on", sa.Date()),
    sa.column("status", sa.String()),
    sa.column("token_nonce", sa.String()),
    sa.column("token_hash", sa.String()),
    sa.column("findings", sa.Text()),
    sa.column("evidence", sa.Text()),
    sa.column("adaptations", sa.Text()),
    sa.column("answers", sa.Integer()),
    sa.column("done_at", DateTimeUTC()),
    sa.column("created_at", DateTimeUTC()),
)


def upgrade() -> None:
    with op.batch_alter_table("outcome") as batch:
        batch.add_column(sa.Column("experiment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_outcome_experiment_id_experiment"), "experiment", ["experiment_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_outcome_experiment_id"), ["experiment_id"], unique=False)
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(action, experiment.c.community_id, experiment.c.created_by_id)
        .join(experiment, experiment.c.id == action.c.experiment_id)
        .order_by(action.c.id)
    ).all()
    if rows:
        # The private links are derived from the secret key, as the app makes them.
        from labs.services import credentials
        from labs.settings import get_settings

        key = get_settings().secret_key
    for row in rows:
        made = row.created_at or datetime.now(UTC)
        new = bind.execute(
            outcome.insert()
            .returning(outcome.c.id)
            .values(
                session_id=None,
                community_id=row.community_id,
                experiment_id=row.experiment_id,
                kind="other",
                title=row.title,
                what_changed="",
                who="",
                change_agent="",
                significance="",
                contribution="",
                evidence="",
                verified_by="",
                owner_name=row.owner,
                due_on=row.due_on,
                created_by_id=row.created_by_id,
                created_at=made,
                updated_at=made,
            )
        ).scalar_one()
        nonce = secrets.token_hex(16)
        bind.execute(
            follow_up.insert().values(
                outcome_id=new,
                due_on=row.due_on,
                status="answered" if row.done_at else "planned",
                token_nonce=nonce,
                token_hash=credentials.token_digest(credentials.follow_up_token(key, nonce)),
                findings="",
                evidence="",
                adaptations="",
                answers=0,
                done_at=row.done_at,
                created_at=made,
            )
        )
    with op.batch_alter_table("experiment_action") as batch:
        batch.drop_index(batch.f("ix_experiment_action_experiment_id"))
    op.drop_table("experiment_action")


def downgrade() -> None:
    op.create_table(
        "experiment_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_at", DateTimeUTC(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiment.id"],
            name=op.f("fk_experiment_action_experiment_id_experiment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_action")),
    )
    with op.batch_alter_table("experiment_action") as batch:
        batch.create_index(batch.f("ix_experiment_action_experiment_id"), ["experiment_id"], unique=False)
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outcome.c.id, outcome.c.experiment_id, outcome.c.title, outcome.c.owner_name, outcome.c.due_on)
        .add_columns(outcome.c.created_at)
        .where(outcome.c.experiment_id.is_not(None))
        .order_by(outcome.c.id)
    ).all()
    for row in rows:
        done = bind.execute(
            sa.select(sa.func.max(follow_up.c.done_at)).where(
                follow_up.c.outcome_id == row.id, follow_up.c.status == "answered"
            )
        ).scalar()
        bind.execute(
            action.insert().values(
                experiment_id=row.experiment_id,
                title=row.title,
                owner=row.owner_name[:120],
                due_on=row.due_on or row.created_at.date(),
                done_at=done,
                created_at=row.created_at,
            )
        )
    # The actions' outcomes (with their check-ins and sources, by cascade) go back to being actions.
    bind.execute(follow_up.delete().where(follow_up.c.outcome_id.in_([r.id for r in rows])))
    bind.execute(outcome.delete().where(outcome.c.experiment_id.is_not(None)))
    with op.batch_alter_table("outcome") as batch:
        batch.drop_index(batch.f("ix_outcome_experiment_id"))
        batch.drop_constraint(op.f("fk_outcome_experiment_id_experiment"), type_="foreignkey")
        batch.drop_column("experiment_id")
