"""Websocket clients for the live benchmarks, held in their own processes (uvloop), driven over a
pipe by the parent. The same clients measure `labs serve` and the bare baseline server.

Each note's body carries `bench n=<number> t=<monotonic time it was sent>`; a client finds every
such mark in a frame (a frame may carry several notes), so one-note frames and batched frames
are counted the same way. Per client: which notes it holds (and how often), frames, characters,
and the highest seq it has seen (`data-seq="N"` in HTML frames, `"seq": N` in JSON)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import re
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

MARK = re.compile(r"bench n=(\d+) t=([0-9.]+)")
DIGITS = re.compile(r" ?(\d+)")
WARMUP = "bench warm-up"


@dataclass
class Spec:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "json"  # "json" or "html": only labels the sizes


@dataclass
class Held:
    spec: Spec
    counts: collections.Counter[int] = field(default_factory=collections.Counter)
    frames: int = 0
    chars: int = 0
    seq: int = 0
    ws: Any = None
    task: asyncio.Task[None] | None = None
    missing: set[int] | None = None  # once the run stops: acknowledged notes it does not hold yet


def last_seq(text: str) -> int:
    """The seq a frame brings a view to: an HTML frame ends with its seq marker and a JSON frame
    (one event, or a batch in order) names it last. Found from the end: a regex over every
    character held the clients to 60 MB/s, slower than the servers they measure."""
    for marker in ('data-seq="', '"seq":'):
        at = text.rfind(marker)
        if at >= 0 and (m := DIGITS.match(text, at + len(marker))):
            return int(m[1])
    return 0


def worker(conn: Connection, specs: list[Spec], latencies: bool) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(conn, specs, latencies))
    else:
        uvloop.run(_main(conn, specs, latencies))


async def _main(conn: Connection, specs: list[Spec], keep_latencies: bool) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    # A client holds what its url says it has (after=N) until frames bring it further.
    held = [Held(spec, seq=int(m[1]) if (m := re.search(r"after=(\d+)", spec.url)) else 0) for spec in specs]
    lat: list[float] = []
    first: dict[int, float] = {}  # note -> first arrival (monotonic) in this process
    last: dict[int, float] = {}
    lags: list[float] = []
    closed = [0]
    measuring = [False]
    caught_up = asyncio.Event()
    target = [0]
    behind: set[int] = set()  # clients still below target during a storm
    incomplete: set[int] = set()  # clients still missing acknowledged notes once the run stopped
    complete = asyncio.Event()

    async def read(h: Held) -> None:
        try:
            async for raw in h.ws:
                now = time.monotonic()
                text = raw if isinstance(raw, str) else raw.decode()
                if measuring[0]:
                    h.frames += 1
                    h.chars += len(text)
                h.seq = max(h.seq, last_seq(text))
                # An HTML card may show a body more than once (its text, a label): one per frame.
                for n, sent in {int(m[1]): float(m[2]) for m in MARK.finditer(text)}.items():
                    h.counts[n] += 1
                    if keep_latencies:
                        lat.append((now - sent) * 1000)
                    first.setdefault(n, now)
                    last[n] = now
                    if h.missing is not None:
                        h.missing.discard(n)
                        if not h.missing and id(h) in incomplete:
                            incomplete.discard(id(h))
                            if not incomplete:
                                complete.set()
                if behind and h.seq >= target[0]:
                    behind.discard(id(h))
                    if not behind:
                        caught_up.set()
        except Exception:
            closed[0] += 1

    async def open_all(resume: bool, gate_size: int) -> list[str]:
        gate = asyncio.Semaphore(gate_size)
        failures: list[str] = []

        async def one(h: Held) -> None:
            url = h.spec.url
            if resume:
                url = re.sub(r"after=\d+", f"after={h.seq}", url)
            try:
                async with gate:
                    h.ws = await connect(url, additional_headers=h.spec.headers, open_timeout=120,
                                         max_size=2**24, compression=None, ping_interval=None)
            except Exception as e:
                h.ws = None
                failures.append(f"{type(e).__name__}: {e}")
                return
            h.task = asyncio.create_task(read(h))

        await asyncio.gather(*(one(h) for h in held))
        return failures

    async def lag_monitor() -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.02)
            if measuring[0]:
                lags.append((time.monotonic() - start - 0.02) * 1000)

    failures = await open_all(False, 50)
    monitor = asyncio.create_task(lag_monitor())
    conn.send(("ready", sum(1 for h in held if h.ws), failures[:3]))

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: inbox.put_nowait(conn.recv()))
    while True:
        message = await inbox.get()
        if message[0] == "go":
            measuring[0] = True
        elif message[0] == "stop":
            # Wait until every client holds every acknowledged note, or the drain time is up.
            acked, drain = set(message[1]), message[2]
            for h in held:
                h.missing = acked - h.counts.keys()
                if h.ws and h.missing:
                    incomplete.add(id(h))
            if not incomplete:
                complete.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(complete.wait(), drain)
            measuring[0] = False
            alive = [h for h in held if h.ws]
            result = {
                "connected": len(alive),
                "missing": sum(len(h.missing or ()) for h in alive),
                "duplicates": sum(n - 1 for h in held for n in h.counts.values() if n > 1),
                "unexpected": sum(n for h in held for k, n in h.counts.items() if k not in acked),
                "closed": closed[0],
                "first": first,
                "last": last,
                "latencies": lat,
                "lags": lags,
                "frames": [h.frames for h in alive],
                "chars": [h.chars for h in alive],
                "kinds": [h.spec.kind for h in alive],
            }
            _send_large(conn, ("result", result))
        elif message[0] == "seq":
            conn.send(("seq", min((h.seq for h in held if h.ws), default=0)))
        elif message[0] == "drop":
            # The server went away (or is about to): forget the sockets, keep what each had.
            for h in held:
                if h.task:
                    h.task.cancel()
                if h.ws:
                    h.ws.transport.abort()
                h.ws = None
            closed[0] = 0
            conn.send(("dropped",))
        elif message[0] == "storm":
            # Everyone reconnects at once with the last seq it had, and catches up to `target`.
            target[0], caught_up_seconds = message[1], message[2]
            caught_up.clear()
            behind.update(id(h) for h in held if h.seq < target[0])
            if not behind:
                caught_up.set()
            start = time.monotonic()
            failures = await open_all(True, len(held))
            connected = time.monotonic() - start
            try:
                await asyncio.wait_for(caught_up.wait(), caught_up_seconds)
                done: float | None = time.monotonic() - start
            except TimeoutError:
                done = None
            conn.send(("storm", {"connected_s": connected, "caught_up_s": done, "behind": len(behind),
                                 "failures": failures[:3], "reconnected": sum(1 for h in held if h.ws)}))
            target[0] = 0
            behind.clear()
        elif message[0] == "quit":
            break
    monitor.cancel()
    loop.remove_reader(conn.fileno())
    for h in held:
        if h.ws:
            h.ws.transport.abort()


def _send_large(conn: Connection, message: Any) -> None:
    os.set_blocking(conn.fileno(), True)  # uvloop made it non-blocking; the result is large
    conn.send(message)
    os.set_blocking(conn.fileno(), False)


class Pool:
    """`procs` processes holding the websockets of `specs` between them."""

    def __init__(self, specs: list[Spec], procs: int = 1, latencies: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for w in range(procs):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=worker, daemon=True, args=(child_end, specs[w::procs], latencies))
            proc.start()
            self.procs.append(proc)
            self.pipes.append(parent_end)

    def ready(self, timeout: float = 300) -> tuple[int, list[str]]:
        replies = self._all(timeout)
        return sum(r[1] for r in replies), [f for r in replies for f in r[2]]

    def go(self) -> None:
        self._send(("go",))

    def stop(self, acked: list[int], drain: float) -> dict[str, Any]:
        """Waits for the notes to arrive (at most `drain` s); the merged result of all processes."""
        self._send(("stop", acked, drain))
        results = [r[1] for r in self._all(drain + 120)]
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        for r in results:
            for n, t in r["first"].items():
                first[n] = min(first.get(n, t), t)
            for n, t in r["last"].items():
                last[n] = max(last.get(n, t), t)
        merged: dict[str, Any] = {"first": first, "last": last}
        for key in ("connected", "missing", "duplicates", "unexpected", "closed"):
            merged[key] = sum(r[key] for r in results)
        for key in ("latencies", "lags", "frames", "chars", "kinds"):
            merged[key] = [x for r in results for x in r[key]]
        return merged

    def min_seq(self) -> int:
        self._send(("seq",))
        return min(r[1] for r in self._all(60))

    def drop(self) -> None:
        self._send(("drop",))
        self._all(60)

    def storm(self, target: int, within: float) -> list[dict[str, Any]]:
        self._send(("storm", target, within))
        return [r[1] for r in self._all(within + 180)]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid]

    def close(self) -> None:
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                with contextlib.suppress(OSError):
                    pipe.send(("quit",))
            proc.join(10)
            if proc.is_alive():
                proc.terminate()

    def _send(self, message: Any) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def _all(self, timeout: float) -> list[Any]:
        """The next message from every process; fails instead of hanging when one died."""
        replies = []
        deadline = time.monotonic() + timeout
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            while not pipe.poll(0.5):
                if not proc.is_alive():
                    raise RuntimeError(f"client process exited with {proc.exitcode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("client process did not answer in time")
            replies.append(pipe.recv())
        return replies
