"""Shared by the benchmarks: a real `labs serve` on a free port with a fresh data dir (the same
approach as tests/conftest.py LiveServer), setup over the JSON API, CPU accounting from /proc,
percentiles and a plain-text table."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from labs.testing import LiveServer

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    """1,000 websockets need more than the usual 1,024 descriptors; children inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server(LiveServer):
    """`python -m labs serve` (one uvicorn worker, the real entry point) on a fresh database."""

    def __init__(self, data_dir: Path, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        base = {"LABS_TRUSTED_PROXIES": "127.0.0.1", **({"LABS_DATABASE_URL": database_url} if database_url else {})}
        super().__init__(data_dir, env={**base, **(env or {})})
        self.database_url = database_url

    def migrate_and_start(self) -> Server:
        """SQLite is migrated by `labs serve` itself; PostgreSQL first with `labs db upgrade`."""
        if self.database_url:
            self.labs("db", "upgrade")
        self.start()
        return self


# --- PostgreSQL: a fresh database per run --------------------------------------------------


def _pg_urls(url: str) -> tuple[str, str, str]:
    """(admin DSN, fresh database name, its LABS_DATABASE_URL) on the server `url` points at."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")
    base = plain.rsplit("/", 1)[0] if plain.count("/") > 2 else plain.rstrip("/")
    admin_db = plain.rsplit("/", 1)[1] if plain.count("/") > 2 and plain.rsplit("/", 1)[1] else "postgres"
    name = f"labs_bench_{uuid.uuid4().hex[:10]}"
    return f"{base}/{admin_db}", name, f"{base}/{name}"


async def pg_admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def pg_database(url: str | None, keep: bool = False) -> Iterator[str | None]:
    """A fresh database `labs_bench_<random>` on the PostgreSQL server at `url` (dropped after
    unless `keep`); None when there is no url (the benchmark then uses a fresh SQLite file)."""
    if not url:
        yield None
        return
    admin, name, database_url = _pg_urls(url)
    asyncio.run(pg_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield database_url
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            asyncio.run(pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- CPU accounting ------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuWindow:
    """Server CPU% (100% = one core) and machine busy% (100% = all cores) over a window."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall = time.monotonic()
        self.cpu = process_cpu(pid)
        self.machine = machine_cpu()

    def read(self) -> tuple[float, float]:
        """(process CPU%, machine busy%) since the window opened."""
        wall = time.monotonic() - self.wall
        busy, total = machine_cpu()
        machine = (busy - self.machine[0]) / max(1, total - self.machine[1])
        return 100 * self.seconds() / wall, 100 * machine

    def seconds(self) -> float:
        """CPU seconds the process used since the window opened."""
        return process_cpu(self.pid) - self.cpu


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> str:
    try:
        return str(rss_kib(pid) // 1024)
    except OSError:
        return "?"


def start_py_spy(pid: int, out: str | None, seconds: float) -> subprocess.Popen[bytes] | None:
    """Sample the server with py-spy (collapsed stacks, for flame graphs or grep) when asked.
    py-spy is not a dependency: PY_SPY=/path/to/py-spy, or on PATH; PY_SPY_ARGS adds flags
    (e.g. --gil: only the thread holding the GIL, i.e. Python CPU time)."""
    if not out:
        return None
    import shutil

    exe = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not exe:
        print("py-spy not found (set PY_SPY): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            out,
            *os.environ.get("PY_SPY_ARGS", "").split(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --- setup over the API --------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def live_session(http: httpx.AsyncClient, fac: str, title: str = "Benchmark") -> dict[str, Any]:
    response = await http.post("/sessions", json={"title": title, "agenda": [{"title": "Ideas"}]}, headers=bearer(fac))
    response.raise_for_status()
    sid = response.json()["id"]
    response = await http.post(f"/sessions/{sid}/start", headers=bearer(fac))
    response.raise_for_status()
    return dict(response.json())


async def join_many(http: httpx.AsyncClient, code: str, count: int, parallel: int = 16) -> list[dict[str, Any]]:
    """Join `count` participants (each a database write), `parallel` at a time."""
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> dict[str, Any]:
        async with gate:
            payload = {"join_code": code, "display_name": f"P{i}", "consent": "anonymous"}
            # Phones on mobile data come from addresses of their own (the server trusts 127.0.0.1
            # as its proxy); a hall on one venue address is bounded by the join rate limit.
            forwarded = {"X-Forwarded-For": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
            response = await http.post("/join", json=payload, headers=forwarded)
            response.raise_for_status()
            return dict(response.json())

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def event_log(http: httpx.AsyncClient, token: str, session_id: int) -> tuple[list[dict[str, Any]], int]:
    """Every event of a session (paged) and its last_seq."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await http.get(
            f"/sessions/{session_id}/events", params={"after": after, "limit": 5000}, headers=bearer(token)
        )
        response.raise_for_status()
        page = response.json()
        found += page["events"]
        if not page["events"]:
            return found, int(page["last_seq"])
        after = page["events"][-1]["seq"]


def fresh_email(role: str = "facilitator") -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.org"


# --- numbers -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least p% of the values at or below it.
    k = min(len(sorted_values), max(1, math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[k - 1]


def table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'metric'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    return "\n".join(lines)


def environment_note() -> str:
    load = os.getloadavg()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )
