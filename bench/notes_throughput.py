"""How many notes per second one server worker acknowledges, and that none is lost.

Starts `labs serve` on a fresh database (SQLite by default, in WAL with synchronous=FULL as
shipped; or a fresh PostgreSQL database with --database-url), joins enough participants that the
posting rate limit (20 burst, 0.5/s each) never bites, then --concurrency workers post notes
back to back (closed loop: each sends its next note when the last is answered) for --duration
seconds, rotating over the participants. Afterwards it reads the whole event log back through
GET /api/v1/sessions/{id}/events and checks that every acknowledged note is there exactly once
and that the seqs are gapless. Beside it, the bare baseline on the same database in the same run:
a raw insert-and-commit loop (one row of the same size per transaction, one connection, with the
driver directly: sqlite3 with WAL and synchronous=FULL as the server has it, or asyncpg).

    .venv/bin/python bench/notes_throughput.py [--concurrency 32] [--duration 30]
    .venv/bin/python bench/notes_throughput.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CpuWindow,
    Server,
    bearer,
    environment_note,
    event_log,
    fresh_email,
    join_many,
    live_session,
    percentile,
    pg_database,
    rss_mb,
    start_py_spy,
    table,
)
from _poster import Posters

BURST, REFILL = 20, 0.5  # labs.ratelimit.Limits.notes
ASSUMED_MAX_RATE = 1000  # notes/s the default participant pool is sized for


# --- the load ------------------------------------------------------------------------------


async def hammer(base_url: str, session_id: int, tokens: list[str], concurrency: int, duration: float
                 ) -> dict[str, Any]:
    acked: list[str] = []
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    turn = [0]
    posters = Posters(base_url + "/api/v1", concurrency)
    stop_at = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < stop_at:
            token = tokens[turn[0] % len(tokens)]
            turn[0] += 1
            client_id = uuid.uuid4().hex
            payload = {"client_id": client_id, "body": f"Throughput note {client_id[:8]}", "kind": "idea"}
            sent = time.monotonic()
            try:
                status, _ = await posters.post(f"/sessions/{session_id}/notes", payload, bearer(token))
            except Exception as e:
                errors[type(e).__name__] += 1
                continue
            if status == 201:
                latencies.append((time.monotonic() - sent) * 1000)
                acked.append(client_id)
            else:
                errors[str(status)] += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - start
    posters.close()
    return {"acked": acked, "latencies": sorted(latencies), "errors": errors, "elapsed": elapsed}


async def setup(server: Server, participants: int) -> tuple[int, str, list[str]]:
    fac = server.create_user(fresh_email())
    async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=60) as http:
        session = await live_session(http, fac, "Throughput benchmark")
        joined = await join_many(http, session["join_code"], participants)
    return session["id"], fac, [p["token"] for p in joined]


async def verify(server: Server, fac: str, session_id: int, acked: list[str]) -> list[tuple[str, Any]]:
    async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=120) as http:
        log, last_seq = await event_log(http, fac, session_id)
    seqs = [e["seq"] for e in log]
    notes = collections.Counter(e["data"]["client_id"] for e in log if e["type"] == "note.added")
    wanted = set(acked)
    gapless = seqs == list(range(1, last_seq + 1))
    missing = len(wanted - notes.keys())
    twice = sum(n - 1 for n in notes.values() if n > 1)
    extra = len(notes.keys() - wanted)  # written although the client saw an error
    ok = gapless and not missing and not twice
    return [
        ("events in log / last_seq", f"{len(log)} / {last_seq}"),
        ("note.added events / acknowledged", f"{sum(notes.values())} / {len(acked)}"),
        ("seqs gapless (1..last_seq)", "yes" if gapless else "NO"),
        ("acked notes missing / twice / unacked extra", f"{missing} / {twice} / {extra}"),
        ("verification", "OK" if ok else "FAILED"),
    ]


BODY = "Throughput note 0123abcd"


def raw_sqlite(path: str, seconds: float) -> int:
    """Rows committed one per transaction in `seconds`, as the server's settings write them."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, client_id TEXT UNIQUE, body TEXT)")
    done, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bench_raw (client_id, body) VALUES (?, ?)", (uuid.uuid4().hex, BODY))
        conn.execute("COMMIT")
        done += 1
    conn.close()
    return done


