"""The facilitator's brakes (issue 8, finding 5): removing a participant (their token, page and
open streams stop at once; their notes kept or removed), tried from outside: the JSON API, the
pages, the websocket and the event log as each audience reads it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import LiveServer, api_token, csrf, login, make_account

MINE = "Spam spam spam"


async def _live(http: Any, fac: dict[str, str], title: str = "Brakes") -> dict[str, Any]:
    session = (
        await http.post("/api/v1/sessions", json={"title": title, "agenda": [{"title": "Ideas"}]}, headers=fac)
    ).json()
    assert (await http.post(f"/api/v1/sessions/{session['id']}/start", headers=fac)).status_code == 200
    return dict(session)


async def _join(http: Any, code: str, name: str) -> dict[str, Any]:
    answer = await http.post("/api/v1/join", json={"join_code": code, "display_name": name, "consent": "named"})
    assert answer.status_code == 201, answer.text
    joined = dict(answer.json())
    joined["headers"] = {"Authorization": f"Bearer {joined['token']}"}
    return joined


async def _note(http: Any, sid: int, headers: dict[str, str], body: str) -> dict[str, Any]:
    answer = await http.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": uuid.uuid4().hex, "body": body}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _remove_url(sid: int, pid: int) -> str:
    return f"/api/v1/sessions/{sid}/participants/{pid}/remove"


async def _log(http: Any, sid: int, headers: dict[str, str]) -> dict[str, Any]:
    answer = await http.get(f"/api/v1/sessions/{sid}/events", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.parametrize("mode", ["keep", "remove"])
async def test_removal_voids_the_token_and_keeps_or_removes_the_notes(
    client: AsyncTestClient[Litestar], rt: Any, mode: str
) -> None:
    fac = await api_token(client, (await make_account(rt)).email)
    session = await _live(client, fac)
    sid = session["id"]
    spammer, ann = (
        await _join(client, session["join_code"], "Spammer"),
        await _join(client, session["join_code"], "Ann"),
    )
    spam = await _note(client, sid, spammer["headers"], MINE)
    kept = await _note(client, sid, ann["headers"], "Green roofs")

    answer = await client.post(_remove_url(sid, spammer["participant_id"]), json={"notes": mode}, headers=fac)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == spammer["participant_id"] and answer.json()["removed_at"]

    # The token is void at once, everywhere in the API.
    for method, url, body in [
        ("GET", f"/api/v1/sessions/{sid}", None),
        ("GET", f"/api/v1/sessions/{sid}/events", None),
        ("POST", f"/api/v1/sessions/{sid}/notes", {"client_id": "again", "body": "More spam"}),
        ("PUT", f"/api/v1/sessions/{sid}/notes/{spam['id']}", {"body": "Edited"}),
    ]:
        refused = await client.request(method, url, json=body, headers=spammer["headers"])
        assert refused.status_code in (401, 403), (method, url, refused.status_code)

    bodies = [n["body"] for n in (await client.get(f"/api/v1/sessions/{sid}/notes", headers=ann["headers"])).json()]
    assert bodies == ([MINE, "Green roofs"] if mode == "keep" else ["Green roofs"])
    console = [n["body"] for n in (await client.get(f"/api/v1/sessions/{sid}/notes", headers=fac)).json()]
    assert console == bodies  # removed notes are gone from the console's wall too, like deleted ones
    people = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()
    assert people["last_seq"] == (await _log(client, sid, fac))["last_seq"]

    # One event; the console reads it whole, the room only the notes that left its wall.
    full = (await _log(client, sid, fac))["events"][-1]
    assert full["type"] == "participant.removed"
    assert full["data"] == {
        "participant_id": spammer["participant_id"],
        "notes": mode,
        "note_ids": [spam["id"]] if mode == "remove" else [],
    }
    seen = (await _log(client, sid, ann["headers"]))["events"]
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    if mode == "remove":
        assert seen[-1] == {**full, "data": {"note_ids": [spam["id"]]}}
        # Earlier events of the removed notes no longer give their text to the room.
        assert MINE not in json.dumps(seen)
    else:
        assert seen[-1] == {"seq": full["seq"], "at": full["at"], "type": "redacted", "data": {}}
        assert kept["id"] in {e["data"].get("id") for e in seen}


async def test_bad_removals_are_refused_and_write_nothing(client: AsyncTestClient[Litestar], rt: Any) -> None:
    fac = await api_token(client, (await make_account(rt)).email)
    other_fac = await api_token(client, (await make_account(rt)).email)
    session, elsewhere = await _live(client, fac), await _live(client, other_fac, "Elsewhere")
    sid = session["id"]
    bea = await _join(client, session["join_code"], "Bea")
    stranger = await _join(client, elsewhere["join_code"], "Stranger")
    before = (await _log(client, sid, fac))["last_seq"]

    cases = [
        (fac, sid, 999_999, {"notes": "keep"}, 404),  # nobody
        (fac, sid, stranger["participant_id"], {"notes": "keep"}, 404),  # someone of another session
        (fac, sid, bea["participant_id"], {"notes": "burn"}, 400),
        (fac, sid, bea["participant_id"], {}, 400),
        (fac, sid, 2**40, {"notes": "keep"}, 404),  # past any id
        (other_fac, sid, bea["participant_id"], {"notes": "keep"}, 404),  # not their session
        (bea["headers"], sid, bea["participant_id"], {"notes": "keep"}, 401),  # a participant
        (stranger["headers"], sid, bea["participant_id"], {"notes": "keep"}, 401),
        ({}, sid, bea["participant_id"], {"notes": "keep"}, 401),
    ]
    for headers, session_id, pid, body, status in cases:
        answer = await client.post(_remove_url(session_id, pid), json=body, headers=headers)
        assert answer.status_code == status, (pid, body, answer.text)
        assert answer.json()["detail"]
    assert (await _log(client, sid, fac))["last_seq"] == before
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=bea["headers"])).status_code == 200

    assert (
        await client.post(_remove_url(sid, bea["participant_id"]), json={"notes": "keep"}, headers=fac)
    ).status_code == 200
    again = await client.post(_remove_url(sid, bea["participant_id"]), json={"notes": "remove"}, headers=fac)
    assert again.status_code == 409
    assert (await _log(client, sid, fac))["last_seq"] == before + 1


async def test_proxy_participants_can_be_removed(client: AsyncTestClient[Litestar], rt: Any) -> None:
    account = await make_account(rt)
    fac = await api_token(client, account.email)
    session = await _live(client, fac)
    sid = session["id"]
    await login(client, account.email)
    await client.get(f"/sessions/{sid}/console")
    form = {"display_name": "Piet", "consent": "anonymous", "_csrf_token": client.cookies.get("labs_csrf", "")}
    assert (await client.post(f"/sessions/{sid}/proxies", data=form)).status_code in (200, 302)
    console = (await client.get(f"/sessions/{sid}/console")).text
    assert "Piet" in console and 'id="roster"' in console
    proxy = next(e for e in (await _log(client, sid, fac))["events"] if e["type"] == "participant.joined")
    pid = proxy["data"]["participant_id"]
    note = await client.post(
        f"/api/v1/sessions/{sid}/notes",
        json={"client_id": "p1", "body": "Said aloud", "participant_id": pid},
        headers=fac,
    )
    assert note.status_code == 201

    # The console's form: the notes choice is required, then the change arrives live (204).
    url = f"/sessions/{sid}/participants/{pid}/remove"
    assert (await client.post(url, data={}, headers=csrf(client))).status_code == 400
    assert (await client.post(url, data={"notes": "remove"}, headers=csrf(client))).status_code == 204
    console = (await client.get(f"/sessions/{sid}/console")).text
    assert "Said aloud" not in console and f'id="person-{pid}"' not in console
    refused = await client.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": "p2", "body": "More", "participant_id": pid}, headers=fac
    )
    assert refused.status_code == 400  # no proxy entry for a removed person


async def test_the_removed_phone_says_so_and_cannot_rejoin_with_its_cookie(
    client: AsyncTestClient[Litestar], rt: Any
) -> None:
    account = await make_account(rt)
    fac = await api_token(client, account.email)
    session = await _live(client, fac)
    sid, code = session["id"], session["join_code"]
    await client.get(f"/j/{code}")
    form = {"display_name": "Spammer", "consent": "named", "_csrf_token": client.cookies.get("labs_csrf", "")}
    assert (await client.post(f"/j/{code}", data=form)).status_code in (200, 302)
    assert (await client.get(f"/p/{sid}")).status_code == 200
    pid = next(e for e in (await _log(client, sid, fac))["events"] if e["type"] == "participant.joined")
    answer = await client.post(_remove_url(sid, pid["data"]["participant_id"]), json={"notes": "keep"}, headers=fac)
    assert answer.status_code == 200

    page = await client.get(f"/p/{sid}")
    assert page.status_code == 403 and "You were removed from this session" in page.text
    assert "/login" not in page.text.split('id="main"')[1]  # not a login loop
    dutch = await client.get(f"/p/{sid}", headers={"accept-language": "nl"})
    assert "Je bent uit deze sessie verwijderd" in dutch.text
    posted = await client.post(
        f"/p/{sid}/notes", data={"client_id": "x", "body": "Back again", "_csrf_token": form["_csrf_token"]}
    )
    assert posted.status_code == 403
    again = await client.get(f"/j/{code}")
    assert again.status_code == 403 and "You were removed from this session" in again.text
    rejoin = await client.post(f"/j/{code}", data=form)
    assert rejoin.status_code == 403
    assert len([e for e in (await _log(client, sid, fac))["events"] if e["type"] == "participant.joined"]) == 1

    # Without this device's cookie a fresh join with the code works, unless joining is locked.
    client.cookies.clear()
    assert (await _join(client, code, "Someone new"))["participant_id"]
    assert (
        await client.post(f"/api/v1/sessions/{sid}/joining", json={"joining": "locked"}, headers=fac)
    ).status_code == 200
    locked = await client.post("/api/v1/join", json={"join_code": code, "display_name": "Spammer", "consent": "named"})
    assert locked.status_code == 409


async def test_a_removed_members_device_token_cannot_rejoin(client: AsyncTestClient[Litestar], rt: Any) -> None:
    fac = await api_token(client, (await make_account(rt)).email)
    community = (await client.post("/api/v1/communities", json={"name": "C"}, headers=fac)).json()
    session = (
        await client.post(
            "/api/v1/sessions",
            json={"title": "In C", "agenda": [{"title": "A"}], "community_id": community["id"]},
            headers=fac,
        )
    ).json()
    await client.post(f"/api/v1/sessions/{session['id']}/start", headers=fac)
    joined = await _join(client, session["join_code"], "Spammer")
    assert joined["device_token"]
    await client.post(_remove_url(session["id"], joined["participant_id"]), json={"notes": "keep"}, headers=fac)
    again = await client.post(
        "/api/v1/join",
        json={
            "join_code": session["join_code"],
            "display_name": "S",
            "consent": "named",
            "device_token": joined["device_token"],
        },
    )
    assert again.status_code == 403 and "removed" in again.json()["detail"]


async def test_the_removed_persons_streams_close(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=20) as http:
        fac = {"Authorization": f"Bearer {live_server.create_user('fac@example.org')}"}
        session = await _live(http, fac)
        sid = session["id"]
        spammer, ann = (
            await _join(http, session["join_code"], "Spammer"),
            await _join(http, session["join_code"], "Ann"),
        )
        last = (await _log(http, sid, fac))["last_seq"]
        url = f"{live_server.ws_url}/api/v1/sessions/{sid}/stream?after={last}"
        # The page's own stream (cookie, same origin) and a script's (bearer token).
        page = f"{live_server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after={last}"
        cookie = {"Cookie": f"labs_p{sid}={spammer['token']}", "Origin": live_server.base_url}
        async with (
            connect(url, additional_headers=spammer["headers"]) as script,
            connect(page, additional_headers=cookie) as phone,
            connect(url, additional_headers=ann["headers"]) as other,
        ):
            await asyncio.sleep(0.3)  # all three are streaming
            removed = await http.post(_remove_url(sid, spammer["participant_id"]), json={"notes": "keep"}, headers=fac)
            assert removed.status_code == 200
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(script.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            frames = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    frames.append(await asyncio.wait_for(phone.recv(), 10))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            assert "You were removed from this session" in frames[-1] and 'id="main"' in frames[-1]
            # Everyone else streams on (the removal itself, with no note gone, is a redacted placeholder).
            seen = json.loads(await asyncio.wait_for(other.recv(), 10))
            assert seen["type"] == "redacted" and seen["seq"] == last + 1
            await other.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(other.recv(), 10)) == {"type": "pong"}
        # And the removed token cannot open a new one (refused before the handshake completes).
        with pytest.raises(InvalidStatus):
            async with connect(url, additional_headers=spammer["headers"]) as retry:
                await asyncio.wait_for(retry.recv(), 10)


# --- pre-moderation ------------------------------------------------------------------------

WAITING = "Free parking for everyone"


async def _premoderated(http: Any, fac: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A live session with pre-moderation on, Bea (who writes) and Ann (who reads)."""
    session = await _live(http, fac, "Moderated")
    sid = session["id"]
    on = await http.post(f"/api/v1/sessions/{sid}/premoderation", json={"premoderation": True}, headers=fac)
    assert on.status_code == 200 and on.json()["premoderation"] is True
    bea, ann = await _join(http, session["join_code"], "Bea"), await _join(http, session["join_code"], "Ann")
    return sid, bea, ann


