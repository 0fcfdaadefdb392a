"""Faults at conference scale, against real servers: two `labs serve` workers sharing one
database and one Redis (a Redis of their own, on a free port, so it can be killed and restarted
without touching anyone else's), and PostgreSQL dropping every connection of the database. The
workers reconnect, clients resume gapless, no acknowledged note is lost; rate limits and the
participant-token memory hold across the workers."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labs.testing import LiveServer, free_port
from tests.conftest import POSTGRES_URL, pg_admin, pg_dsn
from tests.test_live_stream import (
    TIMEOUT,
    assert_gapless,
    bearer,
    create_session,
    event_log,
    join,
    join_many,
    last_seq,
    open_stream,
    ping,
    post_note,
    read_through,
)

REDIS_SERVER = shutil.which("redis-server")


class OwnRedis:
    """A redis-server of the test's own (no persistence), which may be killed and started again."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if REDIS_SERVER is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is needed for the fault tests")
        pytest.skip("no redis-server")
    own = OwnRedis(tmp_path)
    own.start()
    try:
        yield own
    finally:
        own.kill()


@pytest.fixture
def two_workers(tmp_path: Path, redis: OwnRedis) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two workers on one SQLite database and one Redis."""
    first = LiveServer(
        tmp_path / "a",
        env={"LABS_CHANNELS_URL": redis.url, "LABS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'labs.db'}"},
    )
    first.start()
    second = LiveServer(tmp_path / "b", env=first.env | {"LABS_DATA_DIR": str(tmp_path / "b")})
    second.start()
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


async def test_rate_limits_and_token_memory_hold_across_workers(two_workers: tuple[LiveServer, LiveServer]) -> None:
    a, b = two_workers
    fac = a.create_user("fac@example.org")
    async with (
        httpx.AsyncClient(base_url=a.base_url + "/api/v1", timeout=TIMEOUT) as on_a,
        httpx.AsyncClient(base_url=b.base_url + "/api/v1", timeout=TIMEOUT) as on_b,
    ):
        session = await create_session(on_a, fac)
        sid = session["id"]
        p = await join(on_a, session["join_code"], "Noor")
        # One participant, alternating workers: one bucket of 20, not 20 per worker.
        codes = [(await post_note(on_a if i % 2 else on_b, p["token"], sid, f"n{i}")).status_code for i in range(26)]
        assert codes.count(201) == 20 and codes.count(429) == 6, codes
        # Worker A remembers who is behind the token; the consent changed on worker B shows on A at once.
        cookie = {f"labs_p{sid}": p["token"]}
        page = await on_a.get(f"{a.base_url}/p/{sid}", cookies=cookie)
        assert 'value="anonymous" required checked' in page.text
        changed = await on_b.put(f"/sessions/{sid}/consent", json={"consent": "named"}, headers=bearer(p["token"]))
        assert changed.status_code == 200, changed.text
        page = await on_a.get(f"{a.base_url}/p/{sid}", cookies=cookie)
        assert 'value="named" required checked' in page.text


async def test_redis_restart_during_a_session(two_workers: tuple[LiveServer, LiveServer], redis: OwnRedis) -> None:
    """Redis goes away and comes back while notes are posted on both workers: every post is
    acknowledged, the clients of both workers end up with every event, in order, once."""
    a, b = two_workers
    fac = a.create_user("fac@example.org")
    async with (
        httpx.AsyncClient(base_url=a.base_url + "/api/v1", timeout=TIMEOUT) as on_a,
        httpx.AsyncClient(base_url=b.base_url + "/api/v1", timeout=TIMEOUT) as on_b,
    ):
        session = await create_session(on_a, fac)
        sid = session["id"]
        people = await join_many(on_a, session["join_code"], 6)
        start = await last_seq(on_a, fac, sid)
        async with open_stream(a, fac, sid, after=start) as ws_a, open_stream(b, fac, sid, after=start) as ws_b:
            await ping(ws_a)
            await ping(ws_b)

            async def burst(label: str) -> list[httpx.Response]:
                return list(
                    await asyncio.gather(
                        *(
                            post_note(on_a if i % 2 else on_b, p["token"], sid, f"{label} {i}")
                            for i, p in enumerate(people)
                            for _ in range(2)
                        )
                    )
                )

            acked = await burst("before")
            redis.kill()
            acked += await burst("without Redis")
            redis.start()
            await asyncio.sleep(1)
            acked += await burst("after")
            assert {r.status_code for r in acked} == {201}, [r.text for r in acked if r.status_code != 201]
            end = await last_seq(on_a, fac, sid)
            assert end == start + len(acked)
            seen_a, seen_b = await asyncio.gather(read_through(ws_a, start, end), read_through(ws_b, start, end))
    for seen in (seen_a, seen_b):
        assert_gapless(seen, start)
        assert {e["data"]["client_id"] for e in seen} == {r.json()["client_id"] for r in acked}


@pytest.mark.skipif(not POSTGRES_URL, reason="LABS_TEST_POSTGRES_URL is unset")
async def test_postgres_drops_every_connection_during_a_session(tmp_path: Path) -> None:
    """What a PostgreSQL restart does to a worker: every connection it holds is cut. The next
    requests reconnect; the live stream goes on; every acknowledged note is in the log once."""
    name = f"labs_fault_{uuid.uuid4().hex[:10]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    url = pg_dsn(name)
    server = LiveServer(tmp_path, env={"LABS_DATABASE_URL": url, "LABS_CHANNELS_URL": url})
    try:
        server.labs("db", "upgrade")
        server.start()
        fac = server.create_user("fac@example.org")
        async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=TIMEOUT) as http:
            session = await create_session(http, fac)
            sid = session["id"]
            people = await join_many(http, session["join_code"], 4)
            start = await last_seq(http, fac, sid)
            acked: list[dict[str, Any]] = []
            async with open_stream(server, fac, sid, after=start) as ws:
                await ping(ws)
                for round_ in range(3):
                    for p in people:
                        client_id = uuid.uuid4().hex
                        response = await post_note(http, p["token"], sid, f"round {round_}", client_id)
                        if response.status_code != 201:  # a request that met the cut may fail: resend it
                            response = await post_note(http, p["token"], sid, f"round {round_}", client_id)
                        assert response.status_code in (200, 201), response.text
                        acked.append(response.json())
                    await pg_admin(
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                        " AND pid <> pg_backend_pid()"
                    )
                end = await last_seq(http, fac, sid)
                seen = await read_through(ws, start, end)
            assert_gapless(seen, start)
            log = (await event_log(http, fac, sid, after=start))["events"]
            assert [e["data"]["client_id"] for e in log] == [n["client_id"] for n in acked]
    finally:
        server.stop()
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
