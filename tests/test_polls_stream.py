"""Poll answers from many participants at once against the real `labs serve`, watched over the
websocket stream: one answer each (a resend changes nothing), the tally is right, and nobody but
the facilitator learns what anyone answered before the reveal."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer
from tests.test_live_stream import bearer, client_for, create_session, join_many, last_seq, open_stream, read_through

PEOPLE = 40
OPTIONS = ["Solar roofs", "Insulation", "Heat pumps", "Car sharing"]


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("polls")).start()
    try:
        yield live
    finally:
        live.stop()


async def test_many_answer_at_once_hidden_until_reveal(server: LiveServer) -> None:
    fac = server.create_user("fac@example.org")
    async with client_for(server) as http:
        session = await create_session(http, fac)
        sid = session["id"]
        made = await http.post(
            f"/sessions/{sid}/polls",
            json={"kind": "single", "question": "First?", "options": OPTIONS},
            headers=bearer(fac),
        )
        assert made.status_code == 201, made.text
        pid = made.json()["id"]
        opened = await http.post(f"/sessions/{sid}/polls/{pid}/status", json={"action": "open"}, headers=bearer(fac))
        assert opened.status_code == 200
        people = await join_many(http, session["join_code"], PEOPLE)
        start = await last_seq(http, fac, sid)
        async with (
            open_stream(server, fac, sid, after=start) as console,
            open_stream(server, people[0]["token"], sid, after=start) as phone,
        ):
            choice = {p["participant_id"]: i % len(OPTIONS) for i, p in enumerate(people)}
            ids = {p["participant_id"]: uuid.uuid4().hex for p in people}

            async def answer(person: dict[str, object]) -> int:
                pid_ = person["participant_id"]
                body = {"client_id": ids[pid_], "choices": [choice[pid_]]}  # type: ignore[index]
                response = await http.post(
                    f"/sessions/{sid}/polls/{pid}/answers", json=body, headers=bearer(str(person["token"]))
                )
                return response.status_code

            # Everyone at once, and everyone's answer sent twice (a phone retrying on bad Wi-Fi).
            codes = await asyncio.gather(*(answer(p) for p in people + people))
            assert Counter(codes) == {201: PEOPLE, 200: PEOPLE}
            through = await last_seq(http, fac, sid)
            assert through == start + PEOPLE

            seen = await read_through(console, start, through)
            assert [f["type"] for f in seen] == ["poll.answered"] * PEOPLE
            assert {f["data"]["participant_id"] for f in seen} == set(choice)
            assert {f["data"]["participant_id"]: f["data"]["choices"][0] for f in seen} == choice
            public = await read_through(phone, start, through)
            assert len(public) == PEOPLE and all("choices" not in f["data"] for f in public)

            hidden = await http.get(f"/sessions/{sid}/polls/{pid}", headers=bearer(people[1]["token"]))
            assert hidden.json()["results"] is None
            revealed = await http.post(
                f"/sessions/{sid}/polls/{pid}/status", json={"action": "reveal"}, headers=bearer(fac)
            )
            assert revealed.status_code == 200
            closing = await read_through(phone, through, through + 2)
            assert [f["type"] for f in closing] == ["poll.closed", "poll.revealed"]
            expected = Counter(choice.values())
            results = closing[-1]["data"]["results"]
            assert results["answers"] == PEOPLE
            assert [b["count"] for b in results["bars"]] == [expected[i] for i in range(len(OPTIONS))]
            assert [b["label"] for b in results["bars"]] == OPTIONS

            late = await http.post(
                f"/sessions/{sid}/polls/{pid}/answers",
                json={"client_id": uuid.uuid4().hex, "choices": [0]},
                headers=bearer(people[2]["token"]),
            )
            assert late.status_code == 409
            assert await last_seq(http, fac, sid) == through + 2