def _bodies(found: list[dict[str, Any]]) -> list[str]:
    return [n["body"] for n in found]


async def test_a_waiting_note_reaches_only_its_author_and_the_console(
    client: AsyncTestClient[Litestar], rt: Any
) -> None:
    account = await make_account(rt)
    fac = await api_token(client, account.email)
    sid, bea, ann = await _premoderated(client, fac)
    note = await _note(client, sid, bea["headers"], WAITING)
    assert note["approval"] == "pending"
    # What a facilitator enters needs no approval.
    own = await client.post(f"/api/v1/sessions/{sid}/notes", json={"client_id": "f1", "body": "Bikes"}, headers=fac)
    assert own.json()["approval"] == "approved"

    notes_of = lambda h: client.get(f"/api/v1/sessions/{sid}/notes", headers=h)  # noqa: E731
    assert _bodies((await notes_of(ann["headers"])).json()) == ["Bikes"]
    assert [(n["body"], n["approval"]) for n in (await notes_of(bea["headers"])).json()] == [
        (WAITING, "pending"),
        ("Bikes", "approved"),
    ]
    assert WAITING in _bodies((await notes_of(fac)).json())

    # The event log: Ann's has a placeholder where the note was posted; Bea's has her note.
    ann_log, bea_log, full = [await _log(client, sid, h) for h in (ann["headers"], bea["headers"], fac)]
    submitted = next(e for e in full["events"] if e["type"] == "note.submitted")
    assert submitted["data"]["body"] == WAITING and submitted["data"]["author"] == "Bea"
    assert WAITING not in json.dumps(ann_log)
    assert note["id"] not in {e["data"].get("id") for e in ann_log["events"]}
    assert {"seq": submitted["seq"], "at": submitted["at"], "type": "redacted", "data": {}} in ann_log["events"]
    assert [e["seq"] for e in ann_log["events"]] == list(range(1, ann_log["last_seq"] + 1))
    mine = next(e for e in bea_log["events"] if e["seq"] == submitted["seq"])
    assert mine["type"] == "note.submitted" and mine["data"]["body"] == WAITING

    # Pages: the projector and Ann's phone show nothing of it; Bea's phone marks it waiting;
    # the console lists it in its queue with the count.
    await login(client, account.email)
    assert WAITING not in (await client.get(f"/sessions/{sid}/projector")).text
    console = (await client.get(f"/sessions/{sid}/console")).text
    queue = console.split('<section id="queue"')[1].split("</section>")[0]
    assert 'data-count="1"' in queue and WAITING in queue and "Approve" in queue
    client.cookies.clear()
    client.cookies.set(f"labs_p{sid}", ann["token"])
    assert WAITING not in (await client.get(f"/p/{sid}")).text
    client.cookies.set(f"labs_p{sid}", bea["token"])
    phone = (await client.get(f"/p/{sid}")).text
    assert WAITING in phone and "Waiting for approval" in phone
    assert 'id="pending-' in phone and f'id="note-{note["id"]}"' not in phone
    dutch = (await client.get(f"/p/{sid}", headers={"accept-language": "nl"})).text
    assert "Wacht op goedkeuring" in dutch
    # Nobody votes on what is not on the wall.
    await client.post(f"/api/v1/sessions/{sid}/votes/rounds", json={"votes": 3}, headers=fac)
    vote = await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": note["id"]}, headers=ann["headers"])
    assert vote.status_code == 404

    # Approved: everyone has it, with what the wall needs.
    approve = {"action": "approve"}
    answer = await client.post(f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json=approve, headers=fac)
    assert answer.status_code == 200 and answer.json()["approval"] == "approved"
    assert WAITING in _bodies((await notes_of(ann["headers"])).json())
    approved = (await _log(client, sid, ann["headers"]))["events"][-1]
    assert approved["type"] == "note.approved" and approved["data"]["body"] == WAITING
    assert approved["data"]["author"] == "Bea"
    again = await client.post(f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json=approve, headers=fac)
    assert again.status_code == 409


