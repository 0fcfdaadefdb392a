"""Live delivery with many clients in one session, beside a bare websockets server in the same run.

Two shapes of load:

- steady (default): notes at --rate per second for --duration seconds, open loop (a note leaves
  at its time whatever happened to the ones before), spread over enough participants that the
  posting rate limit (20 burst, 0.5/s each) never bites. Reports publish -> receive latency.
- burst (--burst): --clients participants each post ONE note, spread evenly over --window
  seconds, while --clients clients are connected ("everyone, post your idea now"). Reports POST
  latency and how long after the last post every client holds every note.

Most clients are participant HTML views (`?view=participant` with the `labs_p{id}` cookie, what
phones use); --json-clients of them are JSON API clients (bearer token, `batch=1`). Every note
body carries its number and the monotonic time just before its POST left; every client records
when each note arrived (CLOCK_MONOTONIC is one clock for all processes on a machine).

The same clients then connect to `bench/bare_server.py` (plain `websockets`, one frame per
message, no framework, database or rendering) and receive the same number of messages of the
same size at the same times; the table gives each figure beside the bare one. With --servers 2
the labs side is two `labs serve` processes on one PostgreSQL database (--database-url) and one
Redis (--channels-url), the clients split between them.

    .venv/bin/python bench/live_latency.py [--clients 1000] [--rate 10] [--duration 30]
    .venv/bin/python bench/live_latency.py --burst --clients 1000 --window 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from labs.testing import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clients import WARMUP, Pool, Spec
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
    raise_fd_limit,
    rss_mb,
    start_py_spy,
)
from _poster import Posters

PER_POSTER_RATE = 0.45  # below the posting bucket's 0.5 notes/s refill


# --- when each note leaves -----------------------------------------------------------------


def schedule(args: argparse.Namespace) -> list[float]:
    """Seconds after the start at which note i leaves."""
    if args.burst:
        return [i * args.window / args.clients for i in range(args.clients)]
    return [i / args.rate for i in range(int(args.rate * args.duration))]


async def open_loop(times: list[float], send: Callable[[int, float], Awaitable[None]]) -> None:
    start = time.monotonic()
    tasks = []
    for i, at in enumerate(times):
        delay = start + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, time.monotonic())))
    await asyncio.gather(*tasks)


async def post_notes(base_url: str, session_id: int, tokens: list[str], times: list[float], started: Callable[[], None]
                     ) -> tuple[list[int], list[float], collections.Counter[str], float]:
    acked: list[int] = []
    post_ms: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    last_sent = [0.0]
    posters = Posters(base_url + "/api/v1", 200)
    path = f"/sessions/{session_id}/notes"

    async def one(i: int, sent: float) -> None:
        last_sent[0] = max(last_sent[0], sent)
        payload = {"client_id": uuid.uuid4().hex, "body": f"bench n={i} t={sent:.6f}", "kind": "idea"}
        for attempt in range(2):
            try:
                status, _ = await posters.post(path, payload, bearer(tokens[i % len(tokens)]))
                break
            except Exception as e:
                # A kept-alive connection the server closed as the post left: resend it with the
                # same client_id, as the phone's offline queue does (it is idempotent).
                errors[f"{type(e).__name__}{' (resent)' if attempt == 0 else ''}"] += 1
                if attempt:
                    return
        post_ms.append((time.monotonic() - sent) * 1000)
        if status in (200, 201):
            acked.append(i)
        else:
            errors[str(status)] += 1

    # Not measured: opens the poster's connections and warms the server's statement caches.
    await asyncio.gather(*(posters.post(f"/sessions/{session_id}/notes",
                                        {"client_id": uuid.uuid4().hex, "body": WARMUP, "kind": "idea"}, bearer(token))
                           for token in tokens[-5:]))
    await asyncio.sleep(1)
    started()
    await open_loop(times, one)
    posters.close()
    return acked, post_ms, errors, last_sent[0]


async def publish_bare(port: int, times: list[float], size: int, started: Callable[[], None]) -> float:
    """The same messages to the bare server, at the same times, padded to labs' frame size."""
    from websockets.asyncio.client import connect

    last_sent = [0.0]
    async with connect(f"ws://127.0.0.1:{port}/pub", compression=None, max_size=2**24) as pub:
        await pub.send(WARMUP)
        await asyncio.sleep(1)
        started()

        async def one(i: int, sent: float) -> None:
            last_sent[0] = max(last_sent[0], sent)
            text = f"bench n={i} t={sent:.6f} "
            await pub.send(text + "x" * max(0, size - len(text)))

        await open_loop(times, one)
        await asyncio.sleep(0.2)
    return last_sent[0]


