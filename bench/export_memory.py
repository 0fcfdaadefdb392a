"""Research exports at size: how long a CSV zip, a JSON document and a REFI-QDA project of one
session with N notes take, and the most memory Python held while writing them (tracemalloc peak).
The exports read in batches, so the peak should stay nearly flat from 10,000 to 100,000 notes.

    .venv/bin/python bench/export_memory.py [N ...]      (default: 10000 100000)
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from labs import migrate
from labs.db import Database
from labs.runtime import Runtime
from labs.services import exports
from labs.settings import Settings

CONSENTS = ("none", "anonymous", "pseudonymous", "named")
PEOPLE = 400


def fill(path: Path, notes: int) -> int:
    """One closed session with PEOPLE participants and `notes` notes, each with its note.added
    event, written straight into SQLite (the service path would take minutes at this size)."""
    now = datetime.now(UTC).isoformat(sep=" ")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO lab_session (title, description, kind, status, language, join_code, consent_text_version,"
            " last_seq, created_at) VALUES ('Bench', '', 'workshop', 'closed', 'en', 'BENCH234', '2026-11', ?, ?)",
            (notes, now),
        )
        sid = db.execute("SELECT max(id) FROM lab_session").fetchone()[0]
        db.executemany(
            "INSERT INTO participant (session_id, display_name, organisation, consent, proxy, joined_at)"
            " VALUES (?, ?, ?, ?, 0, ?)",
            [(sid, f"Person {i}", f"Org {i}", CONSENTS[i % 4], now) for i in range(PEOPLE)],
        )
        first = db.execute("SELECT min(id) FROM participant WHERE session_id = ?", (sid,)).fetchone()[0]
        db.executemany(
            "INSERT INTO note (session_id, participant_id, client_id, body, kind, hidden, pinned, deleted,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 'idea', 0, 0, 0, ?, ?)",
            [
                (sid, first + n % PEOPLE, f"c{n}", f"Note {n}: green roofs on every school, " * 3, now, now)
                for n in range(notes)
            ],
        )
        db.executemany(
            "INSERT INTO event (stream, stream_id, session_id, seq, type, data, actor_kind, actor_id, at)"
            " VALUES ('session', ?, ?, ?, 'note.added', ?, 'participant', ?, ?)",
            [
                (sid, sid, n + 1, f'{{"id": {n + 1}, "client_id": "c{n}", "body": "Note {n}", "kind": "idea",'
                 f' "activity_id": null, "participant_id": {first + n % PEOPLE}, "created_at": "{now}"}}',
                 first + n % PEOPLE, now)
                for n in range(notes)
            ],
        )
    return int(sid)


async def measure(url: str, data_dir: Path, session_id: int, fmt: str) -> tuple[float, float, int]:
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="bench", database_pool=False)
    rt = Runtime(settings=settings, db=Database(url, pooled=False))
    out = data_dir / f"export.{fmt}"
    try:
        tracemalloc.start()
        started = time.perf_counter()
        with out.open("wb") as fh:
            await exports.export(rt, None, f"session:{session_id}", fmt, fh, via="cli")
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return seconds, peak / 2**20, out.stat().st_size
    finally:
        await rt.db.dispose()


def main(sizes: list[int]) -> None:
    print(f"{'notes':>8} {'format':>6} {'seconds':>8} {'peak MiB':>9} {'file MiB':>9}")
    for notes in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            url = f"sqlite+aiosqlite:///{data_dir / 'labs.db'}"
            migrate.upgrade(url)
            sid = fill(data_dir / "labs.db", notes)
            for fmt in ("csv", "json", "qdpx"):
                seconds, peak, size = asyncio.run(measure(url, data_dir, sid, fmt))
                print(f"{notes:>8} {fmt:>6} {seconds:>8.1f} {peak:>9.1f} {size / 2**20:>9.1f}", flush=True)


if __name__ == "__main__":
    os.environ.pop("LABS_PSEUDONYM_KEY", None)
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
