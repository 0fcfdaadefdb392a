"""Publish -> receive latency of live notes with many clients in one session, on ONE server worker.

Starts `labs serve` on a fresh SQLite database, joins --clients participants and opens one
websocket per participant: most as the participant HTML view (`?view=participant` with the
`labs_p{id}` cookie, what phones use), --json-clients of them as JSON API clients (bearer token).
A poster then posts notes at --rate per second for --duration seconds, open loop (it does not
wait for one answer before the next send), spread over enough participants that the posting rate
limit (20 burst, 0.5/s each) never bites. Every note body carries its number and the monotonic
time just before its HTTP POST left; every client records when the frame arrived (CLOCK_MONOTONIC
is one clock for all processes on a machine).

The clients run in --client-procs processes (default 1: one asyncio loop for all websockets),
the poster in the parent. The table reports each client process's CPU and event-loop lag, so a
saturated client loop (which would inflate the latencies) shows up.

    .venv/bin/python bench/live_latency.py [--clients 1000] [--rate 10] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

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
    raise_fd_limit,
    rss_mb,
    start_py_spy,
    table,
)

BENCH = re.compile(r"bench n=(\d+) t=([0-9.]+)")
WARMUP = "bench warm-up"
PER_POSTER_RATE = 0.45  # below the posting bucket's 0.5 notes/s refill


# --- client processes ----------------------------------------------------------------------


def client_worker(conn: Connection, ws_url: str, session_id: int, specs: list[tuple[str, str]], after: int,
                  deflate: bool) -> None:
    """Holds len(specs) websockets in one asyncio loop; answers ("ready", ...) then ("result", ...)."""
    try:
        import uvloop  # the server's loop too (uvicorn picks it): keeps the clients' own cost down
    except ImportError:
        asyncio.run(_client_main(conn, ws_url, session_id, specs, after, deflate))
    else:
        uvloop.run(_client_main(conn, ws_url, session_id, specs, after, deflate))


async def _client_main(conn: Connection, ws_url: str, session_id: int, specs: list[tuple[str, str]], after: int,
                       deflate: bool) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    received: list[collections.Counter[int]] = [collections.Counter() for _ in specs]
    latencies: list[float] = []
    spread: dict[int, list[float]] = {}  # note -> [first, last] arrival latency in this process
    other = [0]
    closed = [0]
    sizes: dict[str, list[int]] = {"html": [0, 0], "json": [0, 0]}  # kind -> [frames, characters]
    lags: list[float] = []
    measuring = [False]
    gate = asyncio.Semaphore(50)
    connected = asyncio.Event()
    pending = [len(specs)]
    failures: list[str] = []
    sockets: list[Any] = []
    alive: set[int] = set()  # clients whose websocket opened
    deflated = [0]

    async def client(i: int, kind: str, token: str) -> None:
        url = f"{ws_url}/api/v1/sessions/{session_id}/stream?after={after}"
        if kind == "html":
            url += "&view=participant"
            headers = {"Cookie": f"labs_p{session_id}={token}"}
        else:
            headers = bearer(token)
        try:
            async with gate:
                ws = await connect(url, additional_headers=headers, open_timeout=60, max_size=2**20,
                                   compression="deflate" if deflate else None)
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")
            return
        finally:
            pending[0] -= 1
            if pending[0] == 0:
                connected.set()
        sockets.append(ws)
        alive.add(i)
        if ws.protocol.extensions:  # the server accepted permessage-deflate
            deflated[0] += 1
        counts = received[i]
        try:
            async for raw in ws:
                now = time.monotonic()
                if kind == "json":
                    frame = json.loads(raw)
                    body = frame.get("data", {}).get("body", "") if frame.get("type") == "note.added" else ""
                    match = BENCH.search(body) if body else None
                else:
                    match = BENCH.search(raw)  # type: ignore[arg-type]
                if match is None:
                    if WARMUP not in raw:
                        other[0] += 1
                    continue
                n = int(match[1])
                counts[n] += 1
                size = sizes[kind]
                size[0] += 1
                size[1] += len(raw)
                latency = (now - float(match[2])) * 1000
                latencies.append(latency)
                if (seen := spread.get(n)) is None:
                    spread[n] = [latency, latency]
                else:
                    seen[1] = latency
        except Exception:
            closed[0] += 1

    async def lag_monitor() -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.02)
            if measuring[0]:
                lags.append((time.monotonic() - start - 0.02) * 1000)

    tasks = [asyncio.create_task(client(i, kind, token)) for i, (kind, token) in enumerate(specs)]
    monitor = asyncio.create_task(lag_monitor())
    await connected.wait()
    conn.send(("ready", len(specs) - len(failures), failures[:3]))

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: inbox.put_nowait(conn.recv()))
    message = await inbox.get()
    assert message[0] == "go"
    measuring[0] = True
    message = await inbox.get()
    assert message[0] == "stop"
    _, acked, drain_seconds = message
    acked = set(acked)
    # Wait until every client has every acknowledged note, or the drain time is up.
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        if not any(len(acked - received[i].keys()) for i in alive):
            break
        await asyncio.sleep(0.1)
    measuring[0] = False
    loop.remove_reader(conn.fileno())
    os.set_blocking(conn.fileno(), True)  # uvloop made it non-blocking; the result is large
    monitor.cancel()
    for ws in sockets:
        ws.transport.abort()  # no closing handshake: 1,000 of them would take a while
    for task in tasks:
        task.cancel()
    connected_clients = len(alive)
    missing = sum(len(acked - received[i].keys()) for i in alive)  # never connected: counted apart
    duplicates = sum(n - 1 for counts in received for n in counts.values() if n > 1)
    unexpected = sum(n for counts in received for k, n in counts.items() if k not in acked)
    conn.send(("result", {
        "latencies": latencies, "spread": spread, "sizes": sizes, "missing": missing, "duplicates": duplicates,
        "unexpected": unexpected, "other": other[0], "closed": closed[0], "lags": lags, "connected": connected_clients,
        "deflated": deflated[0],
    }))


# --- the poster ----------------------------------------------------------------------------


async def post_notes(base_url: str, session_id: int, tokens: list[str], rate: float, duration: float,
                     started: Callable[[], None]) -> tuple[list[int], list[float], collections.Counter[str]]:
    """Open loop: note i leaves at start + i/rate whatever happened to the ones before."""
    acked: list[int] = []
    post_ms: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30, limits=limits) as http:

        async def one(i: int) -> None:
            sent = time.monotonic()
            payload = {"client_id": uuid.uuid4().hex, "body": f"bench n={i} t={sent:.6f}", "kind": "idea"}
            try:
                response = await http.post(f"/sessions/{session_id}/notes", json=payload,
                                           headers=bearer(tokens[i % len(tokens)]))
            except Exception as e:
                errors[type(e).__name__] += 1
                return
            post_ms.append((time.monotonic() - sent) * 1000)
            if response.status_code == 201:
                acked.append(i)
            else:
                errors[str(response.status_code)] += 1

        # Not measured: opens the poster's connections and warms the server's statement caches.
        for token in tokens[:5]:
            await http.post(f"/sessions/{session_id}/notes", headers=bearer(token),
                            json={"client_id": uuid.uuid4().hex, "body": WARMUP, "kind": "idea"})
        await asyncio.sleep(1)
        started()

        total = int(rate * duration)
        start = time.monotonic()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return acked, post_ms, errors


# --- the run -------------------------------------------------------------------------------


async def setup(server: Server, participants: int) -> tuple[int, str, list[dict[str, Any]], int]:
    fac = server.create_user(fresh_email())
    async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=60) as http:
        session = await live_session(http, fac, "Latency benchmark")
        joined = await join_many(http, session["join_code"], participants)
        _, last = await event_log(http, fac, session["id"])
    return session["id"], fac, joined, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="websocket clients (default 1000)")
    parser.add_argument("--json-clients", type=int, default=None,
                        help="how many of them are JSON API clients (default 10%%); the rest are participant "
                             "HTML views")
    parser.add_argument("--rate", type=float, default=10, help="notes per second (default 10)")
    parser.add_argument("--duration", type=float, default=30, help="seconds of posting (default 30)")
    parser.add_argument("--posters", type=int, default=None,
                        help=f"participants who post (default: rate/{PER_POSTER_RATE}, under the rate limit)")
    parser.add_argument("--client-procs", type=int, default=1, help="processes holding the websockets (default 1)")
    parser.add_argument("--no-deflate", action="store_true",
                        help="clients do not offer permessage-deflate (browsers do; default: offer it)")
    parser.add_argument("--drain", type=float, default=15, help="seconds to wait for stragglers (default 15)")
    parser.add_argument("--keep", action="store_true", help="keep the server's data dir (its log and database)")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server while posting (collapsed stacks)")
    args = parser.parse_args()
    json_clients = args.json_clients if args.json_clients is not None else args.clients // 10
    posters = args.posters or max(1, math.ceil(args.rate / PER_POSTER_RATE))

    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="labs-bench-latency-"))
    server = Server(data_dir).start()
    workers: list[Any] = []
    try:
        t0 = time.monotonic()
        session_id, _fac, joined, after = asyncio.run(setup(server, max(args.clients, posters)))
        print(f"setup: {len(joined)} participants joined in {time.monotonic() - t0:.1f}s", file=sys.stderr)

        specs = [("json" if i < json_clients else "html", p["token"]) for i, p in enumerate(joined[: args.clients])]
        ctx = multiprocessing.get_context("spawn")
        pipes: list[Connection] = []
        for w in range(args.client_procs):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=client_worker, daemon=True, args=(
                child_end, server.ws_url, session_id, specs[w :: args.client_procs], after, not args.no_deflate))
            proc.start()
            workers.append(proc)
            pipes.append(parent_end)
        t0 = time.monotonic()
        connected = 0
        for pipe, proc in zip(pipes, workers, strict=True):
            _, ok, failures = _receive(pipe, proc, 300)
            connected += ok
            for failure in failures:
                print(f"connect failed: {failure}", file=sys.stderr)
        print(f"setup: {connected}/{args.clients} websockets open in {time.monotonic() - t0:.1f}s", file=sys.stderr)

        windows: list[CpuWindow] = []
        profiler: list[Any] = []

        def started() -> None:
            windows.extend(CpuWindow(pid) for pid in [server.pid, *(p.pid for p in workers)])
            profiler.append(start_py_spy(server.pid, args.py_spy, args.duration))
            for pipe in pipes:
                pipe.send(("go",))

        tokens = [p["token"] for p in joined[:posters]]
        acked, post_ms, errors = asyncio.run(
            post_notes(server.base_url, session_id, tokens, args.rate, args.duration, started))
        server_cpu, *worker_cpu = windows
        server_pct, machine_pct = server_cpu.read()
        server_seconds = server_cpu.seconds()
        if profiler[0]:
            profiler[0].wait()
        client_pcts = [w.read()[0] for w in worker_cpu]
        for pipe in pipes:
            pipe.send(("stop", acked, args.drain))
        results = [_receive(pipe, proc, args.drain + 120)[1] for pipe, proc in zip(pipes, workers, strict=True)]
        rss = rss_mb(server.pid)
    finally:
        for proc in workers:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        server.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"data dir kept: {data_dir}", file=sys.stderr)

    latencies = sorted(x for r in results for x in r["latencies"])
    # Per note: when its first client had it (commit + publish + render) and how long the
    # fan-out to the last one took.
    first: dict[int, float] = {}
    final: dict[int, float] = {}
    for r in results:
        for n, (lo, hi) in r["spread"].items():
            first[n] = min(first.get(n, lo), lo)
            final[n] = max(final.get(n, hi), hi)
    firsts = sorted(first.values())
    fanouts = sorted(final[n] - first[n] for n in first)
    lags = sorted(x for r in results for x in r["lags"])
    post_ms.sort()
    connected = sum(r["connected"] for r in results)
    html = args.clients - json_clients

    def total(key: str) -> int:
        return sum(int(r[key]) for r in results)

    def ms(values: list[float], p: float) -> str:
        return f"{percentile(values, p):.1f}"

    print(f"\nlive_latency: {environment_note()}")
    print(table([
        ("clients (connected / asked)", f"{connected} / {args.clients} ({html} HTML participant, {json_clients} JSON)"),
        ("permessage-deflate offered / negotiated", f"{'no' if args.no_deflate else 'yes'} / "
         f"{total('deflated')} sockets"),
        ("client processes", args.client_procs),
        ("rate (notes/s) x duration (s)", f"{args.rate:g} x {args.duration:g} from {posters} posters"),
        ("events (notes acknowledged)", f"{len(acked)} of {int(args.rate * args.duration)}"),
        ("delivered note frames", f"{len(latencies)} (expected {len(acked) * connected})"),
        ("latency p50 (ms)", ms(latencies, 50)),
        ("latency p95 (ms)", ms(latencies, 95)),
        ("latency p99 (ms)", ms(latencies, 99)),
        ("latency max (ms)", f"{latencies[-1]:.1f}" if latencies else "n/a"),
        ("per note: first client p50 / p99 (ms)", f"{ms(firsts, 50)} / {ms(firsts, 99)}"),
        ("per note: first -> last client p50 / p99 (ms)", f"{ms(fanouts, 50)} / {ms(fanouts, 99)}"),
        ("note frame size HTML / JSON (bytes)", " / ".join(
            str(sum(r["sizes"][k][1] for r in results) // max(1, sum(r["sizes"][k][0] for r in results)))
            for k in ("html", "json"))),
        ("missing / duplicate frames", f"{total('missing')} / {total('duplicates')}"),
        ("other frames / dropped sockets", f"{total('other')} / {total('closed')}"),
        ("POST p50 / p99 (ms)", f"{ms(post_ms, 50)} / {ms(post_ms, 99)}"),
        ("POST errors", dict(errors) or 0),
        ("server CPU (100% = 1 core)", f"{server_pct:.0f}%  (RSS {rss} MB)"),
        ("server CPU per event (ms)", f"{1000 * server_seconds / max(1, len(acked)):.1f}"
         f"  ({1e6 * server_seconds / max(1, len(acked) * connected):.0f} us per delivered frame)"),
        ("client process CPU", ", ".join(f"{p:.0f}%" for p in client_pcts)),
        ("client loop lag p99 / max (ms)", f"{ms(lags, 99)} / {lags[-1]:.1f}" if lags else "n/a"),
        ("machine busy (100% = all cores)", f"{machine_pct:.0f}%"),
    ]))


def _receive(pipe: Connection, proc: multiprocessing.process.BaseProcess, timeout: float) -> Any:
    """The next message from a client process; fails instead of hanging when it died."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(1):
        if not proc.is_alive():
            raise RuntimeError(f"client process exited with {proc.exitcode}")
        if time.monotonic() > deadline:
            raise RuntimeError("client process did not answer in time")
    return pipe.recv()


if __name__ == "__main__":
    main()
