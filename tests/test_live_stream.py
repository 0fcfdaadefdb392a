"""The JSON API and the live event stream against the real `labs serve`, with real clients:
httpx for HTTP and the `websockets` library for the stream. Covers the documented contract,
resume after a disconnect, concurrent posters, a SIGKILL of the server, several server processes
on one database and one channel backend (Redis; PostgreSQL LISTEN/NOTIFY), bad input and access."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import POSTGRES_URL, REDIS_URL, ROOT, LiveServer, pg_dsn

TIMEOUT = 20
AGENDA = [{"title": "Ideas", "prompt": "What would help?"}, {"title": "Next steps", "minutes": 5}]
NOTE_FIELDS = {"id", "client_id", "body", "kind", "activity_id", "participant_id"}
EVENT_KEYS = {"seq", "type", "at", "data"}


# --- helpers: HTTP -------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_for(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url + "/api/v1", timeout=TIMEOUT)


async def create_session(http: httpx.AsyncClient, fac: str, *, start: bool = True) -> dict[str, Any]:
    payload = {"title": "Live test", "agenda": AGENDA}
    response = await http.post("/sessions", json=payload, headers=bearer(fac))
    assert response.status_code == 201, response.text
    session = response.json()
    if start:
        response = await http.post(f"/sessions/{session['id']}/start", headers=bearer(fac))
        assert response.status_code == 200, response.text
        session = response.json()
    return session


async def join(http: httpx.AsyncClient, code: str, name: str = "Participant") -> dict[str, Any]:
    response = await try_join(http, code, name, "anonymous")
    assert response.status_code == 201, response.text
    return response.json()


async def try_join(http: httpx.AsyncClient, code: str, name: str, consent: str = "none") -> httpx.Response:
    return await http.post("/join", json={"join_code": code, "display_name": name, "consent": consent})


async def join_many(http: httpx.AsyncClient, code: str, count: int) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(join(http, code, f"P{i}") for i in range(count))))


async def post_note(
    http: httpx.AsyncClient,
    token: str,
    session_id: int,
    body: str = "An idea",
    client_id: str | None = None,
    **extra: Any,
) -> httpx.Response:
    payload = {"client_id": client_id or uuid.uuid4().hex, "body": body, **extra}
    return await http.post(f"/sessions/{session_id}/notes", json=payload, headers=bearer(token))


async def note(
    http: httpx.AsyncClient, token: str, session_id: int, body: str = "An idea", **extra: Any
) -> dict[str, Any]:
    response = await post_note(http, token, session_id, body, **extra)
    assert response.status_code == 201, response.text
    return response.json()


async def event_log(http: httpx.AsyncClient, token: str, session_id: int, after: int = 0) -> dict[str, Any]:
    url = f"/sessions/{session_id}/events"
    response = await http.get(url, params={"after": after}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


async def last_seq(http: httpx.AsyncClient, token: str, session_id: int) -> int:
    return int((await event_log(http, token, session_id))["last_seq"])


async def wall(http: httpx.AsyncClient, fac: str, session_id: int) -> list[dict[str, Any]]:
    response = await http.get(f"/sessions/{session_id}/notes", headers=bearer(fac))
    assert response.status_code == 200, response.text
    return response.json()


# --- helpers: the stream -------------------------------------------------------------------


def open_stream(server: LiveServer, token: str, session_id: int, after: int = 0, **kw: Any) -> Any:
    url = f"{server.ws_url}/api/v1/sessions/{session_id}/stream?after={after}"
    return connect(url, additional_headers=bearer(token), open_timeout=TIMEOUT, **kw)


async def frame(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def read_through(ws: ClientConnection, after: int, through: int) -> list[dict[str, Any]]:
    """Event frames after `after` up to and including seq `through`."""
    frames: list[dict[str, Any]] = []
    while (frames[-1]["seq"] if frames else after) < through:
        item = await frame(ws)
        assert set(item) == EVENT_KEYS, item
        frames.append(item)
    return frames


async def assert_quiet(ws: ClientConnection, seconds: float = 0.3) -> None:
    """Nothing more arrives (no duplicates after the expected frames)."""
    with pytest.raises(TimeoutError):
        extra = await asyncio.wait_for(ws.recv(), seconds)
        pytest.fail(f"unexpected frame {extra!r}")


def assert_gapless(frames: list[dict[str, Any]], after: int) -> None:
    assert [f["seq"] for f in frames] == list(range(after + 1, after + 1 + len(frames)))


def body_for(participant: dict[str, Any], i: int) -> str:
    """Note i of a participant; every first one is too large for a channel message (over 7,000
    bytes as JSON), so only its seq rings and listeners fetch it from the database."""
    return "é" * 2000 if i == 0 else f"{participant['participant_id']}/{i}"


def assert_all_created(responses: list[httpx.Response]) -> None:
    assert {r.status_code for r in responses} == {201}, {r.text for r in responses if r.status_code != 201}


def note_ids(frames: list[dict[str, Any]]) -> list[int]:
    return [f["data"]["id"] for f in frames if f["type"] == "note.added"]


async def ping(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await frame(ws) == {"type": "pong"}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that don't restart or share it (each makes its own session)."""
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def facs(server: LiveServer) -> tuple[str, str]:
    """Bearer tokens of two facilitators, each running their own sessions."""
    return server.create_user("fac1@example.org"), server.create_user("fac2@example.org")