async def test_rejection_editing_and_turning_it_off(client: AsyncTestClient[Litestar], rt: Any) -> None:
    fac = await api_token(client, (await make_account(rt)).email)
    sid, bea, ann = await _premoderated(client, fac)
    url = f"/api/v1/sessions/{sid}/notes"
    spam = await _note(client, sid, bea["headers"], "Buy my stuff")
    rejected = await client.post(f"{url}/{spam['id']}/moderation", json={"action": "reject"}, headers=fac)
    assert rejected.status_code == 200 and rejected.json()["approval"] == "rejected"
    told = (await _log(client, sid, bea["headers"]))["events"][-1]
    assert told["type"] == "note.rejected" and told["data"]["id"] == spam["id"]
    assert (await _log(client, sid, ann["headers"]))["events"][-1]["type"] == "redacted"
    client.cookies.set(f"labs_p{sid}", bea["token"])
    assert "Not approved by the facilitator" in (await client.get(f"/p/{sid}")).text

    # An approved note edited by its author waits again: it leaves everyone else's wall.
    good = await _note(client, sid, bea["headers"], "Trees on every street")
    await client.post(f"{url}/{good['id']}/moderation", json={"action": "approve"}, headers=fac)
    edited = await client.put(f"{url}/{good['id']}", json={"body": "Parking on every street"}, headers=bea["headers"])
    assert edited.status_code == 200 and edited.json()["approval"] == "pending"
    gone = (await _log(client, sid, ann["headers"]))["events"][-1]
    assert gone["type"] == "note.edited" and "body" not in gone["data"]
    assert gone["data"]["id"] == good["id"] and gone["data"]["approval"] == "pending"
    assert "Parking" not in json.dumps((await _log(client, sid, ann["headers"]))["events"])
    assert _bodies((await client.get(url, headers=ann["headers"])).json()) == []
    # Even the earlier events of the note no longer show its old text to the room.
    assert "Trees on every street" not in json.dumps((await _log(client, sid, ann["headers"]))["events"])

    # Off: new notes go straight to the wall; the waiting one still waits.
    off = await client.post(f"/api/v1/sessions/{sid}/premoderation", json={"premoderation": False}, headers=fac)
    assert off.status_code == 200 and off.json()["premoderation"] is False
    assert (await _note(client, sid, bea["headers"], "Straight on"))["approval"] == "approved"
    still = {n["id"]: n["approval"] for n in (await client.get(url, headers=fac)).json()}
    assert still[good["id"]] == "pending"


