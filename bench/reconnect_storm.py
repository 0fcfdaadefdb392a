"""Idle connections and a reconnect storm, beside the bare websockets server in the same run.

1. Memory per idle connection: the server's RSS before and after --clients idle websockets open
   (participant HTML views and JSON clients as in live_latency.py), per connection.
2. Reconnect storm: every client holds the stream up to seq S; the server is restarted (SIGTERM,
   then `labs serve` again on the same port and database), so every socket drops; --behind notes
   are posted while they are away; then all clients reconnect at once, each with `after=` the last
   seq it had, and the clock runs until every one of them holds the newest seq.

The bare server gets the same number of idle clients (its RSS per connection) and the same storm
of reconnects (it has nothing to catch up: only the time until every socket is open again).

    .venv/bin/python bench/reconnect_storm.py [--clients 1000] [--behind 200]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from labs.testing import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import Pool, Spec
from _common import (
    Server,
    bearer,
    environment_note,
    event_log,
    fresh_email,
    join_many,
    live_session,
    raise_fd_limit,
    rss_kib,
    start_py_spy,
    table,
)

POSTERS = 20  # the behind-notes come from this many participants (20 each stays in the burst)


async def setup(base_url: str, fac: str, count: int) -> tuple[int, list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=120) as http:
        session = await live_session(http, fac, "Reconnect benchmark")
        return session["id"], await join_many(http, session["join_code"], count)


async def post_behind(base_url: str, fac: str, sid: int, tokens: list[str], count: int) -> int:
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=60) as http:

        async def one(i: int) -> None:
            payload = {"client_id": uuid.uuid4().hex, "body": f"behind {i}", "kind": "idea"}
            response = await http.post(f"/sessions/{sid}/notes", json=payload, headers=bearer(tokens[i % len(tokens)]))
            response.raise_for_status()

        for start in range(0, count, 50):
            await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))
        return (await event_log(http, fac, sid))[1]


def idle_memory(pid: int, pool: Pool, caught_up: int = 0, settle: float = 2.0) -> tuple[int, float]:
    """(connected, KiB of server RSS per connection) once every client holds seq `caught_up`."""
    before = rss_kib(pid)
    connected, failures = pool.ready()
    for failure in failures:
        print(f"connect failed: {failure}", file=sys.stderr)
    deadline = time.monotonic() + 120
    while pool.min_seq() < caught_up and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(settle)
    return connected, (rss_kib(pid) - before) / max(1, connected)


async def warm_up(server: Server, sid: int, participant: dict[str, Any]) -> int:
    """One page view and one stream read before measuring: templates compiled, caches filled."""
    from websockets.asyncio.client import connect

    url = f"{server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after=0"
    async with connect(url, additional_headers={"Cookie": f"labs_p{sid}={participant['token']}"}) as ws:
        await asyncio.wait_for(ws.recv(), 30)
    async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=60) as http:
        return (await event_log(http, participant["token"], sid))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--behind", type=int, default=200, help="events posted while the clients are away")
    parser.add_argument("--within", type=float, default=60, help="seconds to wait for the storm to settle")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server during the storm (collapsed stacks)")
    args = parser.parse_args()
    raise_fd_limit()
    json_clients = args.clients // 10
    data_dir = Path(tempfile.mkdtemp(prefix="labs-bench-storm-"))
    rows: list[tuple[str, Any]] = []
    server = Server(data_dir)
    pool: Pool | None = None
    try:
        server.migrate_and_start()
        fac = server.create_user(fresh_email())
        sid, joined = asyncio.run(setup(server.base_url, fac, max(args.clients, POSTERS)))
        last = asyncio.run(warm_up(server, sid, joined[0]))
        # They come in holding everything so far (the joins), as phones that were there already.
        specs = [
            Spec(f"{server.ws_url}/api/v1/sessions/{sid}/stream?batch=1&after={last}", bearer(p["token"]), "json")
            if i < json_clients else
            Spec(f"{server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after={last}",
                 {"Cookie": f"labs_p{sid}={p['token']}"}, "html")
            for i, p in enumerate(joined[: args.clients])
        ]
        pool = Pool(specs)
        connected, per_conn = idle_memory(server.pid, pool, last)
        seen = pool.min_seq()
        server.stop()
        pool.drop()
        server.start()
        target = asyncio.run(post_behind(server.base_url, fac, sid, [p["token"] for p in joined[:POSTERS]],
                                         args.behind))
        profiler = start_py_spy(server.pid, args.py_spy, 30)
        storm = pool.storm(target, args.within)[0]
        if profiler:
            profiler.wait()
    finally:
        if pool:
            pool.close()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    port = free_port()
    bare = subprocess.Popen([sys.executable, str(Path(__file__).parent / "bare_server.py"), "--port", str(port)])
    bare_pool: Pool | None = None
    try:
        time.sleep(1.0)
        bare_pool = Pool([Spec(f"ws://127.0.0.1:{port}/sub?after=0")] * args.clients)
        bare_connected, bare_per_conn = idle_memory(bare.pid, bare_pool)
        bare_pool.drop()
        bare_storm = bare_pool.storm(0, args.within)[0]
    finally:
        if bare_pool:
            bare_pool.close()
        bare.terminate()
        bare.wait(10)

    caught = storm["caught_up_s"]
    rows += [
        ("idle connections (labs / bare)", f"{connected} / {bare_connected}"),
        ("RSS per idle connection, KiB (labs / bare)",
         f"{per_conn:.1f} / {bare_per_conn:.1f}  (ratio {per_conn / max(0.1, bare_per_conn):.2f})"),
        ("storm: events behind per client", f"{target - seen} (seq {seen} -> {target})"),
        ("storm: all sockets open again, s (labs / bare)",
         f"{storm['connected_s']:.2f} / {bare_storm['connected_s']:.2f}"),
        ("storm: every client caught up, s", f"{caught:.2f}" if caught is not None else
         f"NOT within {args.within:g} s ({storm['behind']} behind)"),
        ("storm: reconnected / failures", f"{storm['reconnected']} / {storm['failures'] or 0}"),
    ]
    print(f"\nreconnect_storm ({args.clients} clients: {args.clients - json_clients} HTML participant, "
          f"{json_clients} JSON batch=1; 1 x labs serve, SQLite): {environment_note()}")
    print(table(rows))


if __name__ == "__main__":
    main()
