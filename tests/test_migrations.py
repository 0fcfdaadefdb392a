"""Alembic migrations: they build exactly the schema models.py describes, they downgrade to
nothing and back, and labs.migrate.check() tells ok / pending / ahead / empty apart.

Every test runs on SQLite (a temp file) and on PostgreSQL when LABS_TEST_POSTGRES_URL is set
(a fresh database per test). A set but unreachable URL fails the PostgreSQL tests."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from labs import migrate
from labs.models import SQLITE_SEARCH_TABLES, Base, include_name
from labs.settings import normalise_db_url

PG_ENV = "LABS_TEST_POSTGRES_URL"
MODEL_TABLES = set(Base.metadata.tables)


# --- helpers -------------------------------------------------------------------------------


def run_sync(url: str, fn: Callable[[Connection], Any]) -> Any:
    """Run fn on a sync connection of a fresh async engine (committing), from sync code."""

    async def go() -> Any:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def tables(url: str) -> set[str]:
    return set(run_sync(url, lambda c: inspect(c).get_table_names())) - SQLITE_SEARCH_TABLES


def schema(url: str) -> set[tuple[Any, ...]]:
    """Every table, column (type, nullability), key, constraint name and index, as reflected."""

    def reflect(conn: Connection) -> set[tuple[Any, ...]]:
        insp = inspect(conn)
        out: set[tuple[Any, ...]] = set()
        for t in insp.get_table_names():
            if t == "alembic_version":
                continue
            for col in insp.get_columns(t):
                out.add(("col", t, col["name"], str(col["type"]), col["nullable"]))
            pk = insp.get_pk_constraint(t)
            out.add(("pk", t, pk["name"], tuple(pk["constrained_columns"])))
            for fk in insp.get_foreign_keys(t):
                out.add(
                    (
                        "fk",
                        t,
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        (fk.get("options") or {}).get("ondelete"),
                    )
                )
            for uq in insp.get_unique_constraints(t):
                out.add(("uq", t, uq["name"], tuple(uq["column_names"])))
            for ix in insp.get_indexes(t):
                out.add(("ix", t, ix["name"], tuple(ix["column_names"]), bool(ix["unique"])))
        return out

    return run_sync(url, reflect)


def revisions() -> list[str]:
    """All revisions, oldest first."""
    script = ScriptDirectory.from_config(migrate.config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


# --- databases -----------------------------------------------------------------------------


def _pg_admin(base: str) -> tuple[str, Any]:
    url = make_url(normalise_db_url(base))
    return url.set(drivername="postgresql").render_as_string(hide_password=False), url


def _pg_exec(dsn: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn, timeout=10)  # autocommit: no transaction is opened
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases on the parametrized backend; returns async URLs."""
    made: list[str] = []
    pg_base = os.environ.get(PG_ENV, "").strip()
    if request.param == "postgres" and not pg_base:
        pytest.skip(f"{PG_ENV} is not set")

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'db_{uuid.uuid4().hex[:12]}.sqlite'}"
        dsn, url = _pg_admin(pg_base)
        name = f"labs_mig_{uuid.uuid4().hex[:12]}"
        _pg_exec(dsn, f'CREATE DATABASE "{name}"')
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    if made:
        dsn, _ = _pg_admin(pg_base)
        for name in made:
            _pg_exec(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(new_db: Callable[[], str]) -> str:
    return new_db()


# --- tests ---------------------------------------------------------------------------------


def test_revisions_are_a_single_chain() -> None:
    revs = revisions()
    assert revs[0] == "0001"
    assert revs[-1] == migrate.head()
    assert len(ScriptDirectory.from_config(migrate.config()).get_heads()) == 1


def test_upgrade_downgrade_base_upgrade(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert tables(db_url) == MODEL_TABLES | {"alembic_version"}
    assert migrate.current(db_url) == migrate.head()

    migrate.downgrade(db_url, "base")
    assert tables(db_url) == {"alembic_version"}
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url, "head")
    assert tables(db_url) == MODEL_TABLES | {"alembic_version"}
    assert migrate.check(db_url) == "ok"


def test_each_revision_steps_up_and_down(db_url: str) -> None:
    # A revision may add only columns, so each step is compared by its whole reflected schema.
    seen: list[set[tuple[Any, ...]]] = [set()]
    for rev in revisions():
        migrate.upgrade(db_url, rev)
        assert migrate.current(db_url) == rev
        seen.append(schema(db_url))
        assert seen[-1] != seen[-2], f"{rev} changed nothing"
    for _ in revisions():
        assert schema(db_url) == seen.pop()
        migrate.downgrade(db_url, "-1")
    assert tables(db_url) == {"alembic_version"}
    assert migrate.current(db_url) is None


def test_no_drift_against_models(db_url: str) -> None:
    migrate.upgrade(db_url)

    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "target_metadata": Base.metadata, "include_name": include_name}
        )
        return compare_metadata(ctx, Base.metadata)

    assert run_sync(db_url, diff) == []
    command.check(migrate.config(db_url))  # env.py's own autogenerate settings agree


