"""Replay: a session rebuilt from its event log alone matches the live state at three moments
(notes per activity, hidden notes and no-research-use notes left out, clusters, votes, current
activity); the page's slider and moments; a position outside the log is a clear 400."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import api_token, login, make_account

Client = AsyncTestClient[Any]
AGENDA = [
    {"title": "Ideas", "minutes": 10},
    {"title": "Discuss", "minutes": 10, "type": "discussion"},
    {"title": "Vote", "minutes": 5, "type": "voting"},
]


async def _join(client: Client, code: str, name: str, consent: str) -> dict[str, str]:
    response = await client.post("/api/v1/join", json={"join_code": code, "display_name": name, "consent": consent})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _note(client: Client, sid: int, who: dict[str, str], body: str, kind: str = "idea") -> int:
    response = await client.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": str(uuid.uuid4()), "body": body, "kind": kind}, headers=who
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _live(client: Client, sid: int, headers: dict[str, str]) -> dict[str, Any]:
    """The live state as the facilitator's API has it now, and the seq it stands at."""
    session = (await client.get(f"/api/v1/sessions/{sid}", headers=headers)).json()
    wall = (await client.get(f"/api/v1/sessions/{sid}/notes", headers=headers)).json()
    log = (await client.get(f"/api/v1/sessions/{sid}/events", headers=headers)).json()
    votes = (await client.get(f"/api/v1/sessions/{sid}/votes", headers=headers)).json()
    return {
        "seq": log["last_seq"],
        "current": session["current_activity_id"],
        "notes": {n["id"]: n for n in wall if not n["hidden"] and not n["deleted"]},
        "hidden": {n["id"] for n in wall if n["hidden"]},
        "votes": {r["note_id"]: r["votes"] for r in (votes.get("results") or [])},
    }


async def _replay(client: Client, sid: int, headers: dict[str, str], seq: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/research/sessions/{sid}/replay?seq={seq}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _same(live: dict[str, Any], replayed: dict[str, Any], left_out: set[int]) -> None:
    assert replayed["seq"] == live["seq"]
    assert replayed["current_activity_id"] == live["current"]
    shown = {n["id"]: n for n in replayed["notes"]}
    assert set(shown) == set(live["notes"]) - left_out
    for note_id, note in shown.items():
        expected = live["notes"][note_id]
        for key in ("body", "kind", "activity_id", "cluster_id", "pinned"):
            assert note[key] == expected[key], (note_id, key)
    assert replayed["left_out"] == len(live["hidden"]) + len(left_out & set(live["notes"]))


async def test_replay_matches_the_live_state_at_three_moments(client: Client, rt: Any) -> None:
    facilitator, researcher = await make_account(rt), await make_account(rt, "researcher")
    headers = await api_token(client, facilitator.email)
    made = (await client.post("/api/v1/sessions", json={"title": "Lab", "agenda": AGENDA}, headers=headers)).json()
    sid, activities = made["id"], [a["id"] for a in made["activities"]]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, made["join_code"], "Ann", "named")
    bo = await _join(client, made["join_code"], "Bo", "anonymous")
    cy = await _join(client, made["join_code"], "Cy", "none")
    granted = await client.post(
        "/api/v1/research/grants", json={"email": researcher.email, "session_id": sid}, headers=headers
    )
    assert granted.status_code == 201
    research = await api_token(client, researcher.email)

    # Moment 1: the first activity's notes; Cy chose no research use.
    first = [await _note(client, sid, ann, "Shared budgets"), await _note(client, sid, bo, "Ask tenants first")]
    silent = {await _note(client, sid, cy, "My private idea")}
    moment1 = await _live(client, sid, headers)

    # Moment 2: a note hidden, two clustered, the second activity open with a new note.
    spam = await _note(client, sid, bo, "buy cheap stuff")
    await client.post(f"/api/v1/sessions/{sid}/notes/{spam}/moderation", json={"action": "hide"}, headers=headers)
    for note_id in first:
        await client.put(f"/api/v1/sessions/{sid}/notes/{note_id}/cluster", json={"name": "People"}, headers=headers)
    await client.post(f"/api/v1/sessions/{sid}/notes/{first[0]}/moderation", json={"action": "pin"}, headers=headers)
    await client.post(f"/api/v1/sessions/{sid}/activities/{activities[1]}/activate", headers=headers)
    second = await _note(client, sid, ann, "Walk the street together", "action")
    silent.add(await _note(client, sid, cy, "Another private one"))
    moment2 = await _live(client, sid, headers)

    # Moment 3: voting, revealed.
    await client.post(f"/api/v1/sessions/{sid}/activities/{activities[2]}/activate", headers=headers)
    await client.post(f"/api/v1/sessions/{sid}/votes/rounds", json={"votes": 2}, headers=headers)
    for who, note_id in ((ann, first[0]), (ann, second), (bo, first[0])):
        assert (
            await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": note_id}, headers=who)
        ).status_code == 201
    await client.post(f"/api/v1/sessions/{sid}/votes/reveal", headers=headers)
    moment3 = await _live(client, sid, headers)

    for live in (moment1, moment2, moment3):
        _same(live, await _replay(client, sid, research, live["seq"]), silent)
    at1 = await _replay(client, sid, research, moment1["seq"])
    assert {n["id"] for n in at1["notes"]} == set(first)  # nothing from later moments
    assert all(n["activity_id"] == activities[0] for n in at1["notes"])
    at2 = await _replay(client, sid, research, moment2["seq"])
    assert {c["name"] for c in at2["clusters"]} == {"People"}
    assert next(n for n in at2["notes"] if n["id"] == second)["activity_id"] == activities[1]
    at3 = await _replay(client, sid, research, moment3["seq"])
    assert {n["id"]: n["votes"] for n in at3["notes"] if n["votes"]} == moment3["votes"] == {first[0]: 2, second: 1}
    assert at3["rounds"][0]["status"] == "revealed"
    assert (await _replay(client, sid, research, 0))["notes"] == []

    # The page: a keyboard-operable range input over the whole log, notes marked by activity.
    await login(client, researcher.email)
    page = await client.get(f"/research/sessions/{sid}/replay?seq={moment2['seq']}")
    assert page.status_code == 200
    assert f'type="range" id="f-seq" name="seq" min="0" max="{moment3["seq"]}"' in page.text
    assert f'value="{moment2["seq"]}"' in page.text
    assert "Walk the street together" in page.text and "My private idea" not in page.text
    assert "buy cheap stuff" not in page.text
    fragment = await client.get(f"/research/sessions/{sid}/replay?seq={moment1['seq']}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="moment"') and "Walk the street" not in fragment.text


async def test_a_position_outside_the_log_is_a_clear_400(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    made = (await client.post("/api/v1/sessions", json={"title": "Lab", "agenda": AGENDA}, headers=headers)).json()
    last = (await client.get(f"/api/v1/sessions/{made['id']}/events", headers=headers)).json()["last_seq"]
    for seq in (-1, last + 1, "soon"):
        response = await client.get(f"/api/v1/research/sessions/{made['id']}/replay?seq={seq}", headers=headers)
        assert response.status_code == 400, (seq, response.text)
        assert "seq" in response.json()["errors"]
        assert f"from 0 to {last}" in response.json()["detail"]
    await login(client, facilitator.email)
    page = await client.get(f"/research/sessions/{made['id']}/replay?seq={last + 5}")
    assert page.status_code == 400 and f"from 0 to {last}" in page.text
