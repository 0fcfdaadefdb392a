"""SQLite through aiosqlite with one trip to its thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to aiosqlite's worker thread for each statement
(open a cursor, execute, fetch the rows, close the cursor). Each trip is a queue put, a thread
wake-up and a wake-up of the event loop: on a 2-core VM about 100-200 µs of CPU for `SELECT 1`,
which sqlite3 itself answers in 3 µs, so a group commit of a few statements spent most of its time
handing work between threads. This shim runs the whole statement in one trip and hands back the
rows. The dialect, the URLs (`sqlite+aiosqlite://`) and everything else stay SQLAlchemy's; only
the DBAPI module changes (`create_async_engine(module=...)`)."""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

# (description, lastrowid, rowcount, rows) of one statement, read in aiosqlite's thread.
Outcome = tuple[Any, int | None, int, list[Any]]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, -1, -1, cursor.fetchall()
        return None, cursor.lastrowid, cursor.rowcount, []
    finally:
        cursor.close()


class Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _one_trip(self, operation: str, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            # aiosqlite's own queue, as SQLAlchemy's adapter uses it for the isolation level.
            outcome = self.await_(connection._execute(_run, connection._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, self.lastrowid, self.rowcount, rows = outcome
        self._rows = deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._one_trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        self._one_trip(operation, seq_of_parameters, many=True)


class Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        # Server-side cursors fetch in steps and stay SQLAlchemy's.
        return super().cursor(server_side) if server_side else Cursor(self)


class DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> Connection:
        adapted = super().connect(*arg, **kw)
        return Connection(self, adapted._connection)


def dbapi() -> DBAPI:
    return DBAPI(aiosqlite, sqlite3)