# --- one side of the comparison --------------------------------------------------------------


def measure(pool: Pool, pids: list[int], times: list[float], run: Callable[[Callable[[], None]], Any],
            drain: float, py_spy: str | None = None) -> dict[str, Any]:
    windows: list[CpuWindow] = []
    profiler: list[Any] = []

    def started() -> None:
        windows.extend(CpuWindow(pid) for pid in [*pids, *pool.pids])
        profiler.append(start_py_spy(pids[0], py_spy, times[-1] + 1))
        pool.go()

    outcome = run(started)
    acked = outcome[0] if isinstance(outcome, tuple) else list(range(len(times)))
    result = pool.stop(acked, drain)
    cpu = [w.read() for w in windows]
    seconds = [w.seconds() for w in windows]
    if profiler and profiler[0]:
        profiler[0].wait()
    result.update(
        acked=acked,
        outcome=outcome,
        server_pct=sum(c[0] for c in cpu[: len(pids)]),
        server_s=sum(seconds[: len(pids)]),
        client_pct=[c[0] for c in cpu[len(pids):]],
        machine_pct=cpu[0][1],
        rss=", ".join(rss_mb(pid) for pid in pids),
    )
    return result


# --- the run -------------------------------------------------------------------------------


async def setup(base_url: str, fac: str, participants: int) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=120) as http:
        session = await live_session(http, fac, "Live benchmark")
        joined = await join_many(http, session["join_code"], participants)
        _, last = await event_log(http, fac, session["id"])
    return session, joined, last