@pytest.fixture
def fac(facs: tuple[str, str]) -> str:
    return facs[0]


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(server) as client:
        yield client


# --- 1. the API flow -----------------------------------------------------------------------


async def test_api_flow_and_idempotent_post(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac, start=False)
    assert {"id", "join_code", "status", "activities"} <= set(session)
    assert session["status"] == "draft" and session["join_code"]
    first, second = (a["id"] for a in session["activities"])
    sid = session["id"]

    started = (await http.post(f"/sessions/{sid}/start", headers=bearer(fac))).json()
    assert started["status"] == "live" and started["current_activity_id"] == first
    response = await http.post(f"/sessions/{sid}/activities/{second}/activate", headers=bearer(fac))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == sid and response.json()["current_activity_id"] == second

    joined = await join(http, session["join_code"].lower(), "Ada")
    # Outside a community there is no member and no device token to keep.
    assert set(joined) == {"session_id", "participant_id", "token", "member_id", "device_token"}
    assert joined["session_id"] == sid and joined["member_id"] is None and joined["device_token"] is None

    client_id = uuid.uuid4().hex
    response = await post_note(http, joined["token"], sid, "Shade on the square", client_id)
    assert response.status_code == 201, response.text
    posted = response.json()
    assert set(posted) >= {*NOTE_FIELDS, "seq", "author"}
    assert (posted["client_id"], posted["body"], posted["kind"]) == (client_id, "Shade on the square", "idea")
    assert (posted["activity_id"], posted["participant_id"]) == (second, joined["participant_id"])
    assert posted["author"] == "Ada"
    assert await last_seq(http, fac, sid) == posted["seq"]

    # The same client_id again (a retry, even with another body): the first note, nothing new.
    again = await post_note(http, joined["token"], sid, "Something else", client_id)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == posted["id"] and again.json()["body"] == "Shade on the square"
    assert await last_seq(http, fac, sid) == posted["seq"]
    assert [n["id"] for n in await wall(http, fac, sid)] == [posted["id"]]

    log = await event_log(http, fac, sid, after=posted["seq"] - 1)
    assert set(log) == {"events", "last_seq"} and log["last_seq"] == posted["seq"]
    [event] = log["events"]
    assert set(event) == EVENT_KEYS and event["seq"] == posted["seq"] and event["type"] == "note.added"
    assert datetime.fromisoformat(event["at"]).tzinfo is not None
    assert event["data"]["id"] == posted["id"] and set(event["data"]) >= NOTE_FIELDS
    assert (await event_log(http, fac, sid, after=posted["seq"]))["events"] == []
    everything = (await event_log(http, joined["token"], sid))["events"]  # participants read the log too
    assert [e["seq"] for e in everything] == list(range(1, posted["seq"] + 1))
    limited = await http.get(f"/sessions/{sid}/events", params={"after": 0, "limit": 2}, headers=bearer(fac))
    assert [e["seq"] for e in limited.json()["events"]] == [1, 2]


# --- 2. the stream: order, content, resume -------------------------------------------------


