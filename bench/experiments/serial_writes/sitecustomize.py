"""Experiment, not a fix: serialise write transactions inside the server process with one
asyncio.Lock, so SQLite writers queue in Python instead of in SQLite's busy handler (which sleeps
1, 2, 5 ... 100 ms between retries). Use: PYTHONPATH=bench/experiments/serial_writes before the
benchmark command; the server it starts inherits it. See docs/performance.md."""

import asyncio
from contextlib import asynccontextmanager

import labs.events as events

_original = events.change
_lock: list[asyncio.Lock] = []


@asynccontextmanager
async def change(rt):
    if not _lock:
        _lock.append(asyncio.Lock())
    async with _lock[0], _original(rt) as tx:
        yield tx


events.change = change