async def raw_postgres(url: str, seconds: float) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bench_raw (id serial PRIMARY KEY, client_id text UNIQUE, body text)")
        done, stop = 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            await conn.execute("INSERT INTO bench_raw (client_id, body) VALUES ($1, $2)", uuid.uuid4().hex, BODY)
            done += 1
        return done
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent posters (default 32)")
    parser.add_argument("--duration", type=float, default=30, help="seconds of posting (default 30)")
    parser.add_argument("--participants", type=int, default=None,
                        help=f"participants to rotate over (default: enough for {ASSUMED_MAX_RATE} notes/s "
                             "under the posting rate limit)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server (postgresql://user@host:port/db): a fresh database "
                             "labs_bench_<random> is created there, migrated with `labs db upgrade`, and "
                             "dropped afterwards; default: a fresh SQLite file")
    parser.add_argument("--raw-seconds", type=float, default=5, help="seconds of the raw insert loop (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (and the PostgreSQL database)")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server while posting (collapsed stacks)")
    args = parser.parse_args()
    participants = args.participants or max(
        args.concurrency, math.ceil(1.2 * ASSUMED_MAX_RATE * args.duration / (BURST + REFILL * args.duration)))

    data_dir = Path(tempfile.mkdtemp(prefix="labs-bench-notes-"))
    with pg_database(args.database_url, args.keep) as database_url:
        result, checks, server_pct, machine_pct, server_seconds, rss, raw = run(args, data_dir, database_url,
                                                                                participants)
    if args.keep:
        print(f"kept: {data_dir}", file=sys.stderr)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)

    acked, latencies = result["acked"], result["latencies"]
    rate = len(acked) / result["elapsed"]
    raw_rate = raw / args.raw_seconds
    backend = "PostgreSQL (fresh database)" if database_url else "SQLite (WAL, synchronous=FULL)"
    print(f"\nnotes_throughput: {environment_note()}")
    print(table([
        ("database", backend),
        ("concurrency x duration (s)", f"{args.concurrency} x {args.duration:g}, over {participants} participants"),
        ("notes acknowledged (201)", len(acked)),
        ("notes/s", f"{rate:.0f}"),
        ("bare: raw insert+commit loop, rows/s", f"{raw_rate:.0f}  (labs / bare = {rate / max(1, raw_rate):.2f})"),
        ("POST p50 (ms)", f"{percentile(latencies, 50):.1f}"),
        ("POST p99 (ms)", f"{percentile(latencies, 99):.1f}"),
        ("POST max (ms)", f"{latencies[-1]:.1f}" if latencies else "n/a"),
        ("errors", dict(result["errors"]) or 0),
        ("server CPU (100% = 1 core)", f"{server_pct:.0f}%  (RSS {rss} MB)"),
        ("server CPU per note (ms)", f"{1000 * server_seconds / max(1, len(acked)):.2f}"),
        ("machine busy (100% = all cores)", f"{machine_pct:.0f}%"),
        *checks,
    ]))


def run(args: argparse.Namespace, data_dir: Path, database_url: str | None, participants: int) -> tuple[Any, ...]:
    server = Server(data_dir, database_url=database_url)
    try:
        server.migrate_and_start()
        t0 = time.monotonic()
        session_id, fac, tokens = asyncio.run(setup(server, participants))
        print(f"setup: {len(tokens)} participants joined in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        cpu = CpuWindow(server.pid)
        profiler = start_py_spy(server.pid, args.py_spy, args.duration)
        result = uvloop.run(hammer(server.base_url, session_id, tokens, args.concurrency, args.duration))
        server_pct, machine_pct = cpu.read()
        server_seconds = cpu.seconds()
        if profiler:
            profiler.wait()
        rss = rss_mb(server.pid)
        checks = asyncio.run(verify(server, fac, session_id, result["acked"]))
    finally:
        server.stop()
    # The bare baseline, on the same database, after the server has let go of it.
    if database_url:
        raw = asyncio.run(raw_postgres(database_url, args.raw_seconds))
    else:
        raw = raw_sqlite(str(data_dir / "labs.db"), args.raw_seconds)
    return result, checks, server_pct, machine_pct, server_seconds, rss, raw


if __name__ == "__main__":
    main()