async def test_stream_delivers_everything_in_order_and_resumes(
    server: LiveServer, http: httpx.AsyncClient, fac: str
) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    p = await join(http, session["join_code"], "Bo")
    before = [await note(http, p["token"], sid, f"before {i}", kind="question") for i in range(3)]

    async with open_stream(server, fac, sid, after=0) as ws:
        seen = await read_through(ws, 0, await last_seq(http, fac, sid))
        assert_gapless(seen, 0)
        assert seen[0]["type"] == "session.created"
        assert note_ids(seen) == [n["id"] for n in before]
        data = next(f["data"] for f in seen if f["type"] == "note.added")
        assert set(data) >= NOTE_FIELDS
        assert (data["id"], data["client_id"]) == (before[0]["id"], before[0]["client_id"])
        assert (data["body"], data["kind"]) == ("before 0", "question")
        assert data["activity_id"] == session["current_activity_id"]
        assert data["participant_id"] == p["participant_id"]

        live = [await note(http, p["token"], sid, f"live {i}") for i in range(2)]
        more = await read_through(ws, seen[-1]["seq"], live[-1]["seq"])
        assert_gapless(more, seen[-1]["seq"])
        assert note_ids(more) == [n["id"] for n in live]
        last_seen = more[-1]["seq"]

    missed = [await note(http, p["token"], sid, f"missed {i}") for i in range(4)]
    async with open_stream(server, fac, sid, after=last_seen) as ws:
        caught_up = await read_through(ws, last_seen, missed[-1]["seq"])
        assert_gapless(caught_up, last_seen)
        assert note_ids(caught_up) == [n["id"] for n in missed]
        latest = await note(http, p["token"], sid, "after the catch-up")
        [only] = await read_through(ws, caught_up[-1]["seq"], latest["seq"])
        assert only["seq"] == latest["seq"] and only["data"]["id"] == latest["id"]
        await assert_quiet(ws)


# --- 3. many posters, two listeners --------------------------------------------------------


async def test_concurrent_posters_reach_both_listeners_gapless(
    server: LiveServer, http: httpx.AsyncClient, fac: str
) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    people = await join_many(http, session["join_code"], 20)
    start = await last_seq(http, fac, sid)

    async with (
        open_stream(server, fac, sid, after=start) as ws1,
        open_stream(server, people[0]["token"], sid, after=start) as ws2,
    ):
        await ping(ws1)  # both sockets are subscribed before the storm starts
        await ping(ws2)
        responses = await asyncio.gather(
            *(post_note(http, p["token"], sid, body_for(p, i)) for p in people for i in range(10))
        )
        assert_all_created(responses)
        posted = {r.json()["id"] for r in responses}
        end = await last_seq(http, fac, sid)
        assert end == start + 200
        facilitator_view, participant_view = await asyncio.gather(
            read_through(ws1, start, end), read_through(ws2, start, end)
        )
        await assert_quiet(ws1)
        await assert_quiet(ws2)

    for frames in (facilitator_view, participant_view):
        assert_gapless(frames, start)
        assert set(note_ids(frames)) == posted and len(note_ids(frames)) == 200
        assert sorted(f["data"]["body"] for f in frames) == sorted(r.json()["body"] for r in responses)
    assert (await event_log(http, fac, sid, after=start))["events"] == facilitator_view
    assert sorted(r.json()["seq"] for r in responses) == list(range(start + 1, end + 1))


async def read_batches_through(ws: ClientConnection, after: int, through: int) -> list[list[dict[str, Any]]]:
    """Frames of a batch=1 stream after `after` up to seq `through`: each {"events": [...]}."""
    frames: list[list[dict[str, Any]]] = []
    while (frames[-1][-1]["seq"] if frames else after) < through:
        item = await frame(ws)
        assert set(item) == {"events"} and item["events"], item
        assert all(set(e) == EVENT_KEYS for e in item["events"])
        frames.append(item["events"])
    return frames


