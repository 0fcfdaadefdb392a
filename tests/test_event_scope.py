"""The event catalogue: what each audience reads of the event log and the stream (issue 8,
finding 2), per-stream numbering beyond sessions, and docs/api.md generated from the catalogue."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import connect

from labs import catalogue, events
from tests.conftest import ROOT, LiveServer, api_token, make_account

SECRET_NOTE = "Hidden remark about the alderman"
DELETED_NOTE = "Second thoughts, deleted"
PRIVATE = {"organisation": "Gemeente Zwolle", "city": "Zwolle", "sector": "government"}


async def _scene(http: Any, fac: dict[str, str]) -> dict[str, Any]:
    """A live session where Bea joined with organisation, city and sector, changed her consent,
    wrote a note the facilitator hid and one she deleted herself; Ann only looks."""
    session = (
        await http.post("/api/v1/sessions", json={"title": "Scope", "agenda": [{"title": "Ideas"}]}, headers=fac)
    ).json()
    sid = session["id"]
    assert (await http.post(f"/api/v1/sessions/{sid}/start", headers=fac)).status_code == 200
    join = {"join_code": session["join_code"], "consent": "pseudonymous"}
    bea = (await http.post("/api/v1/join", json={**join, "display_name": "Bea", **PRIVATE})).json()
    ann = (await http.post("/api/v1/join", json={**join, "display_name": "Ann"})).json()
    b = {"Authorization": f"Bearer {bea['token']}"}
    assert (await http.put(f"/api/v1/sessions/{sid}/consent", json={"consent": "named"}, headers=b)).status_code == 200

    async def post(body: str) -> dict[str, Any]:
        answer = await http.post(
            f"/api/v1/sessions/{sid}/notes", json={"client_id": uuid.uuid4().hex, "body": body}, headers=b
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    hidden, deleted, shown = await post(SECRET_NOTE), await post(DELETED_NOTE), await post("Green roofs on schools")
    moderation = await http.post(
        f"/api/v1/sessions/{sid}/notes/{hidden['id']}/moderation", json={"action": "hide"}, headers=fac
    )
    assert moderation.status_code == 200
    assert (await http.post(f"/api/v1/sessions/{sid}/notes/{deleted['id']}/delete", headers=b)).status_code == 204
    return {
        "sid": sid,
        "bea": bea,
        "ann": {"Authorization": f"Bearer {ann['token']}"},
        "shown": shown,
        "hidden": hidden,
    }


def _assert_participant_view(found: list[dict[str, Any]], scene: dict[str, Any]) -> None:
    text = json.dumps(found)
    assert [e["seq"] for e in found] == list(range(1, len(found) + 1))  # gapless all the same
    for secret in (SECRET_NOTE, DELETED_NOTE, *PRIVATE.values(), "pseudonymous", '"named"'):
        assert secret not in text, secret
    joined = [e["data"] for e in found if e["type"] == "participant.joined"]
    assert {"participant_id": scene["bea"]["participant_id"], "proxy": False} in joined
    assert all(set(d) == {"participant_id", "proxy"} for d in joined)
    assert "consent.changed" not in {e["type"] for e in found}
    assert any(e["type"] == "redacted" and e["data"] == {} for e in found)
    hidden = [e["data"] for e in found if e["type"] == "note.hidden"]
    assert hidden == [
        {
            "id": scene["hidden"]["id"],
            "activity_id": scene["hidden"]["activity_id"],
            "hidden": True,
            "deleted": False,
            "pinned": False,
            "cluster_id": None,
        }
    ]
    added = [e["data"] for e in found if e["type"] == "note.added" and "body" in e["data"]]
    assert [d["body"] for d in added] == ["Green roofs on schools"] and added[0]["author"] == "Bea"


async def test_each_audience_reads_only_its_share_of_the_log(client: AsyncTestClient[Litestar], rt: Any) -> None:
    fac_account = await make_account(rt)
    fac = await api_token(client, fac_account.email)
    scene = await _scene(client, fac)
    sid = scene["sid"]

    as_participant = (await client.get(f"/api/v1/sessions/{sid}/events", headers=scene["ann"])).json()
    _assert_participant_view(as_participant["events"], scene)

    as_facilitator = (await client.get(f"/api/v1/sessions/{sid}/events", headers=fac)).json()
    assert as_facilitator["last_seq"] == as_participant["last_seq"] == len(as_facilitator["events"])
    full = json.dumps(as_facilitator["events"])
    assert SECRET_NOTE in full and DELETED_NOTE in full
    joined = next(e["data"] for e in as_facilitator["events"] if e["type"] == "participant.joined")
    assert joined == {
        "participant_id": scene["bea"]["participant_id"],
        "proxy": False,
        "display_name": "Bea",
        **PRIVATE,
        "consent": "named",
    }

    # The stored payloads name people by id only: erasure never has to rewrite the log.
    async with rt.db.read() as db:
        stored = await events.since(db, events.Stream.session(sid), 0)
    raw = json.dumps([e.data for e in stored])
    assert "Bea" not in raw and "Zwolle" not in raw and "Gemeente" not in raw
    for event in stored:  # every stored payload is valid against its catalogue type
        catalogue.decode(event.type, event.data)


async def test_a_participants_stream_is_the_same_share(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=20) as http:
        fac = {"Authorization": f"Bearer {live_server.create_user('fac@example.org')}"}
        scene = await _scene(http, fac)
        url = f"{live_server.ws_url}/api/v1/sessions/{scene['sid']}/stream?after=0"
        found: list[dict[str, Any]] = []
        last = (await http.get(f"/api/v1/sessions/{scene['sid']}/events", headers=fac)).json()["last_seq"]
        async with connect(url, additional_headers=scene["ann"]) as ws:
            while len(found) < last:
                found.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
    _assert_participant_view(found, scene)


async def test_streams_beyond_sessions_are_numbered_on_their_own(client: AsyncTestClient[Litestar], rt: Any) -> None:
    from labs.services import outcomes

    account = await make_account(rt)
    fac = await api_token(client, account.email)
    session = (
        await client.post("/api/v1/sessions", json={"title": "S", "agenda": [{"title": "A"}]}, headers=fac)
    ).json()
    before = session["last_seq"]
    change = {"kind": "policy_change", "what_changed": "A rule changed"}
    first = await outcomes.record_outcome(
        rt, account, session["id"], {**change, "title": "One", "follow_up_months": ""}
    )
    second = await outcomes.record_outcome(
        rt, account, session["id"], {**change, "title": "Two", "follow_up_months": ""}
    )
    await outcomes.schedule_follow_up(rt, account, first.id, "2030-01-01")
    log = (await client.get(f"/api/v1/streams/outcome/{first.id}/events", headers=fac)).json()
    assert [(e["seq"], e["type"]) for e in log["events"]] == [(1, "outcome.recorded"), (2, "followup.scheduled")]
    assert log["last_seq"] == 2
    assert [
        e["seq"]
        for e in (await client.get(f"/api/v1/streams/outcome/{second.id}/events", headers=fac)).json()["events"]
    ] == [1]
    # The session's own numbering is untouched by changes that belong to other streams.
    assert (await client.get(f"/api/v1/sessions/{session['id']}", headers=fac)).json()["last_seq"] == before
    assert (await client.get("/api/v1/streams/session/1/events", headers=fac)).status_code == 404
    assert (await client.get(f"/api/v1/streams/outcome/{first.id}/events")).status_code == 401


def test_api_doc_holds_the_catalogue() -> None:
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    start, end = doc.index("<!-- catalogue:start -->\n"), doc.index("<!-- catalogue:end -->")
    assert doc[start + len("<!-- catalogue:start -->\n") : end] == catalogue.markdown(), (
        "docs/api.md is behind the catalogue: run `python -m labs.catalogue --update-docs docs/api.md`"
    )
