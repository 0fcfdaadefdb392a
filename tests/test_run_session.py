"""Running a session through HTTP: agenda, start, activities, timer, close, notes and their
moderation, clusters, dot voting, consent, proxy entry, and the pages' own forms."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import api_token, csrf, login, make_account

AGENDA = [
    {"title": "Cases", "prompt": "What worked in Utrecht?", "minutes": 10, "type": "case_presentation"},
    {"title": "Ideas", "prompt": "What would you try at home?", "minutes": 15},
    {"title": "Vote", "prompt": "Which idea first?", "minutes": 5, "type": "voting"},
]


async def _setup(client: AsyncTestClient[Any], rt: Any) -> tuple[dict[str, str], dict[str, Any]]:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    response = await client.post(
        "/api/v1/sessions", json={"title": "Lab", "kind": "co_creation_lab", "agenda": AGENDA}, headers=headers
    )
    assert response.status_code == 201, response.text
    return headers, response.json()


async def _join(client: AsyncTestClient[Any], code: str, name: str = "Ann", consent: str = "named") -> dict[str, str]:
    response = await client.post("/api/v1/join", json={"join_code": code, "display_name": name, "consent": consent})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _events(
    client: AsyncTestClient[Any], sid: int, headers: dict[str, str], after: int = 0
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/sessions/{sid}/events?after={after}", headers=headers)
    assert response.status_code == 200
    return response.json()["events"]  # type: ignore[no-any-return]


async def test_plan_start_activate_timer_close(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    assert session["status"] == "draft"
    assert re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}", session["join_code"])
    assert [a["title"] for a in session["activities"]] == ["Cases", "Ideas", "Vote"]

    started = (await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)).json()
    assert started["status"] == "live"
    assert started["current_activity_id"] == session["activities"][0]["id"]
    assert started["timer"]["running"]

    second = session["activities"][1]["id"]
    moved = await client.post(f"/api/v1/sessions/{sid}/activities/{second}/activate", headers=headers)
    assert moved.status_code == 200 and moved.json()["current_activity_id"] == second

    paused = (await client.post(f"/api/v1/sessions/{sid}/timer", json={"action": "pause"}, headers=headers)).json()
    assert not paused["timer"]["running"] and 0 < paused["timer"]["remaining_s"] <= 15 * 60
    resumed = (await client.post(f"/api/v1/sessions/{sid}/timer", json={"action": "resume"}, headers=headers)).json()
    assert resumed["timer"]["running"]
    bad = await client.post(f"/api/v1/sessions/{sid}/timer", json={"action": "explode"}, headers=headers)
    assert bad.status_code == 400

    closed = (await client.post(f"/api/v1/sessions/{sid}/close", headers=headers)).json()
    assert closed["status"] == "closed"
    types = [e["type"] for e in await _events(client, sid, headers)]
    assert types == [
        "session.created",
        "session.started",
        "activity.activated",
        "activity.activated",
        "timer.paused",
        "timer.resumed",
        "session.closed",
    ]
    seqs = [e["seq"] for e in await _events(client, sid, headers)]
    assert seqs == list(range(1, len(seqs) + 1))

    gone = await client.post(
        "/api/v1/join", json={"join_code": session["join_code"], "display_name": "Late", "consent": "none"}
    )
    assert gone.status_code == 410 and "closed" in gone.json()["detail"]


async def test_notes_edit_delete_only_own_and_while_open(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"], "Ann")
    bob = await _join(client, session["join_code"], "Bob", "anonymous")

    note = (
        await client.post(
            f"/api/v1/sessions/{sid}/notes", json={"client_id": "n1", "body": "Idea", "kind": "idea"}, headers=ann
        )
    ).json()
    edited = await client.put(f"/api/v1/sessions/{sid}/notes/{note['id']}", json={"body": "Better idea"}, headers=ann)
    assert edited.status_code == 200 and edited.json()["body"] == "Better idea"
    foreign = await client.put(f"/api/v1/sessions/{sid}/notes/{note['id']}", json={"body": "Mine now"}, headers=bob)
    assert foreign.status_code == 403

    # Once the activity moves on, its notes are closed for changes.
    await client.post(f"/api/v1/sessions/{sid}/activities/{session['activities'][1]['id']}/activate", headers=headers)
    late = await client.put(f"/api/v1/sessions/{sid}/notes/{note['id']}", json={"body": "Too late"}, headers=ann)
    assert late.status_code == 409

    fresh = (
        await client.post(
            f"/api/v1/sessions/{sid}/notes", json={"client_id": "n2", "body": "Two", "kind": "question"}, headers=ann
        )
    ).json()
    assert fresh["activity_id"] == session["activities"][1]["id"]
    assert (await client.post(f"/api/v1/sessions/{sid}/notes/{fresh['id']}/delete", headers=ann)).status_code == 204
    wall = (await client.get(f"/api/v1/sessions/{sid}/notes", headers=ann)).json()
    assert [n["body"] for n in wall] == ["Better idea"]


async def test_moderation_clusters_and_proxy_notes(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"])
    note = (
        await client.post(
            f"/api/v1/sessions/{sid}/notes", json={"client_id": "x", "body": "Rude", "kind": "idea"}, headers=ann
        )
    ).json()

    hidden = await client.post(
        f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json={"action": "hide"}, headers=headers
    )
    assert hidden.status_code == 200 and hidden.json()["hidden"]
    assert (await client.get(f"/api/v1/sessions/{sid}/notes", headers=ann)).json() == []
    assert [n["hidden"] for n in (await client.get(f"/api/v1/sessions/{sid}/notes", headers=headers)).json()] == [True]
    await client.post(
        f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json={"action": "restore"}, headers=headers
    )
    pinned = await client.post(
        f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json={"action": "pin"}, headers=headers
    )
    assert pinned.json()["pinned"]
    clustered = await client.put(
        f"/api/v1/sessions/{sid}/notes/{note['id']}/cluster", json={"name": "Green roofs"}, headers=headers
    )
    assert clustered.status_code == 200 and clustered.json()["cluster_id"]
    types = [e["type"] for e in await _events(client, sid, headers)]
    assert {"note.hidden", "note.restored", "note.pinned", "cluster.created", "note.clustered"} <= set(types)

    # A participant cannot moderate.
    assert (
        await client.post(f"/api/v1/sessions/{sid}/notes/{note['id']}/moderation", json={"action": "hide"}, headers=ann)
    ).status_code in (401, 403)

    # Proxy entry: a person without a device, then a note for them; author comes from the facilitator's choice.
    await login(client, (await make_account(rt, "admin")).email)
    proxy = await client.post(
        f"/sessions/{sid}/proxies",
        data={"display_name": "Carla", "consent": "anonymous", "_csrf_token": client.cookies.get("labs_csrf")},
    )
    assert proxy.status_code in (302, 303, 200)
    people = await client.get(f"/sessions/{sid}/console")
    carla = re.search(r'<option value="(\d+)">Carla</option>', people.text)
    assert carla, "proxy participant is offered in the console"
    posted = await client.post(
        f"/sessions/{sid}/notes",
        headers=csrf(client),
        data={"client_id": "p1", "body": "Said aloud", "kind": "insight", "participant_id": carla.group(1)},
    )
    assert posted.status_code == 204
    wall = (await client.get(f"/api/v1/sessions/{sid}/notes", headers=headers)).json()
    assert any(n["body"] == "Said aloud" and n["author"] == "Carla" for n in wall)


async def test_votes_hidden_until_revealed(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann, bob = await _join(client, session["join_code"], "Ann"), await _join(client, session["join_code"], "Bob")
    a = (await client.post(f"/api/v1/sessions/{sid}/notes", json={"client_id": "a", "body": "A"}, headers=ann)).json()
    b = (await client.post(f"/api/v1/sessions/{sid}/notes", json={"client_id": "b", "body": "B"}, headers=bob)).json()

    assert (
        await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": a["id"]}, headers=ann)
    ).status_code == 409
    opened = await client.post(f"/api/v1/sessions/{sid}/votes/rounds", json={"votes": 2}, headers=headers)
    assert opened.status_code == 201
    for voter, note in ((ann, b), (ann, b), (bob, b)):
        assert (
            await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": note["id"]}, headers=voter)
        ).status_code == 201
    third = await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": a["id"]}, headers=ann)
    assert third.status_code == 409 and "2" in third.json()["detail"]

    state = (await client.get(f"/api/v1/sessions/{sid}/votes", headers=bob)).json()
    assert state["results"] is None and state["left"] == 1
    # Before reveal, a participant's event stream does not say who voted for what.
    cast = [e for e in await _events(client, sid, bob) if e["type"] == "vote.cast"]
    assert cast and all("note_id" not in e["data"] for e in cast)

    revealed = (await client.post(f"/api/v1/sessions/{sid}/votes/reveal", headers=headers)).json()
    assert revealed["status"] == "revealed"
    assert revealed["results"][0] == {"note_id": b["id"], "body": "B", "kind": "idea", "votes": 3}


async def test_consent_change_is_recorded(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"], consent="named")
    changed = await client.put(f"/api/v1/sessions/{sid}/consent", json={"consent": "anonymous"}, headers=ann)
    assert changed.status_code == 200 and changed.json()["consent"] == "anonymous"
    bad = await client.put(f"/api/v1/sessions/{sid}/consent", json={"consent": "everything"}, headers=ann)
    assert bad.status_code == 400 and "anonymous" in bad.json()["detail"]
    from labs.services import participants

    history = await participants.consent_history(rt, changed.json()["id"])
    assert [(r.choice.value, r.text_version) for r in history] == [("named", "2026-11"), ("anonymous", "2026-11")]
    events = [e["type"] for e in await _events(client, sid, headers)]
    assert events[-2:] == ["participant.joined", "consent.changed"]


async def test_join_in_browser_resumes_identity_and_escapes_html(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid, code = session["id"], session["join_code"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)

    form = await client.get(f"/j/{code.lower()}")
    assert form.status_code == 200 and "consent" in form.text
    missing = await client.post(
        f"/j/{code}", data={"display_name": "Eve", "_csrf_token": client.cookies.get("labs_csrf")}
    )
    assert missing.status_code == 400 and "research" in missing.text
    joined = await client.post(
        f"/j/{code}",
        data={
            "display_name": "<b>Eve</b>",
            "consent": "pseudonymous",
            "sector": "citizen",
            "_csrf_token": client.cookies.get("labs_csrf"),
        },
    )
    assert joined.status_code in (200, 302, 303)
    page = await client.get(f"/p/{sid}")
    assert page.status_code == 200 and "&lt;b&gt;Eve&lt;/b&gt;" in page.text and "<b>Eve</b>" not in page.text
    # A reload (or a later visit from this device) resumes the same identity.
    again = await client.get(f"/j/{code}", follow_redirects=False)
    assert again.status_code in (302, 303) and again.headers["location"] == f"/p/{sid}"

    posted = await client.post(
        f"/p/{sid}/notes",
        headers={**csrf(client), "accept": "application/json"},
        data={"client_id": "c-1", "body": "<script>alert(1)</script>", "kind": "idea"},
    )
    assert posted.status_code == 201
    retry = await client.post(
        f"/p/{sid}/notes",
        headers={**csrf(client), "accept": "application/json"},
        data={"client_id": "c-1", "body": "<script>alert(1)</script>", "kind": "idea"},
    )
    assert retry.status_code == 200 and retry.json()["id"] == posted.json()["id"]
    page = await client.get(f"/p/{sid}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text

    unknown = await client.get("/j/ZZZZZZZZ")
    assert unknown.status_code == 404 and "no session with this code" in unknown.text


@pytest.mark.parametrize("path", ["console", "projector"])
async def test_views_are_for_the_sessions_facilitators_only(client: AsyncTestClient[Any], rt: Any, path: str) -> None:
    _, session = await _setup(client, rt)
    other = await make_account(rt)
    await login(client, other.email)
    response = await client.get(f"/sessions/{session['id']}/{path}")
    assert response.status_code == 404
    action = await client.post(f"/sessions/{session['id']}/start", headers=csrf(client))
    assert action.status_code == 404


async def test_console_actions_need_csrf(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    headers = await api_token(client, facilitator.email)
    session = (await client.post("/api/v1/sessions", json={"title": "L", "agenda": AGENDA}, headers=headers)).json()
    refused = await client.post(f"/sessions/{session['id']}/start")
    assert refused.status_code == 403
    assert (await client.get(f"/api/v1/sessions/{session['id']}", headers=headers)).json()["status"] == "draft"
    accepted = await client.post(f"/sessions/{session['id']}/start", headers=csrf(client))
    assert accepted.status_code == 204


async def test_each_event_is_rendered_once_per_view_and_language(settings: Any) -> None:
    """Many clients of one view and language share one rendering of each batch of events; a
    Dutch participant's frames are rendered in Dutch, an English one's in English."""
    import asyncio

    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.memory import MemoryChannelsBackend

    from labs import live
    from labs.db import Database
    from labs.runtime import Runtime
    from labs.services import notes, participants, sessions
    from labs.web.fragments import render

    calls: list[tuple[int, str]] = []

    async def counting(rt_: Any, session_id: int, batch: list[dict[str, dict[str, Any]]]) -> dict[str, str]:
        calls.extend((views[key]["seq"], key) for views in batch for key in views)
        return await render(rt_, session_id, batch)

    rt = Runtime(settings, Database(settings.database_url, pooled=False))
    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    async with channels:
        hub = live.Hub(rt, channels, counting)
        rt.publisher = hub.publish
        facilitator = await make_account(rt)
        session = await sessions.create(rt, facilitator, {"title": "Lab", "agenda": AGENDA})
        received: dict[int, list[str]] = {}
        kinds = [("participant", "en")] * 4 + [("participant", "nl")] * 2 + [("console", "en")] * 2
        kinds += [(live.JSON_FACILITATOR, "en")] * 3
        tasks = []
        for i, (audience, lang) in enumerate(kinds):
            received[i] = []

            async def send(frame: str, i: int = i) -> None:
                received[i].append(frame)

            async def nothing() -> None:
                return None

            client = live.Client(audience=audience, send=send, lang=lang)
            tasks.append(asyncio.create_task(hub.serve(session.id, client, session.last_seq, nothing)))
        await asyncio.sleep(0.1)
        session = await sessions.start(rt, facilitator, session.id)  # two events: started, activity activated
        joined = await participants.join(rt, session.join_code, {"display_name": "Anna", "consent": "none"}, "x")
        person = joined.participant
        await notes.post(rt, session.id, {"client_id": "c1", "body": "Groene daken"}, participant=person)
        last = (await sessions.get(rt, session.id)).last_seq
        for _ in range(100):
            if all(
                f'data-seq="{last}"' in frames[-1] or f'"seq": {last},' in frames[-1]
                for frames in received.values()
                if frames
            ):
                break
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        await hub.stop()
    await rt.db.dispose()
    # Every client got every event once: JSON clients without batch=1 one frame each.
    assert [json.loads(f)["seq"] for f in received[len(kinds) - 1]] == list(range(2, last + 1))
    assert all(f'data-seq="{last}"' in frames[-1] for i, frames in received.items() if i < 8)
    # Each event was rendered once per view key, whatever the number of its clients.
    keys = ["console:en", "json", "participant:en", "participant:nl"]
    assert sorted(calls) == sorted((seq, key) for seq in range(2, last + 1) for key in keys if key != "json")
    dutch, english = "".join(received[4]), "".join(received[0])
    assert ">Idee<" in dutch and ">Stem</button>" in dutch and ">Vote</button>" not in dutch
    assert ">Idea<" in english and ">Vote</button>" in english


async def test_research_overview_counts_without_personal_data(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"], "Annelies Private")
    await client.post(f"/api/v1/sessions/{sid}/notes", json={"client_id": "r1", "body": "Secret idea"}, headers=ann)
    researcher = await make_account(rt, "researcher")
    granted = await client.post(
        "/api/v1/research/grants", json={"email": researcher.email, "session_id": sid}, headers=headers
    )
    assert granted.status_code == 201
    await login(client, researcher.email)
    page = await client.get("/research")
    assert page.status_code == 200
    row = re.search(r"<tr>\s*<th scope=\"row\">Lab</th>(.*?)</tr>", page.text, re.S)
    # 6 events: the session's five and the grant of access.
    assert row and re.findall(r"<td>(\d+)</td>", row.group(1)) == ["1", "1", "6"]
    assert "Annelies" not in page.text and "Secret idea" not in page.text


async def test_a_stalled_socket_does_not_hold_up_the_room(settings: Any) -> None:
    """A phone whose socket stops taking data gets its own pace; the others keep receiving, and it
    catches up in order, without gaps or duplicates, once its socket drains."""
    import asyncio

    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.memory import MemoryChannelsBackend

    from labs import live
    from labs.db import Database
    from labs.runtime import Runtime
    from labs.services import notes, participants, sessions
    from labs.web.fragments import render

    rt = Runtime(settings, Database(settings.database_url, pooled=False))
    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    async with channels:
        hub = live.Hub(rt, channels, render)
        rt.publisher = hub.publish
        facilitator = await make_account(rt)
        session = await sessions.start(
            rt, facilitator, (await sessions.create(rt, facilitator, {"title": "Lab", "agenda": AGENDA})).id
        )
        joined = await participants.join(rt, session.join_code, {"display_name": "A", "consent": "none"}, "x")
        person = joined.participant
        drained = asyncio.Event()
        fast: list[int] = []
        slow: list[int] = []

        async def fast_send(frame: str) -> None:
            fast.append(json.loads(frame)["seq"])

        async def stalled_send(frame: str) -> None:
            await drained.wait()  # a full socket buffer
            slow.append(json.loads(frame)["seq"])

        async def nothing() -> None:
            return None

        start = session.last_seq + 1
        tasks = [
            asyncio.create_task(hub.serve(session.id, live.Client(live.JSON_FACILITATOR, send), start - 1, nothing))
            for send in (fast_send, stalled_send)
        ]
        await asyncio.sleep(0.1)
        for i in range(10):
            await notes.post(rt, session.id, {"client_id": f"c{i}", "body": f"n{i}"}, participant=person)
        last = (await sessions.get(rt, session.id)).last_seq
        for _ in range(100):
            if fast and fast[-1] == last:
                break
            await asyncio.sleep(0.02)
        assert fast == list(range(start, last + 1)), "the stalled client held up the others"
        assert slow == []
        drained.set()
        for _ in range(100):
            if slow and slow[-1] == last:
                break
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        await hub.stop()
    await rt.db.dispose()
    assert slow == list(range(start, last + 1))


async def test_a_subscriber_that_never_reads_is_dropped_and_resyncs(settings: Any, monkeypatch: Any) -> None:
    """A socket that never takes another frame holds a bounded backlog, is dropped (its connection
    is then closed with 1011) once a frame has waited SLOW_WRITE_S, and the others get every event
    meanwhile; reconnecting with the last seq it applied, it gets the rest."""
    import asyncio

    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.memory import MemoryChannelsBackend

    from labs import live
    from labs.db import Database
    from labs.runtime import Runtime
    from labs.services import notes, participants, sessions
    from labs.web.fragments import render

    monkeypatch.setattr(live, "SLOW_WRITE_S", 0.5)
    rt = Runtime(settings, Database(settings.database_url, pooled=False))
    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    async with channels:
        hub = live.Hub(rt, channels, render)
        rt.publisher = hub.publish
        facilitator = await make_account(rt)
        session = await sessions.start(
            rt, facilitator, (await sessions.create(rt, facilitator, {"title": "Lab", "agenda": AGENDA})).id
        )
        joined = await participants.join(rt, session.join_code, {"display_name": "A", "consent": "none"}, "x")
        person = joined.participant
        fast: list[int] = []
        stuck_at: list[int] = []

        async def fast_send(frame: str) -> None:
            fast.append(json.loads(frame)["seq"])

        async def never(frame: str) -> None:
            stuck_at.append(json.loads(frame)["seq"])
            await asyncio.Event().wait()  # the socket never takes it

        async def nothing() -> None:
            return None

        start = session.last_seq + 1
        stuck = live.Client(live.JSON_FACILITATOR, never)
        served = asyncio.create_task(hub.serve(session.id, stuck, start - 1, nothing))
        fine = live.Client(live.JSON_FACILITATOR, fast_send)
        other = asyncio.create_task(hub.serve(session.id, fine, start - 1, nothing))
        await asyncio.sleep(0.1)
        for i in range(20):
            await notes.post(rt, session.id, {"client_id": f"c{i}", "body": "x" * 2000}, participant=person)
            assert stuck.queued_bytes <= live.CLIENT_BACKLOG_BYTES
        last = (await sessions.get(rt, session.id)).last_seq
        with pytest.raises(live.TooSlow):
            await asyncio.wait_for(served, 5)
        for _ in range(100):
            if fast and fast[-1] == last:
                break
            await asyncio.sleep(0.02)
        assert fast == list(range(start, last + 1)), "the stuck client held up the others"
        assert stuck not in hub.rooms[session.id].clients
        # Back with the last seq it applied (the frame it got stuck on never arrived).
        back: list[int] = []

        async def back_send(frame: str) -> None:
            back.append(json.loads(frame)["seq"])

        resumed = asyncio.create_task(
            hub.serve(session.id, live.Client(live.JSON_FACILITATOR, back_send), stuck.sent_seq, nothing)
        )
        for _ in range(100):
            if back and back[-1] == last:
                break
            await asyncio.sleep(0.02)
        for task in (other, resumed):
            task.cancel()
        await hub.stop()
    await rt.db.dispose()
    assert stuck.sent_seq == start - 1 and stuck_at[0] == start
    assert back == list(range(start, last + 1))


async def test_share_a_case_and_write_notes_about_it(client: AsyncTestClient[Any], rt: Any) -> None:
    from labs.services import cases

    headers, session = await _setup(client, rt)
    sid = session["id"]
    author = await make_account(rt)
    case = await cases.create_case(
        rt,
        author,
        {"title": "Buurtambassadeurs", "city": "Groningen", "country": "NL", "sdgs": [11], "topics": ["energy"]},
    )
    listed = await client.get("/api/v1/cases?city=groningen", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [c["title"] for c in listed.json()["items"]] == ["Buurtambassadeurs"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"])

    not_shared = await client.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": "k0", "body": "x", "case_id": case.id}, headers=ann
    )
    assert not_shared.status_code == 400
    shared = await client.post(
        f"/api/v1/sessions/{sid}/cases", json={"case_id": case.id, "presenter": "Jan"}, headers=headers
    )
    assert shared.status_code == 201 and shared.json()["case"]["city"] == "Groningen"
    twice = await client.post(f"/api/v1/sessions/{sid}/cases", json={"case_id": case.id}, headers=headers)
    assert twice.status_code == 409
    note = await client.post(
        f"/api/v1/sessions/{sid}/notes",
        json={"client_id": "k1", "body": "Works here too", "case_id": case.id},
        headers=ann,
    )
    assert note.status_code == 201 and note.json()["case_id"] == case.id
    assert "case.shared" in [e["type"] for e in await _events(client, sid, headers)]
    # Participants may not share cases.
    assert (await client.post(f"/api/v1/sessions/{sid}/cases", json={"case_id": case.id}, headers=ann)).status_code in (
        401,
        403,
    )


async def test_errors_on_pages_speak_the_readers_language(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    await client.post(f"/api/v1/sessions/{session['id']}/start", headers=headers)
    dutch = {"accept-language": "nl"}
    await client.get(f"/j/{session['join_code']}", headers=dutch)
    response = await client.post(
        f"/j/{session['join_code']}",
        headers=dutch,
        data={"display_name": "x" * 61, "consent": "named", "_csrf_token": client.cookies.get("labs_csrf")},
    )
    assert response.status_code == 400
    assert "Namen zijn maximaal 60 tekens lang." in response.text
    # The API keeps English, with the same numbers filled in.
    api = await client.post(
        "/api/v1/join", json={"join_code": session["join_code"], "display_name": "x" * 61, "consent": "named"}
    )
    assert api.json()["detail"] == "Names are at most 60 characters."


async def test_a_resend_is_answered_with_the_first_note_even_after_close(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    ann = await _join(client, session["join_code"])
    note = {"client_id": "lost-answer", "body": "Sent on bad Wi-Fi"}
    first = await client.post(f"/api/v1/sessions/{sid}/notes", json=note, headers=ann)
    await client.post(f"/api/v1/sessions/{sid}/close", headers=headers)
    resend = await client.post(f"/api/v1/sessions/{sid}/notes", json=note, headers=ann)
    assert resend.status_code == 200 and resend.json()["id"] == first.json()["id"]
    fresh = await client.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": "new", "body": "Too late"}, headers=ann
    )
    assert fresh.status_code == 409


async def test_consent_changed_on_the_page_shows_at_once(client: AsyncTestClient[Any], rt: Any) -> None:
    headers, session = await _setup(client, rt)
    code, sid = session["join_code"], session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    await client.get(f"/j/{code}")
    token = client.cookies.get("labs_csrf")
    await client.post(f"/j/{code}", data={"display_name": "Eva", "consent": "named", "_csrf_token": token})
    assert re.search(r'id="consent-named"[^>]*checked', (await client.get(f"/p/{sid}")).text)
    changed = await client.post(f"/p/{sid}/consent", data={"consent": "none", "_csrf_token": token})
    assert changed.status_code == 200 and "Your choice is saved." in changed.text
    page = (await client.get(f"/p/{sid}")).text
    assert re.search(r'id="consent-none"[^>]*checked', page) and not re.search(r'id="consent-named"[^>]*checked', page)


async def test_console_forms_timer_case_sharing_and_close(client: AsyncTestClient[Any], rt: Any) -> None:
    from labs.services import cases

    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    headers = await api_token(client, facilitator.email)
    sid = (await client.post("/api/v1/sessions", json={"title": "L", "agenda": AGENDA}, headers=headers)).json()["id"]
    case = await cases.create_case(rt, facilitator, {"title": "Warm Holtenbroek", "city": "Zwolle", "country": "NL"})
    console = await client.get(f"/sessions/{sid}/console")
    assert f'<option value="{case.id}">Warm Holtenbroek (Zwolle)</option>' in console.text

    assert (await client.post(f"/sessions/{sid}/start", headers=csrf(client))).status_code == 204
    timer = await client.post(f"/sessions/{sid}/timer", headers=csrf(client), data={"action": "start", "minutes": "2"})
    assert timer.status_code == 204
    state = (await client.get(f"/api/v1/sessions/{sid}", headers=headers)).json()["timer"]
    assert state["running"] and state["ends_at"]
    bad = await client.post(f"/sessions/{sid}/timer", headers=csrf(client), data={"action": "start", "minutes": "x"})
    assert bad.status_code == 400

    shared = await client.post(
        f"/sessions/{sid}/cases", headers=csrf(client), data={"case_id": str(case.id), "presenter": "Jan"}
    )
    assert shared.status_code == 204
    console = await client.get(f"/sessions/{sid}/console")
    assert re.search(r'id="shared-cases".*Warm Holtenbroek', console.text, re.S)

    assert (await client.post(f"/sessions/{sid}/next", headers=csrf(client))).status_code == 204
    assert (await client.post(f"/sessions/{sid}/close", headers=csrf(client))).status_code == 204
    types = [e["type"] for e in await _events(client, sid, headers)]
    assert types[-4:] == ["timer.started", "case.shared", "activity.activated", "session.closed"]