def test_schema_matches_create_all(new_db: Callable[[], str]) -> None:
    """Same columns, types, constraint names and indexes as Base.metadata.create_all."""
    migrated, created = new_db(), new_db()
    migrate.upgrade(migrated)
    run_sync(created, Base.metadata.create_all)
    extra = schema(migrated) - schema(created)
    if created.startswith("sqlite"):
        # SQLite cannot ALTER in a constraint, so create_all leaves out the use_alter foreign keys
        # of the two reference cycles; the migrations build them with batch operations.
        extra = {item for item in extra if not (item[0] == "fk" and item[2] in USE_ALTER_FKS)}
    assert extra == set()
    assert schema(created) - schema(migrated) == set()


USE_ALTER_FKS = {"fk_lab_session_current_activity_id_activity", "fk_case_from_outcome_id_outcome"}


SEED = [
    "INSERT INTO account (id, email, display_name, password_hash, role, active, created_at)"
    " VALUES (1, 'a@example.org', 'A', 'x', 'admin', TRUE, CURRENT_TIMESTAMP)",
    "INSERT INTO lab_session (id, title, description, kind, status, language, join_code,"
    " consent_text_version, last_seq, created_by_id, created_at)"
    " VALUES (1, 'S', '', 'workshop', 'live', 'en', 'JOIN1', 'v1', 0, 1, CURRENT_TIMESTAMP)",
    "INSERT INTO activity (id, session_id, position, title, prompt, minutes, type)"
    " VALUES (1, 1, 0, 'A', '', 10, 'brainstorm')",
    "UPDATE lab_session SET current_activity_id = 1",
    'INSERT INTO "case" (id, title, summary, city, country, sdgs, topics, stage, boosters, barriers,'
    " derived_from_id, links, status, created_at)"
    " VALUES (1, 'C', '', 'Utrecht', 'NL', '[11]', '[]', 'idea', '', '', NULL, '[]', 'published', CURRENT_TIMESTAMP)",
    "INSERT INTO note (id, session_id, activity_id, client_id, body, kind, case_id, hidden, pinned,"
    " deleted, created_at, updated_at)"
    " VALUES (1, 1, 1, 'c1', 'hello', 'idea', 1, FALSE, FALSE, FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
]


def test_batch_steps_keep_data_and_references(db_url: str) -> None:
    """0006 rebuilds "case" on SQLite (batch mode): rows and the keys pointing at it survive."""
    migrate.upgrade(db_url)
    before = schema(db_url)

    def seed(conn: Connection) -> None:
        for sql in SEED:
            conn.execute(text(sql))

    run_sync(db_url, seed)
    migrate.downgrade(db_url, "0005")
    migrate.upgrade(db_url)
    assert schema(db_url) == before

    def read(conn: Connection) -> Any:
        return (
            conn.execute(text('SELECT c.title, n.body FROM note n JOIN "case" c ON c.id = n.case_id')).all(),
            conn.execute(text("SELECT current_activity_id FROM lab_session")).scalar_one(),
        )

    assert run_sync(db_url, read) == ([("C", "hello")], 1)
    if db_url.startswith("sqlite"):
        assert run_sync(db_url, lambda c: c.exec_driver_sql("PRAGMA foreign_key_check").all()) == []