async def test_bad_reviews_and_toggles_write_nothing(client: AsyncTestClient[Litestar], rt: Any) -> None:
    fac = await api_token(client, (await make_account(rt)).email)
    other = await api_token(client, (await make_account(rt)).email)
    sid, bea, _ann = await _premoderated(client, fac)
    note = await _note(client, sid, bea["headers"], WAITING)
    elsewhere = await _live(client, other, "Elsewhere")
    before = (await _log(client, sid, fac))["last_seq"]
    moderation = f"/api/v1/sessions/{sid}/notes/{{}}/moderation"
    for headers, url, body, status in [
        (fac, moderation.format(999_999), {"action": "approve"}, 404),
        (fac, moderation.format(note["id"]), {"action": "bless"}, 400),
        (other, moderation.format(note["id"]), {"action": "approve"}, 404),
        (bea["headers"], moderation.format(note["id"]), {"action": "approve"}, 401),
        (fac, f"/api/v1/sessions/{elsewhere['id']}/notes/{note['id']}/moderation", {"action": "approve"}, 404),
        (fac, f"/api/v1/sessions/{sid}/premoderation", {"premoderation": "maybe"}, 400),
        (other, f"/api/v1/sessions/{sid}/premoderation", {"premoderation": False}, 404),
        (bea["headers"], f"/api/v1/sessions/{sid}/premoderation", {"premoderation": False}, 401),
    ]:
        answer = await client.post(url, json=body, headers=headers)
        assert answer.status_code == status, (url, body, answer.text)
    assert (await _log(client, sid, fac))["last_seq"] == before


