"""Group commit of note posts: concurrent posts share transactions, each is answered after the
commit that holds it, seqs stay gapless, a client_id is written once within a group and across
groups, and a post that fails (bad input, rate limit, closed session) fails alone. On SQLite and,
with LABS_TEST_POSTGRES_URL, on PostgreSQL.

Through the service (`notes.post`, what every route calls): the test client runs one request at
a time, and the grouping only shows with posts that are really concurrent. The real server under
concurrent HTTP posters is covered in test_live_stream.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from labs.errors import Conflict, Invalid, RateLimited
from labs.services import notes, participants, sessions
from tests.conftest import make_account

AGENDA = [{"title": "Ideas", "prompt": "What would help?"}]


async def _live(rt: Any, facilitator: Any, title: str = "Lab") -> Any:
    created = await sessions.create(rt, facilitator, {"title": title, "agenda": AGENDA})
    return await sessions.start(rt, facilitator, created.id)


async def _join(rt: Any, code: str, name: str) -> Any:
    return (await participants.join(rt, code, {"display_name": name, "consent": "none"}, name)).participant


async def _log(rt: Any, facilitator: Any, sid: int) -> list[dict[str, Any]]:
    from labs import events

    async with rt.db.read() as db:
        return [events.wire(e) for e in await events.since(db, events.Stream.session(sid), 0)]


async def test_concurrent_posts_share_commits_and_fail_alone(rt: Any) -> None:
    facilitator = await make_account(rt)
    session = await _live(rt, facilitator)
    other = await _live(rt, facilitator, "Other")
    sid = session.id
    people = [await _join(rt, session.join_code, f"P{i}") for i in range(6)]
    stranger = await _join(rt, other.join_code, "Elsewhere")
    await sessions.close(rt, facilitator, other.id)
    earlier, _ = await notes.post(rt, sid, {"client_id": "earlier", "body": "Stored before"}, participant=people[0])
    before = (await sessions.get(rt, sid)).last_seq
    commits = [0]

    def count(_conn: Any) -> None:
        commits[0] += 1

    posts: list[tuple[int, Any, dict[str, Any]]] = [
        (sid, people[i % 6], {"client_id": uuid.uuid4().hex, "body": f"Idea {i}"}) for i in range(60)
    ]
    posts += [(sid, people[3], {"client_id": "twice", "body": "Sent twice at once"})] * 2
    posts += [
        (sid, people[1], {"client_id": "bad-activity", "body": "x", "activity_id": other.current_activity_id}),
        (other.id, stranger, {"client_id": "closed", "body": "To a closed session"}),
        (sid, people[0], {"client_id": "earlier", "body": "A resend"}),
    ]
    event.listen(rt.db.write_engine.sync_engine, "commit", count)
    try:
        answers = await asyncio.gather(
            *(notes.post(rt, s, body, participant=who) for s, who, body in posts), return_exceptions=True
        )
    finally:
        event.remove(rt.db.write_engine.sync_engine, "commit", count)
    ok = [a for a in answers[:60] if not isinstance(a, BaseException)]
    assert len(ok) == 60 and all(seq is not None for _, seq in ok)
    first, second = answers[60], answers[61]
    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[0]["id"] == second[0]["id"] and sorted([first[1] is None, second[1] is None]) == [False, True]
    assert isinstance(answers[62], Invalid)
    assert isinstance(answers[63], Conflict)
    assert isinstance(answers[64], tuple) and answers[64] == (earlier, None)
    # Fewer transactions than posts: they were grouped.
    assert commits[0] < len(posts) / 3, commits[0]
    # Gapless; each acknowledged note once in the log, under the seq it was acknowledged with.
    log = [e for e in await _log(rt, facilitator, sid) if e["seq"] > before]
    assert [e["seq"] for e in log] == list(range(before + 1, before + 62))
    acked = {seq: data for data, seq in [*ok, first, second] if seq is not None}
    assert sorted(acked) == [e["seq"] for e in log]
    for e in log:
        assert e["type"] == "note.added" and e["data"]["client_id"] == acked[e["seq"]]["client_id"]
        assert e["data"]["body"] == acked[e["seq"]]["body"]
    wall = await notes.wall(rt, sid, include_hidden=True)
    assert len(wall) == 62 and len({n["client_id"] for n in wall}) == 62


async def test_rate_limit_in_a_burst_fails_only_the_extra_posts(rt: Any) -> None:
    facilitator = await make_account(rt)
    session = await _live(rt, facilitator)
    fast = await _join(rt, session.join_code, "Fast")
    calm = await _join(rt, session.join_code, "Calm")
    answers = await asyncio.gather(
        *(notes.post(rt, session.id, {"client_id": f"f{i}", "body": "x"}, participant=fast) for i in range(25)),
        *(notes.post(rt, session.id, {"client_id": f"c{i}", "body": "y"}, participant=calm) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(a, RateLimited) for a in answers[:25]) == 5  # the burst is 20
    assert all(isinstance(a, tuple) for a in answers[25:])
    log = await _log(rt, facilitator, session.id)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert sum(e["type"] == "note.added" for e in log) == 25


async def test_a_failed_group_is_split_and_each_post_answered_alone(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the database refuse a whole group (another process wrote one of its client ids
    first), the group is retried in halves down to single posts: only that one fails."""
    facilitator = await make_account(rt)
    session = await _live(rt, facilitator)
    person = await _join(rt, session.join_code, "Ann")
    calls: list[int] = []
    real = notes._commit

    async def flaky(rt_: Any, posts: list[Any]) -> list[Any]:
        calls.append(len(posts))
        if any(p.client_id == "poison" for p in posts) and len(posts) > 1:
            raise RuntimeError("the database refused the group")
        if len(posts) == 1 and posts[0].client_id == "poison":
            raise RuntimeError("the database refused this one")
        return await real(rt_, posts)

    monkeypatch.setattr(notes, "_commit", flaky)
    bodies = [{"client_id": f"n{i}", "body": f"n{i}"} for i in range(7)] + [{"client_id": "poison", "body": "p"}]
    answers = await asyncio.gather(
        *(notes.post(rt, session.id, b, participant=person) for b in bodies), return_exceptions=True
    )
    assert isinstance(answers[-1], RuntimeError)
    assert all(isinstance(a, tuple) and a[1] is not None for a in answers[:-1])
    assert max(calls) > 1  # they were grouped at first
    log = await _log(rt, facilitator, session.id)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert sorted(e["data"]["client_id"] for e in log if e["type"] == "note.added") == [f"n{i}" for i in range(7)]
