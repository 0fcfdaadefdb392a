"""Engines and sessions. SQLite runs in WAL with synchronous=FULL so an acknowledged write
survives a crash; writers take the lock up front (BEGIN IMMEDIATE) so they queue instead of failing."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from labs import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000


def private_sqlite_file(url: str) -> None:
    """Create a SQLite database's folder and file readable by this user only (SQLite gives its
    -wal and -shm files the database file's permissions). Existing ones are left as they are."""
    path = url.split(":///", 1)[1] if url.startswith("sqlite") and ":///" in url else ""
    if not path or path == ":memory:":
        return
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    private_sqlite_file(url)
    # Readers: enough kept connections that a reconnect storm (a thousand phones asking who they
    # are and what they missed) waits in the pool's queue, not on opening connections and threads.
    pool = {} if immediate else {"pool_size": 20, "max_overflow": 30, "pool_timeout": 60}
    engine = create_async_engine(
        url, module=sqlite_driver.dbapi(), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **pool
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would otherwise defer it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """A reader and a writer. On SQLite they are two engines on one file (reads never wait for
    the write lock); elsewhere the writer is the reader."""

    def __init__(self, url: str, *, pooled: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            pool: dict[str, Any] = (
                {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True} if pooled else {"poolclass": NullPool}
            )
            self.engine = create_async_engine(url, **pool)
            self.write_engine = self.engine
        self.reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # SQLite has one write lock. Writers of this process queue here, in order, instead of
        # competing for it through SQLite's busy handler, which sleeps up to 100 ms per retry.
        self._write_lock = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction: committed when the block ends, rolled back on error."""
        async with self._write_lock, self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.reader() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