def test_check_states(db_url: str) -> None:
    assert migrate.check(db_url) == "empty"

    migrate.upgrade(db_url, revisions()[0])
    assert migrate.check(db_url) == "pending"
    migrate.upgrade(db_url, revisions()[-2])
    assert migrate.check(db_url) == "pending"

    migrate.upgrade(db_url)
    assert migrate.check(db_url) == "ok"

    run_sync(db_url, lambda c: c.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")))
    assert migrate.current(db_url) == "f00dfeedbeef"
    assert migrate.check(db_url) == "ahead"


def test_current_does_not_create_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"
    assert migrate.check(f"sqlite:///{path}") == "empty"
    assert not path.exists()


async def test_refuses_to_run_inside_an_event_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(RuntimeError, match="to_thread"):
        migrate.upgrade(url)
    with pytest.raises(RuntimeError, match="to_thread"):
        migrate.check(url)
    assert await asyncio.to_thread(migrate.check, url) == "empty"


def test_experiment_actions_become_follow_ups(db_url: str) -> None:
    """0021: each experiment action becomes an outcome of its lab with one check-in on its due date
    (answered if it was done) whose private link opens with the app's secret key; downgrading gives
    the actions back."""
    from labs.services import credentials
    from labs.settings import get_settings

    migrate.upgrade(db_url, "0020")

    def seed(conn: Connection) -> None:
        conn.execute(text(SEED[0]))
        conn.execute(
            text(
                "INSERT INTO community (id, name, kind, description, erasure_mode, created_at)"
                " VALUES (1, 'Zonnewijk', 'living_lab', '', 'unlink', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO experiment (id, community_id, title, hypothesis, topics, sdgs, status, tried, worked,"
                " did_not_work, for_whom, context, why, evidence, created_by_id, created_at)"
                " VALUES (1, 1, 'Ambassadors', 'H', '[]', '[]', 'running', '', '', '', '', '', '', '', 1,"
                " CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO experiment_action (id, experiment_id, title, owner, due_on, done_at, created_at) VALUES"
                " (1, 1, 'Train', 'Fatima', '2026-03-01', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
                " (2, 1, 'Invite', 'Esra', '2027-01-10', NULL, CURRENT_TIMESTAMP)"
            )
        )

    run_sync(db_url, seed)
    migrate.upgrade(db_url)

    def read(conn: Connection) -> Any:
        return conn.execute(
            text(
                "SELECT o.title, o.owner_name, o.kind, o.community_id, o.experiment_id, o.session_id,"
                " f.due_on, f.status, f.token_nonce, f.token_hash"
                " FROM outcome o JOIN follow_up f ON f.outcome_id = o.id ORDER BY o.id"
            )
        ).all()

    rows = run_sync(db_url, read)
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], str(r[6]), r[7]) for r in rows] == [
        ("Train", "Fatima", "other", 1, 1, None, "2026-03-01", "answered"),
        ("Invite", "Esra", "other", 1, 1, None, "2027-01-10", "planned"),
    ]
    key = get_settings().secret_key
    assert all(r[9] == credentials.token_digest(credentials.follow_up_token(key, r[8])) for r in rows)

    migrate.downgrade(db_url, "0020")
    back = run_sync(
        db_url,
        lambda c: c.execute(
            text("SELECT title, owner, due_on, done_at IS NOT NULL FROM experiment_action ORDER BY id")
        ).all(),
    )
    assert [(t, o, str(d), bool(done)) for t, o, d, done in back] == [
        ("Train", "Fatima", "2026-03-01", True),
        ("Invite", "Esra", "2027-01-10", False),
    ]
    assert run_sync(db_url, lambda c: c.execute(text("SELECT count(*) FROM outcome")).scalar_one()) == 0


def test_open_logins_are_hashed_in_place(db_url: str) -> None:
    """0023 keeps people logged in: the plain cookie value becomes its SHA-256, which is what the
    app looks up; downgrading cannot undo a digest, so it ends every login."""
    migrate.upgrade(db_url, "0022")
    run_sync(db_url, lambda c: c.execute(text(SEED[0])))
    run_sync(
        db_url,
        lambda c: c.execute(
            text(
                "INSERT INTO login_session (id, account_id, created_at, expires_at)"
                " VALUES ('plain-cookie', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        ),
    )
    migrate.upgrade(db_url, "0023")
    rows = run_sync(db_url, lambda c: c.execute(text("SELECT token_hash, last_seen_at FROM login_session")).all())
    assert [r[0] for r in rows] == [hashlib.sha256(b"plain-cookie").hexdigest()]
    assert rows[0][1] is not None
    migrate.downgrade(db_url, "0022")
    assert run_sync(db_url, lambda c: c.execute(text("SELECT count(*) FROM login_session")).scalar_one()) == 0


def test_tokens_made_before_expiry_existed_get_the_default_lifetime(db_url: str) -> None:
    """0025: a token without an expiry lasts 90 days from the upgrade, so its scripts go on."""
    migrate.upgrade(db_url, "0024")
    run_sync(db_url, lambda c: c.execute(text(SEED[0])))
    run_sync(
        db_url,
        lambda c: c.execute(
            text(
                "INSERT INTO api_token (id, account_id, token_hash, created_at)"
                " VALUES (1, 1, 'digest', CURRENT_TIMESTAMP)"
            )
        ),
    )
    migrate.upgrade(db_url, "0025")
    name, expires = run_sync(db_url, lambda c: c.execute(text("SELECT name, expires_at FROM api_token")).one())
    assert name == ""
    expires = expires if isinstance(expires, datetime) else datetime.fromisoformat(expires)
    assert abs(expires.replace(tzinfo=UTC) - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