async def phone_page(base_url: str, session_id: int, token: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.get(f"/p/{session_id}", cookies={f"labs_p{session_id}": token})
        response.raise_for_status()
        return len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="websocket clients (default 1000)")
    parser.add_argument("--json-clients", type=int, default=None,
                        help="how many of them are JSON API clients (default 10%%); the rest are participant "
                             "HTML views")
    parser.add_argument("--burst", action="store_true", help="every client's participant posts one note")
    parser.add_argument("--window", type=float, default=10, help="burst: seconds the posts are spread over")
    parser.add_argument("--rate", type=float, default=10, help="steady: notes per second (default 10)")
    parser.add_argument("--duration", type=float, default=30, help="steady: seconds of posting (default 30)")
    parser.add_argument("--client-procs", type=int, default=1, help="processes holding the websockets (default 1)")
    parser.add_argument("--servers", type=int, default=1, help="labs serve processes (more need --database-url "
                                                               "and --channels-url)")
    parser.add_argument("--database-url", help="PostgreSQL server: a fresh database is made there and dropped")
    parser.add_argument("--channels-url", help="channels backend for all servers, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare baseline")
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait for stragglers (default 60)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data dir (logs and database)")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the (first) server while posting")
    args = parser.parse_args()
    if args.servers > 1 and not (args.database_url and args.channels_url):
        parser.error("--servers > 1 needs --database-url and --channels-url")
    json_clients = args.json_clients if args.json_clients is not None else args.clients // 10
    times = schedule(args)
    posters = args.clients if args.burst else max(1, math.ceil(args.rate / PER_POSTER_RATE))

    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="labs-bench-live-"))
    servers: list[Server] = []
    pools: list[Pool] = []
    bare_proc: subprocess.Popen[bytes] | None = None
    labs: dict[str, Any] = {}
    bare: dict[str, Any] = {}
    page_bytes = 0
    with pg_database(args.database_url, args.keep) as database_url:
        try:
            env = {"LABS_CHANNELS_URL": args.channels_url} if args.channels_url else {}
            for _ in range(args.servers):
                servers.append(Server(data_dir, database_url, env))
            servers[0].migrate_and_start()
            for server in servers[1:]:
                server.start()
            fac = servers[0].create_user(fresh_email())
            t0 = time.monotonic()
            session, joined, after = asyncio.run(setup(servers[0].base_url, fac, max(args.clients, posters + 5)))
            sid = session["id"]
            print(f"setup: {len(joined)} participants joined in {time.monotonic() - t0:.1f}s", file=sys.stderr)
            specs = []
            for i, p in enumerate(joined[: args.clients]):
                server = servers[i % len(servers)]
                if i < json_clients:
                    specs.append(Spec(f"{server.ws_url}/api/v1/sessions/{sid}/stream?batch=1&after={after}",
                                      bearer(p["token"]), "json"))
                else:
                    specs.append(Spec(f"{server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after={after}",
                                      {"Cookie": f"labs_p{sid}={p['token']}"}, "html"))
            pool = Pool(specs, args.client_procs, latencies=not args.burst)
            pools.append(pool)
            t0 = time.monotonic()
            connected, failures = pool.ready()
            for failure in failures:
                print(f"connect failed: {failure}", file=sys.stderr)
            print(f"setup: {connected}/{args.clients} websockets open in {time.monotonic() - t0:.1f}s",
                  file=sys.stderr)
            tokens = [p["token"] for p in joined[:posters]] if args.burst else [p["token"] for p in joined[-posters:]]
            labs = measure(pool, [s.pid for s in servers], times, lambda started: asyncio.run(
                post_notes(servers[0].base_url, sid, tokens, times, started)), args.drain, args.py_spy)
            pool.close()
            pools.clear()
            page_bytes = asyncio.run(phone_page(servers[0].base_url, sid, joined[-1]["token"]))
        finally:
            for pool in pools:
                pool.close()
            for server in servers:
                server.stop()
    if not args.no_bare:
        try:
            port = free_port()
            bare_proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "bare_server.py"),
                                          "--port", str(port)])
            time.sleep(1.0)
            pool = Pool([Spec(f"ws://127.0.0.1:{port}/sub")] * args.clients, args.client_procs,
                        latencies=not args.burst)
            pools.append(pool)
            pool.ready()
            chars = sum(labs["chars"]) / max(1, len(labs["chars"]))
            size = int(chars / max(1, len(labs["acked"])))
            bare = measure(pool, [bare_proc.pid], times, lambda started: asyncio.run(
                publish_bare(port, times, size, started)), args.drain)
        finally:
            for pool in pools:
                pool.close()
            if bare_proc:
                bare_proc.terminate()
                bare_proc.wait(10)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"data dir kept: {data_dir}", file=sys.stderr)
    report(args, labs, bare, json_clients, page_bytes)


