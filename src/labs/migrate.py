"""Schema migrations for the CLI and the app: a thin layer over Alembic's command API.

Every function here is synchronous and runs its own event loop (Alembic's async ``env.py`` calls
``asyncio.run``), so call them from synchronous code only: a CLI command, or before the server's
loop starts. From inside a running loop use ``await asyncio.to_thread(migrate.upgrade, url)``;
calling them directly there raises ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from labs.db import private_sqlite_file
from labs.settings import ROOT, normalise_db_url

MIGRATIONS_DIR = ROOT / "migrations"

Status = Literal["ok", "pending", "ahead", "empty"]


def config(url: str | None = None) -> Config:
    """An Alembic config for the repo's ``migrations`` folder, pointed at ``url`` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolates "%": escape it (percent-encoded passwords).
        cfg.set_main_option("sqlalchemy.url", normalise_db_url(url).replace("%", "%%"))
    return cfg


def _no_running_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"labs.migrate.{name}() runs its own event loop; call it from sync code "
        f"(e.g. `await asyncio.to_thread(migrate.{name}, ...)`), not inside a running loop"
    )


def upgrade(url: str, revision: str = "head") -> None:
    _no_running_loop("upgrade")
    private_sqlite_file(url)
    command.upgrade(config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade to ``revision``; ``"base"`` drops every table (``alembic_version`` stays, empty)."""
    _no_running_loop("downgrade")
    command.downgrade(config(url), revision)


def head() -> str:
    """The newest revision this code knows."""
    rev = ScriptDirectory.from_config(config()).get_current_head()
    if rev is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return rev


def _sqlite_file_missing(url: str) -> bool:
    u = make_url(url)
    path = u.database or ""
    return u.get_backend_name() == "sqlite" and path not in ("", ":memory:") and not Path(path).exists()


async def _current(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    finally:
        await engine.dispose()
    if len(heads) > 1:
        raise RuntimeError(f"database has several migration heads: {', '.join(heads)}")
    return heads[0] if heads else None


def current(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    url = normalise_db_url(url)
    _no_running_loop("current")
    if _sqlite_file_missing(url):  # don't create an empty file just to look
        return None
    return asyncio.run(_current(url))


def check(url: str) -> Status:
    """Compare the database with this code's migrations.

    "ok": at head. "pending": behind, run upgrade. "ahead": at a revision this code does not
    know (newer code migrated it). "empty": never migrated (no alembic_version row).
    """
    rev = current(url)
    if rev is None:
        return "empty"
    script = ScriptDirectory.from_config(config())
    if rev == script.get_current_head():
        return "ok"
    known = {s.revision for s in script.walk_revisions()}
    return "pending" if rev in known else "ahead"
