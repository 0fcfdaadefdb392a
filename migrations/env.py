"""Alembic environment: async engines (aiosqlite / asyncpg), batch mode on SQLite.

The URL is ``sqlalchemy.url`` from the Alembic config when set (labs.migrate sets it), otherwise
the app's own ``LABS_DATABASE_URL`` via ``get_settings()``. Online migrations run their own event
loop with ``asyncio.run``, so they must be started from synchronous code (a thread is fine). Code
that already holds a *sync* connection (e.g. inside ``AsyncConnection.run_sync``) can pass it as
``config.attributes["connection"]`` and no loop is started.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from labs.models import Base, include_name
from labs.settings import get_settings, normalise_db_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalise_db_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)


def _options(is_sqlite: bool) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "include_name": include_name,
        # SQLite cannot ALTER constraints: batch mode copies the table instead.
        "render_as_batch": is_sqlite,
        # One transaction per revision, on SQLite too (see _sqlite_transactions below).
        "transactional_ddl": True,
        "transaction_per_migration": True,
    }


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name == "sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_transactions(sync_engine: Any) -> None:
    """pysqlite defers BEGIN and would run DDL outside any transaction; emit BEGIN ourselves so a
    failed revision rolls back whole. Foreign keys stay OFF while batch mode copies tables."""

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


async def run_async_migrations() -> None:
    url = _url()
    engine = create_async_engine(url, poolclass=pool.NullPool)
    if url.startswith("sqlite"):
        _sqlite_transactions(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