async def test_batched_stream_carries_several_events_per_frame_gapless(
    server: LiveServer, http: httpx.AsyncClient, fac: str
) -> None:
    """?batch=1: a burst arrives in fewer frames than events, in order, each event once; a
    catch-up comes in frames of up to 100; clients without batch=1 still get one event a frame."""
    session = await create_session(http, fac)
    sid = session["id"]
    people = await join_many(http, session["join_code"], 12)
    start = await last_seq(http, fac, sid)
    url = f"{server.ws_url}/api/v1/sessions/{sid}/stream?batch=1&after={start}"
    async with (
        connect(url, additional_headers=bearer(fac), open_timeout=TIMEOUT) as batched,
        open_stream(server, fac, sid, after=start) as single,
    ):
        await ping(batched)
        await ping(single)
        responses = await asyncio.gather(
            *(post_note(http, p["token"], sid, f"{p['participant_id']}/{i}") for p in people for i in range(10))
        )
        assert_all_created(responses)
        end = await last_seq(http, fac, sid)
        frames, singles = await asyncio.gather(
            read_batches_through(batched, start, end), read_through(single, start, end)
        )
        await assert_quiet(batched)
        await assert_quiet(single)
    flat = [e for f in frames for e in f]
    assert_gapless(flat, start)
    assert flat == singles == (await event_log(http, fac, sid, after=start))["events"]
    assert len(frames) < len(flat), "a burst of 120 notes should share frames"
    # Catching up: the whole backlog in frames of at most 100 events.
    async with connect(
        f"{server.ws_url}/api/v1/sessions/{sid}/stream?batch=1&after=0",
        additional_headers=bearer(fac),
        open_timeout=TIMEOUT,
    ) as late:
        caught = await read_batches_through(late, 0, end)
        await assert_quiet(late)
    assert [len(f) for f in caught] == [100] * (end // 100) + ([end % 100] if end % 100 else [])
    assert_gapless([e for f in caught for e in f], 0)
    # The OpenAPI description says so too.
    schema = (await http.get(server.base_url + "/api/docs/openapi.json")).json()
    assert "?batch=1" in schema["info"]["description"] and '{"events": [...]}' in schema["info"]["description"]


async def test_phones_far_behind_start_over_from_one_page_then_go_live(
    server: LiveServer, http: httpx.AsyncClient, fac: str
) -> None:
    """Phones more than 300 events behind (a long Wi-Fi drop) get the whole wall in one frame, the
    same for every phone of that view and language, and then live events one batch at a time;
    a phone a few events behind replays them from the room's memory."""
    session = await create_session(http, fac)
    sid = session["id"]
    phones = [await join(http, session["join_code"], f"Phone {i}") for i in range(3)]
    await asyncio.gather(*(note(http, fac, sid, f"backlog {i}") for i in range(305)))
    end = await last_seq(http, fac, sid)

    def phone(p: dict[str, Any], after: int) -> Any:
        url = f"{server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after={after}"
        return connect(url, additional_headers={"Cookie": f"labs_p{sid}={p['token']}"}, open_timeout=TIMEOUT)

    async with phone(phones[0], 0) as first, phone(phones[1], 0) as second, phone(phones[2], end - 3) as near:
        pages = [await asyncio.wait_for(ws.recv(), TIMEOUT) for ws in (first, second)]
        assert pages[0] == pages[1], "one rendering of the page serves every phone of the view"
        assert "hx-swap-oob" in pages[0] and "backlog " in pages[0]
        replay = await asyncio.wait_for(near.recv(), TIMEOUT)
        assert "backlog " in replay and len(replay) < len(pages[0]), "three events, not the whole page"
        await note(http, fac, sid, "after the drop")
        for ws in (first, second, near):
            live_frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert "after the drop" in live_frame


async def test_retry_storm_creates_one_note(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    p = await join(http, session["join_code"])
    start = await last_seq(http, fac, sid)
    client_id = uuid.uuid4().hex
    responses = await asyncio.gather(*(post_note(http, p["token"], sid, "once", client_id) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await last_seq(http, fac, sid) == start + 1
    assert [n["client_id"] for n in await wall(http, fac, sid)] == [client_id]


# --- 4. SIGKILL ----------------------------------------------------------------------------


async def test_sigkill_keeps_acknowledged_notes_and_stream_resumes(live_server: LiveServer) -> None:
    server = live_server
    fac = server.create_user("killfac@example.org")
    acked: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    async with client_for(server) as http:
        session = await create_session(http, fac)
        sid = session["id"]
        people = await join_many(http, session["join_code"], 3)

        async def listen() -> None:
            try:
                async with open_stream(server, fac, sid, after=0) as ws:
                    async for raw in ws:
                        seen.append(json.loads(raw))
            except (ConnectionClosed, OSError):
                pass

        async def keep_posting(token: str) -> None:
            for i in range(15):  # under the per-participant burst limit
                try:
                    response = await post_note(http, token, sid, f"note {i}")
                except httpx.TransportError:
                    return  # the server died under this request: not acknowledged
                assert response.status_code == 201, response.text
                acked.append(response.json())

        listener = asyncio.create_task(listen())
        posters = [asyncio.create_task(keep_posting(p["token"])) for p in people]
        async with asyncio.timeout(TIMEOUT):
            while len(acked) < 12:
                await asyncio.sleep(0.01)
        server.kill()  # SIGKILL while notes are still being posted and streamed
        await asyncio.gather(*posters)
        await asyncio.wait_for(listener, TIMEOUT)

    assert 12 <= len(acked) < 45 and seen, "the kill came too late to be mid-stream"
    assert_gapless(seen, 0)
    server.start()
    async with client_for(server) as http:
        stored = await wall(http, fac, sid)
        assert {n["id"] for n in acked} <= {n["id"] for n in stored}
        end = await last_seq(http, fac, sid)
        async with open_stream(server, fac, sid, after=seen[-1]["seq"]) as ws:
            rest = await read_through(ws, seen[-1]["seq"], end)
            assert_gapless(rest, seen[-1]["seq"])
            assert sorted(note_ids(seen + rest)) == sorted(n["id"] for n in stored)
            fresh = await note(http, people[0]["token"], sid, "after the restart")
            [only] = await read_through(ws, end, fresh["seq"])
            assert only["data"]["id"] == fresh["id"]
            await assert_quiet(ws)
        log = (await event_log(http, fac, sid))["events"]
        assert [e["seq"] for e in log] == list(range(1, fresh["seq"] + 1))


# --- 5. several server processes, one database, one channel backend ------------------------


@asynccontextmanager
async def server_pair(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    a = LiveServer(tmp_path / "a", env=env)
    b = LiveServer(tmp_path / "b", env=env)
    try:
        for server in (a, b):
            server.data_dir.mkdir()
            server.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


async def assert_cross_server_delivery(a: LiveServer, b: LiveServer) -> None:
    """Participants post on A and on B at once; a listener on each server hears everything."""
    fac = a.create_user(f"fac-{uuid.uuid4().hex[:6]}@example.org")
    async with client_for(a) as http_a, client_for(b) as http_b:
        session = await create_session(http_a, fac)
        sid = session["id"]
        on_a = await join_many(http_a, session["join_code"], 5)
        on_b = await join_many(http_b, session["join_code"], 5)
        start = await last_seq(http_b, fac, sid)
        async with open_stream(a, fac, sid, after=start) as ws_a, open_stream(b, fac, sid, after=start) as ws_b:
            await ping(ws_a)
            await ping(ws_b)
            responses = await asyncio.gather(
                *(
                    post_note(http, p["token"], sid, body_for(p, i))
                    for http, people in ((http_a, on_a), (http_b, on_b))
                    for p in people
                    for i in range(10)
                )
            )
            assert_all_created(responses)
            end = await last_seq(http_a, fac, sid)
            assert end == start + 100
            heard_a, heard_b = await asyncio.gather(read_through(ws_a, start, end), read_through(ws_b, start, end))
            await assert_quiet(ws_a)
            await assert_quiet(ws_b)
    for heard in (heard_a, heard_b):
        assert_gapless(heard, start)
        assert set(note_ids(heard)) == {r.json()["id"] for r in responses}
        assert sorted(f["data"]["body"] for f in heard) == sorted(r.json()["body"] for r in responses)
    assert heard_a == heard_b


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="LABS_TEST_REDIS_URL is unset")
async def test_two_servers_sqlite_and_redis(tmp_path: Path) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        assert await redis.ping()  # set but unreachable: fail here, clearly
    finally:
        await redis.aclose()
    shared_db = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    env = {"LABS_DATABASE_URL": shared_db, "LABS_CHANNELS_URL": REDIS_URL, "LABS_CHANNELS_PREFIX": uuid.uuid4().hex}
    # Another deployment on the same Redis, with its own database (its first session is also
    # session 1) and its own prefix: it hears nothing of the pair's session.
    other = LiveServer(
        tmp_path / "other", env={"LABS_CHANNELS_URL": REDIS_URL, "LABS_CHANNELS_PREFIX": uuid.uuid4().hex}
    )
    other.data_dir.mkdir()
    other.start()
    try:
        fac = other.create_user("other@example.org")
        async with client_for(other) as http:
            theirs = await create_session(http, fac)
            async with open_stream(other, fac, theirs["id"], after=await last_seq(http, fac, theirs["id"])) as ws:
                await ping(ws)
                async with server_pair(tmp_path, env) as (a, b):
                    await assert_cross_server_delivery(a, b)
                await assert_quiet(ws, 1.0)
    finally:
        other.stop()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="LABS_TEST_POSTGRES_URL is unset")
async def test_two_servers_postgres_listen_notify(tmp_path: Path) -> None:
    name = f"labs_live_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = pg_dsn(name)
        env = {"LABS_DATABASE_URL": url, "LABS_CHANNELS_URL": url}
        migrated = subprocess.run(
            [sys.executable, "-m", "labs", "db", "upgrade"],
            env={**LiveServer(tmp_path).env, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        async with server_pair(tmp_path, env) as (a, b):
            await assert_cross_server_delivery(a, b)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --- 6. bad input ----------------------------------------------------------------------------


async def test_overlong_note_is_refused_and_not_written(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    p = await join(http, session["join_code"])
    start = await last_seq(http, fac, sid)
    response = await post_note(http, p["token"], sid, "x" * 2001)
    assert response.status_code == 400 and "2000" in response.json()["detail"], response.text
    assert await last_seq(http, fac, sid) == start and await wall(http, fac, sid) == []
    assert (await post_note(http, p["token"], sid, "x" * 2000)).status_code == 201


async def test_overlong_display_name_is_refused(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    start = await last_seq(http, fac, session["id"])
    response = await try_join(http, session["join_code"], "n" * 61)
    assert response.status_code == 400 and "60" in response.json()["detail"], response.text
    assert await last_seq(http, fac, session["id"]) == start


async def test_malformed_json_body_is_400(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    p = await join(http, session["join_code"])
    headers = {**bearer(p["token"]), "content-type": "application/json"}
    broken = b'{"client_id": "a", "body": '
    response = await http.post(f"/sessions/{session['id']}/notes", content=broken, headers=headers)
    assert response.status_code == 400 and response.json()["detail"], response.text
    response = await http.post("/join", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert await wall(http, fac, session["id"]) == []


async def test_ws_oversized_message_is_refused(server: LiveServer, http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    start = await last_seq(http, fac, sid)
    async with open_stream(server, fac, sid, after=start) as ws:
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (65 * 1024)}))
        try:
            reply = await frame(ws)
        except ConnectionClosed:
            reply = None  # closed (1009, message too big): as good as an error frame
        if reply is not None:
            assert reply["type"] == "error", reply
    assert await last_seq(http, fac, sid) == start
    async with open_stream(server, fac, sid, after=start) as ws:  # the server is fine afterwards
        await ping(ws)


async def test_ws_bad_messages_get_error_frames_and_the_socket_survives(
    server: LiveServer, http: httpx.AsyncClient, fac: str
) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    end = await last_seq(http, fac, sid)
    async with open_stream(server, fac, sid) as ws:
        first = await read_through(ws, 0, end)
        bad_messages = (
            "{not json",
            '{"type": "dance"}',
            "[1, 2]",
            '{"type": "resync"}',
            '{"type": "resync", "after": -1}',
        )
        for bad in bad_messages:
            await ws.send(bad)
            reply = await frame(ws)
            assert reply["type"] == "error" and reply["error"], (bad, reply)
        await ping(ws)
        await ws.send(json.dumps({"type": "resync", "after": 0}))  # "I lost everything": sent again
        assert await read_through(ws, 0, end) == first
        await assert_quiet(ws)


# --- 6. access -------------------------------------------------------------------------------


async def assert_stream_refused(server: LiveServer, token: str, session_id: int, **kw: Any) -> None:
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with open_stream(server, token, session_id, **kw) as ws:
            await frame(ws, timeout=5)


async def test_foreign_origin_websocket_is_refused(server: LiveServer, http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    await assert_stream_refused(server, fac, session["id"], origin="http://evil.example")
    async with open_stream(server, fac, session["id"], origin=server.base_url) as ws:  # same origin: fine
        assert (await frame(ws))["seq"] == 1


async def test_participant_is_confined_to_their_session(server: LiveServer, http: httpx.AsyncClient, fac: str) -> None:
    mine = await create_session(http, fac)
    other = await create_session(http, fac)
    p = await join(http, mine["join_code"])
    sid = other["id"]
    start = await last_seq(http, fac, sid)
    for path in (f"/sessions/{sid}", f"/sessions/{sid}/events", f"/sessions/{sid}/notes"):
        assert (await http.get(path, headers=bearer(p["token"]))).status_code == 404, path
        assert (await http.get(path)).status_code in (401, 404), path  # no token at all
    assert (await post_note(http, p["token"], sid, "intruding")).status_code == 404
    await assert_stream_refused(server, p["token"], sid)
    await assert_stream_refused(server, "lpt_not-a-real-token", sid)
    assert await last_seq(http, fac, sid) == start and await wall(http, fac, sid) == []


async def test_facilitator_cannot_see_another_facilitators_session(
    server: LiveServer, http: httpx.AsyncClient, facs: tuple[str, str]
) -> None:
    owner, stranger = facs
    session = await create_session(http, owner)
    sid = session["id"]
    p = await join(http, session["join_code"])
    existing = await note(http, p["token"], sid, "private thought")
    start = await last_seq(http, owner, sid)
    for path in (f"/sessions/{sid}", f"/sessions/{sid}/events", f"/sessions/{sid}/notes"):
        assert (await http.get(path, headers=bearer(stranger))).status_code == 404, path
    assert sid not in [s["id"] for s in (await http.get("/sessions", headers=bearer(stranger))).json()]
    assert (await http.post(f"/sessions/{sid}/start", headers=bearer(stranger))).status_code == 404
    assert (await post_note(http, stranger, sid, "intruding")).status_code == 404
    # Replaying a known client_id must not hand out someone else's note either.
    replay = await post_note(http, stranger, sid, "x", existing["client_id"])
    assert replay.status_code == 404, replay.text
    await assert_stream_refused(server, stranger, sid)
    assert await last_seq(http, owner, sid) == start


async def test_author_comes_from_the_token(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    ada = await join(http, session["join_code"], "Ada")
    bo = await join(http, session["join_code"], "Bo")
    posted = await note(http, ada["token"], session["id"], "mine", participant_id=bo["participant_id"])
    assert (posted["participant_id"], posted["author"]) == (ada["participant_id"], "Ada")
    [stored] = await wall(http, fac, session["id"])
    assert stored["participant_id"] == ada["participant_id"]


async def test_html_in_a_note_comes_back_verbatim(server: LiveServer, http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    p = await join(http, session["join_code"])
    body = "<script>alert(\"x\")</script> & <b>bold</b> &amp; 'quoted'"
    posted = await note(http, p["token"], sid, body)
    assert posted["body"] == body
    assert [n["body"] for n in await wall(http, fac, sid)] == [body]
    async with open_stream(server, fac, sid, after=posted["seq"] - 1) as ws:
        assert (await frame(ws))["data"]["body"] == body


async def test_posting_rate_limit_is_per_participant(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    sid = session["id"]
    fast = await join(http, session["join_code"], "Fast")
    calm = await join(http, session["join_code"], "Calm")
    statuses = [(await post_note(http, fast["token"], sid, f"burst {i}")).status_code for i in range(30)]
    assert 429 in statuses and set(statuses) == {201, 429}, statuses
    limited = await post_note(http, fast["token"], sid, "one more")
    assert limited.status_code == 429 and limited.json()["detail"], limited.text
    assert (await post_note(http, calm["token"], sid, "still welcome")).status_code == 201  # same IP
    assert len(await wall(http, fac, sid)) == statuses.count(201) + 1


# --- 7. joining ------------------------------------------------------------------------------


async def test_join_with_a_wrong_code_is_404(http: httpx.AsyncClient) -> None:
    response = await try_join(http, "ZZZZ-9999", "Eve")
    assert response.status_code == 404, response.text
    assert "no session with this code" in response.json()["detail"]


async def test_join_a_closed_session_is_410(http: httpx.AsyncClient, fac: str) -> None:
    session = await create_session(http, fac)
    assert (await http.post(f"/sessions/{session['id']}/close", headers=bearer(fac))).status_code == 200
    response = await try_join(http, session["join_code"], "Late")
    assert response.status_code == 410 and "closed" in response.json()["detail"], response.text


async def test_guessing_join_codes_is_rate_limited(live_server: LiveServer) -> None:
    fac = live_server.create_user("guardfac@example.org")  # own server: a fresh failed-join bucket
    async with client_for(live_server) as http:
        session = await create_session(http, fac)
        statuses = []
        for i in range(15):
            statuses.append((await try_join(http, f"WRNG{i:04d}", "Eve")).status_code)
        assert statuses[0] == 404 and statuses[-1] == 429 and set(statuses) == {404, 429}, statuses
        await join(http, session["join_code"])  # a real code from the same venue IP still works