async def test_the_author_streams_their_waiting_note_and_the_room_does_not(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=20) as http:
        fac = {"Authorization": f"Bearer {live_server.create_user('fac@example.org')}"}
        sid, bea, ann = await _premoderated(http, fac)
        last = (await _log(http, sid, fac))["last_seq"]
        url = f"{live_server.ws_url}/api/v1/sessions/{sid}/stream?after={last}"
        page = f"{live_server.ws_url}/api/v1/sessions/{sid}/stream?view=participant&after={last}"

        def phone(who: dict[str, Any]) -> dict[str, str]:
            return {"Cookie": f"labs_p{sid}={who['token']}", "Origin": live_server.base_url}

        async with (
            connect(url, additional_headers=bea["headers"]) as bea_json,
            connect(url, additional_headers=ann["headers"]) as ann_json,
            connect(page, additional_headers=phone(bea)) as bea_html,
            connect(page, additional_headers=phone(ann)) as ann_html,
        ):
            await asyncio.sleep(0.3)
            note = await _note(http, sid, bea["headers"], WAITING)
            mine = json.loads(await asyncio.wait_for(bea_json.recv(), 10))
            theirs = json.loads(await asyncio.wait_for(ann_json.recv(), 10))
            assert mine["type"] == "note.submitted" and mine["data"]["body"] == WAITING
            assert theirs == {"seq": mine["seq"], "at": mine["at"], "type": "redacted", "data": {}}
            bea_frame = await asyncio.wait_for(bea_html.recv(), 10)
            ann_frame = await asyncio.wait_for(ann_html.recv(), 10)
            assert WAITING in bea_frame and f'id="pending-{note["id"]}"' in bea_frame
            assert WAITING not in ann_frame and f"-{note['id']}" not in ann_frame

            moderation = f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation"
            assert (await http.post(moderation, json={"action": "approve"}, headers=fac)).status_code == 200
            for ws in (bea_json, ann_json):
                approved = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert approved["type"] == "note.approved" and approved["data"]["body"] == WAITING
            bea_frame = await asyncio.wait_for(bea_html.recv(), 10)
            ann_frame = await asyncio.wait_for(ann_html.recv(), 10)
            for frame in (bea_frame, ann_frame):
                assert 'hx-swap-oob="upsert:#wall"' in frame and WAITING in frame
            assert f'id="pending-{note["id"]}" hx-swap-oob="delete"' in bea_frame