def report(args: argparse.Namespace, labs: dict[str, Any], bare: dict[str, Any], json_clients: int,
           page_bytes: int) -> None:
    def side(r: dict[str, Any]) -> dict[str, Any]:
        if not r:
            return {}
        notes = max(1, len(r["acked"]))
        first, last = r["first"], r["last"]
        last_sent = r["outcome"][3] if isinstance(r["outcome"], tuple) else r["outcome"]
        frames, chars = r["frames"], r["chars"]
        deliveries = notes * max(1, r["connected"])
        out = {
            "connected": r["connected"],
            "complete": (max(last.values()) - last_sent) if last else float("nan"),
            "frames": sum(frames) / max(1, len(frames)),
            "chars": sum(chars) / max(1, len(chars)),
            "server_s": r["server_s"],
            "server_pct": r["server_pct"],
            "us_per_delivery": 1e6 * r["server_s"] / deliveries,
            "missing": r["missing"],
            "duplicates": r["duplicates"],
            "closed": r["closed"],
            "client_pct": r["client_pct"],
            "machine_pct": r["machine_pct"],
            "rss": r["rss"],
            "spread": sorted(last[n] - first[n] for n in first),
        }
        lat = sorted(r["latencies"])
        for p in (50, 95, 99):
            out[f"p{p}"] = percentile(lat, p)
        out["max"] = lat[-1] if lat else float("nan")
        html = [c for c, k in zip(chars, r["kinds"], strict=True) if k == "html"]
        out["html_chars"] = sum(html) / max(1, len(html))
        return out

    a, b = side(labs), side(bare)

    def pair(key: str, fmt: str = "{:.1f}") -> tuple[str, str, str]:
        if not b:
            return fmt.format(a[key]), "n/a", ""
        x, y = a[key], b[key]
        ratio = "" if not y or math.isnan(y) or math.isnan(x) else f"{x / y:.2f}x"
        return fmt.format(x), fmt.format(y), ratio

    servers = f"{args.servers} x labs serve" + (" (PostgreSQL + " + args.channels_url.split(':')[0] + ")"
                                               if args.servers > 1 else "")
    shape = (f"burst: {args.clients} notes over {args.window:g} s" if args.burst
             else f"steady: {args.rate:g} notes/s x {args.duration:g} s")
    print(f"\nlive_latency ({shape}, {args.clients} clients: {args.clients - json_clients} HTML participant, "
          f"{json_clients} JSON batch=1; {servers}): {environment_note()}")
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, key: str, fmt: str = "{:.1f}") -> None:
        rows.append((name, *pair(key, fmt)))

    rows.append(("clients connected", str(a.get("connected", "n/a")), str(b.get("connected", "n/a")), ""))
    acked = len(labs.get("acked", []))
    rows.append(("notes acknowledged", f"{acked} of {len(schedule(args))}", "-", ""))
    post_ms = sorted(labs["outcome"][1]) if labs else []
    rows.append(("POST p50 / p99 (ms)", f"{percentile(post_ms, 50):.0f} / {percentile(post_ms, 99):.0f}", "-", ""))
    rows.append(("POST errors", str(dict(labs["outcome"][2]) or 0) if labs else "n/a", "-", ""))
    if not args.burst:
        for p in (50, 95, 99):
            row(f"latency p{p} (ms)", f"p{p}")
        row("latency max (ms)", "max")
    row("every client holds every note, after the last post (s)", "complete", "{:.2f}")
    if b and a:
        rows.append(("  bare / labs: how many times sooner labs is", f"{b['complete'] / a['complete']:.1f}x"
                     if a["complete"] > 0 else "n/a", "", ""))
    row("frames per client", "frames", "{:.0f}")
    row("characters per client", "chars", "{:.0f}")
    rows.append(("characters per phone (HTML client)", f"{a.get('html_chars', 0):.0f}", "-", ""))
    if not args.burst:
        per_minute = a.get("html_chars", 0) * 60 / args.duration if a else 0
        rows.append(("characters per phone per minute", f"{per_minute:.0f}", "-", ""))
    rows.append(("phone page after the run (bytes)", str(page_bytes), "-", ""))
    rows.append(("missing / duplicate notes", f"{a.get('missing')} / {a.get('duplicates')}",
                 f"{b.get('missing')} / {b.get('duplicates')}" if b else "n/a", ""))
    rows.append(("dropped sockets", str(a.get("closed")), str(b.get("closed", "n/a")), ""))
    row("server CPU (s)", "server_s", "{:.2f}")
    row("server CPU per delivered note (us)", "us_per_delivery", "{:.1f}")
    rows.append(("server CPU % (100% = 1 core) / RSS MB", f"{a.get('server_pct', 0):.0f}% / {a.get('rss')}",
                 f"{b.get('server_pct', 0):.0f}% / {b.get('rss')}" if b else "n/a", ""))
    rows.append(("client process CPU %", ", ".join(f"{p:.0f}" for p in a.get("client_pct", [])),
                 ", ".join(f"{p:.0f}" for p in b.get("client_pct", [])), ""))
    rows.append(("machine busy (100% = all cores)", f"{a.get('machine_pct', 0):.0f}%",
                 f"{b.get('machine_pct', 0):.0f}%" if b else "n/a", ""))
    header = ("metric", "labs", "bare", "labs / bare")
    width = [max(len(r[i]) for r in [*rows, header]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) + " |")


if __name__ == "__main__":
    main()
