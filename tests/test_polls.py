"""Live polls and scales through HTTP: the API and the console's and participant's forms. One
answer per participant (changeable while open), idempotent by client id, hidden until revealed,
proxy answers, 409 on a closed poll with nothing written, and clear messages for bad questions."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import api_token, csrf, login, make_account

AGENDA = [{"title": "Ideas", "prompt": "What would help?"}]


async def _session(client: AsyncTestClient[Any], rt: Any) -> tuple[Any, dict[str, str], dict[str, Any]]:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    session = (await client.post("/api/v1/sessions", json={"title": "Lab", "agenda": AGENDA}, headers=headers)).json()
    assert (await client.post(f"/api/v1/sessions/{session['id']}/start", headers=headers)).status_code == 200
    return facilitator, headers, session


async def _join(client: AsyncTestClient[Any], code: str, name: str) -> dict[str, str]:
    response = await client.post("/api/v1/join", json={"join_code": code, "display_name": name, "consent": "anonymous"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _poll(client: AsyncTestClient[Any], sid: int, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/sessions/{sid}/polls", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _status(client: AsyncTestClient[Any], sid: int, pid: int, headers: dict[str, str], action: str) -> Any:
    return await client.post(f"/api/v1/sessions/{sid}/polls/{pid}/status", json={"action": action}, headers=headers)


async def _answer(client: AsyncTestClient[Any], sid: int, pid: int, headers: dict[str, str], **body: Any) -> Any:
    body.setdefault("client_id", uuid.uuid4().hex)
    return await client.post(f"/api/v1/sessions/{sid}/polls/{pid}/answers", json=body, headers=headers)


async def _events(client: AsyncTestClient[Any], sid: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list((await client.get(f"/api/v1/sessions/{sid}/events", headers=headers)).json()["events"])


async def test_single_choice_answers_change_reveal_and_events(client: AsyncTestClient[Any], rt: Any) -> None:
    _, fac, session = await _session(client, rt)
    sid = session["id"]
    poll = await _poll(
        client, sid, fac, kind="single", question="Which first?", options=["Solar", "Insulation", "Heat pump"]
    )
    assert poll["status"] == "ready" and poll["options"] == ["Solar", "Insulation", "Heat pump"]
    plan = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()
    assert plan["activities"][-1]["id"] == poll["activity_id"] and plan["activities"][-1]["type"] == "poll"

    ann, bob = await _join(client, session["join_code"], "Ann"), await _join(client, session["join_code"], "Bob")
    early = await _answer(client, sid, poll["id"], ann, choices=[0])
    assert early.status_code == 409  # not open yet
    assert (await _status(client, sid, poll["id"], fac, "open")).json()["status"] == "open"

    first = await _answer(client, sid, poll["id"], ann, choices=[0], client_id="ann-1")
    assert first.status_code == 201 and first.json()["choices"] == [0]
    again = await _answer(client, sid, poll["id"], ann, choices=[0], client_id="ann-1")
    assert again.status_code == 200 and again.json()["seq"] is None  # a resend: nothing written
    changed = await _answer(client, sid, poll["id"], ann, choices=[1], client_id="ann-2")
    assert changed.status_code == 201
    assert (await _answer(client, sid, poll["id"], bob, choices=[1])).status_code == 201
    two = await _answer(client, sid, poll["id"], bob, choices=[0, 1])
    assert two.status_code == 400 and "one answer" in two.json()["detail"]
    outside = await _answer(client, sid, poll["id"], bob, choices=[7])
    assert outside.status_code == 400 and outside.json()["errors"]["choices"]

    # Hidden until revealed: a participant sees no results, the facilitator does.
    hidden = (await client.get(f"/api/v1/sessions/{sid}/polls/{poll['id']}", headers=ann)).json()
    assert hidden["results"] is None
    peek = (await client.get(f"/api/v1/sessions/{sid}/polls/{poll['id']}", headers=fac)).json()
    assert [b["count"] for b in peek["results"]["bars"]] == [0, 2, 0]
    answered = [e for e in await _events(client, sid, ann) if e["type"] == "poll.answered"]
    assert len(answered) == 3 and all("choices" not in e["data"] for e in answered)
    assert [e["data"]["choices"] for e in await _events(client, sid, fac) if e["type"] == "poll.answered"] == [
        [0],
        [1],
        [1],
    ]

    revealed = (await _status(client, sid, poll["id"], fac, "reveal")).json()
    assert revealed["status"] == "revealed"
    shown = (await client.get(f"/api/v1/sessions/{sid}/polls", headers=ann)).json()
    assert [b["count"] for b in shown[0]["results"]["bars"]] == [0, 2, 0]
    types = [e["type"] for e in await _events(client, sid, fac)]
    assert types[-6:] == [
        "poll.opened",
        "poll.answered",
        "poll.answered",
        "poll.answered",
        "poll.closed",
        "poll.revealed",
    ]
    reveal_event = (await _events(client, sid, ann))[-1]
    assert reveal_event["data"]["results"]["answers"] == 2


async def test_closed_poll_refuses_answers_and_writes_nothing(client: AsyncTestClient[Any], rt: Any) -> None:
    _, fac, session = await _session(client, rt)
    sid = session["id"]
    poll = await _poll(client, sid, fac, kind="multiple", question="What helps?", options=["A", "B", "C"])
    await _status(client, sid, poll["id"], fac, "open")
    ann = await _join(client, session["join_code"], "Ann")
    assert (await _answer(client, sid, poll["id"], ann, choices=[0, 2])).status_code == 201
    await _status(client, sid, poll["id"], fac, "close")
    last_seq = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()["last_seq"]
    refused = await _answer(client, sid, poll["id"], ann, choices=[1])
    assert refused.status_code == 409 and refused.json()["detail"] == "This poll is not open for answers."
    newcomer = await _join(client, session["join_code"], "Cy")
    assert (await _answer(client, sid, poll["id"], newcomer, choices=[1])).status_code == 409
    after = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()["last_seq"]
    assert after == last_seq + 1  # only Cy's join; no answer event
    counts = (await client.get(f"/api/v1/sessions/{sid}/polls/{poll['id']}", headers=fac)).json()["results"]
    assert counts["answers"] == 1 and [b["count"] for b in counts["bars"]] == [1, 0, 1]


async def test_scale_and_number_with_proxy_answers(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator, fac, session = await _session(client, rt)
    sid = session["id"]
    scale = await _poll(
        client,
        sid,
        fac,
        kind="scale",
        question="How confident?",
        scale_min=1,
        scale_max=5,
        min_label="Not at all",
        max_label="Very",
    )
    assert scale["min_label"] == "Not at all" and scale["scale_max"] == 5
    await _status(client, sid, scale["id"], fac, "open")
    ann = await _join(client, session["join_code"], "Ann")
    assert (await _answer(client, sid, scale["id"], ann, number=4)).status_code == 201
    off = await _answer(client, sid, scale["id"], ann, number=6)
    assert off.status_code == 400 and "1 to 5" in off.json()["detail"]
    # A person without a device: the facilitator adds them, then answers for them.
    proxy = await _add_proxy(client, facilitator, sid, fac)
    by_proxy = await _answer(client, sid, scale["id"], fac, number=2, participant_id=proxy)
    assert by_proxy.status_code == 201 and by_proxy.json()["participant_id"] == proxy
    not_proxy = await _answer(client, sid, scale["id"], fac, number=2, participant_id=proxy + 99)
    assert not_proxy.status_code == 404
    await _status(client, sid, scale["id"], fac, "reveal")
    result = (await client.get(f"/api/v1/sessions/{sid}/polls/{scale['id']}", headers=ann)).json()["results"]
    assert [b["count"] for b in result["bars"]] == [0, 1, 0, 1, 0] and result["mean"] == 3

    number = await _poll(
        client, sid, fac, kind="number", question="Kilometres by car last week?", number_min=0, unit="km"
    )
    await _status(client, sid, number["id"], fac, "open")
    assert (await _answer(client, sid, number["id"], ann, number=42.5)).status_code == 201
    negative = await _answer(client, sid, number["id"], ann, number=-1)
    assert negative.status_code == 400 and negative.json()["errors"]["number"]


async def _add_proxy(client: AsyncTestClient[Any], facilitator: Any, sid: int, fac: dict[str, str]) -> int:
    """A person without a device, added through the console's form; their id from the event log."""
    await login(client, facilitator.email)
    added = await client.post(
        f"/sessions/{sid}/proxies",
        data={"display_name": "Dora", "consent": "named", "_csrf_token": client.cookies.get("labs_csrf", "")},
    )
    assert added.status_code == 200 and "Dora" in added.text
    joined = [e for e in await _events(client, sid, fac) if e["type"] == "participant.joined"]
    return int(joined[-1]["data"]["participant_id"])


async def test_bad_questions_get_clear_messages(client: AsyncTestClient[Any], rt: Any) -> None:
    _, fac, session = await _session(client, rt)
    sid = session["id"]
    url = f"/api/v1/sessions/{sid}/polls"
    one = await client.post(url, json={"kind": "single", "question": "Q?", "options": ["Only"]}, headers=fac)
    assert one.status_code == 400 and one.json()["detail"] == "A poll needs at least two options."
    assert one.json()["errors"]["options"]
    same = await client.post(url, json={"kind": "single", "question": "Q?", "options": ["A", "A"]}, headers=fac)
    assert same.status_code == 400 and same.json()["errors"]["options"]
    flat = await client.post(url, json={"kind": "scale", "question": "Q?", "scale_min": 3, "scale_max": 3}, headers=fac)
    assert flat.status_code == 400 and flat.json()["detail"] == "The two ends of a scale must differ."
    empty = await client.post(url, json={"kind": "scale", "question": " "}, headers=fac)
    assert empty.status_code == 400 and empty.json()["errors"]["question"]
    unknown = await client.post(url, json={"kind": "ranking", "question": "Q?"}, headers=fac)
    assert unknown.status_code == 400 and unknown.json()["errors"]["kind"]
    backwards = await client.post(
        url, json={"kind": "number", "question": "Q?", "number_min": 5, "number_max": 1}, headers=fac
    )
    assert backwards.status_code == 400 and backwards.json()["errors"]["number_max"]
    assert (await client.get(url, headers=fac)).json() == []  # nothing saved
    plan = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()
    assert len(plan["activities"]) == 1


async def test_console_and_phone_forms(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator, fac, session = await _session(client, rt)
    sid = session["id"]
    await login(client, facilitator.email)
    bad = await client.post(
        f"/sessions/{sid}/polls",
        data={"kind": "scale", "question": "How sure?", "scale_min": "2", "scale_max": "2"},
        headers={**csrf(client), "hx-request": "true"},
    )
    assert bad.status_code == 400 and "The two ends of a scale must differ." in bad.text
    assert 'aria-invalid="true"' in bad.text and 'value="How sure?"' in bad.text
    made = await client.post(
        f"/sessions/{sid}/polls",
        data={
            "kind": "scale",
            "question": "How sure?",
            "scale_min": "1",
            "scale_max": "5",
            "min_label": "Unsure",
            "max_label": "Certain",
        },
        headers={**csrf(client), "hx-request": "true"},
    )
    assert made.status_code == 200 and "Added: How sure?" in made.text
    pid = (await client.get(f"/api/v1/sessions/{sid}/polls", headers=fac)).json()[0]["id"]
    activity = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()["activities"][-1]["id"]
    assert (
        await client.post(f"/sessions/{sid}/activities/{activity}/activate", headers=csrf(client))
    ).status_code == 204
    assert (await client.post(f"/sessions/{sid}/polls/{pid}/open", headers=csrf(client))).status_code == 204
    console = await client.get(f"/sessions/{sid}/console")
    assert "Close the poll" in console.text and "How sure?" in console.text

    # A participant on a phone: join through the form, answer through the page's form.
    phone = AsyncTestClient(app=client.app)
    async with phone:
        await phone.get(f"/j/{session['join_code']}")
        joined = await phone.post(
            f"/j/{session['join_code']}",
            data={"display_name": "Eve", "consent": "none", "_csrf_token": phone.cookies.get("labs_csrf", "")},
        )
        assert joined.status_code == 200
        mine = await phone.get(f"/p/{sid}")
        assert 'name="number" value="5"' in mine.text and "Certain" in mine.text
        sent = await phone.post(
            f"/p/{sid}/polls/{pid}",
            data={"number": "5", "client_id": "eve-1"},
            headers={**csrf(phone), "hx-request": "true"},
        )
        assert sent.status_code == 200 and "Your answer: 5 (Certain)." in sent.text
        assert 'value="5" required checked' in (await phone.get(f"/p/{sid}")).text
        await client.post(f"/sessions/{sid}/polls/{pid}/reveal", headers=csrf(client))
        closed = await phone.post(
            f"/p/{sid}/polls/{pid}",
            data={"number": "3", "client_id": "eve-2"},
            headers={**csrf(phone), "hx-request": "true"},
        )
        assert closed.status_code == 409
        page = (await phone.get(f"/p/{sid}")).text
        assert "Results" in page and 'class="bar-count">1<' in page
    projector = await client.get(f"/sessions/{sid}/projector")
    assert "poll-chart" in projector.text


async def test_poll_activities_carry_a_valid_question(client: AsyncTestClient[Any], rt: Any) -> None:
    """A poll, scale or number activity is made or retyped only with a valid question: the API's
    agenda and the plan's agenda form say what is wrong (400, EN and NL) and write nothing; a poll
    someone answered keeps its type (409)."""
    facilitator, fac, _ = await _session(client, rt)
    bad_agendas = [
        ([{"title": "Which first?", "type": "poll"}], "needs its question"),
        ([{"title": "Which?", "type": "poll", "question": "Which?", "options": ["Solar"]}], "at least two options"),
        ([{"title": "Ready?", "type": "scale", "question": "Ready?", "scale_min": 3, "scale_max": 3}], "must differ"),
        (
            [{"title": "Ready?", "type": "scale", "question": "Ready?", "kind": "single", "options": ["A", "B"]}],
            "does not fit",
        ),
    ]
    before = len((await client.get("/api/v1/sessions", headers=fac)).json())
    for agenda, message in bad_agendas:
        refused = await client.post("/api/v1/sessions", json={"title": "Lab 2", "agenda": agenda}, headers=fac)
        assert refused.status_code == 400 and message in refused.json()["detail"], refused.text
    assert len((await client.get("/api/v1/sessions", headers=fac)).json()) == before
    agenda = [
        {"title": "Ideas"},
        {"title": "Which first?", "type": "poll", "question": "Which first?", "options": ["Solar", "Insulation"]},
    ]
    made = (await client.post("/api/v1/sessions", json={"title": "Lab 3", "agenda": agenda}, headers=fac)).json()
    sid = made["id"]
    ideas, poll_activity = made["activities"][0]["id"], made["activities"][1]["id"]
    assert [p["question"] for p in (await client.get(f"/api/v1/sessions/{sid}/polls", headers=fac)).json()] == [
        "Which first?"
    ]

    await login(client, facilitator.email)
    agenda_url = f"/sessions/{sid}/agenda"

    async def change(**fields: Any) -> Any:
        return await client.post(agenda_url, data={"_csrf_token": client.cookies.get("labs_csrf", ""), **fields})

    log = len(await _events(client, sid, fac))
    to_poll = await change(action="save", activity_id=ideas, title="Ideas", type="poll", minutes=10)
    assert to_poll.status_code == 400 and "needs its question" in to_poll.text
    added = await change(action="add", title="Ready?", type="scale", question="Ready?", scale_min=1, scale_max=1)
    assert added.status_code == 400 and "The two ends of a scale must differ." in added.text
    client.cookies.set("labs_lang", "nl")
    dutch = await change(action="save", activity_id=ideas, title="Ideas", type="number", minutes=10)
    assert dutch.status_code == 400 and "heeft een vraag nodig" in dutch.text
    client.cookies.set("labs_lang", "en")
    assert len(await _events(client, sid, fac)) == log  # nothing written
    plan = (await client.get(f"/api/v1/sessions/{sid}", headers=fac)).json()
    assert [a["type"] for a in plan["activities"]] == ["brainstorm", "poll"]

    # The plan's form keeps a poll's type when only its title changes.
    page = (await client.get(f"/sessions/{sid}/plan")).text
    assert '<input type="hidden" name="type" value="poll">' in page
    renamed = await change(action="save", activity_id=poll_activity, title="First practice", type="poll", minutes=5)
    assert renamed.status_code in (200, 302, 303)
    assert (await client.get(f"/api/v1/sessions/{sid}/polls", headers=fac)).json()[0]["options"] == [
        "Solar",
        "Insulation",
    ]
    # Retyped before anyone answered: to a scale with its question, then back to a brainstorm.
    scale = await change(
        action="save", activity_id=poll_activity, title="Ready?", type="scale", question="Ready?", scale_max=5
    )
    assert scale.status_code in (200, 302, 303), scale.text
    (poll,) = (await client.get(f"/api/v1/sessions/{sid}/polls", headers=fac)).json()
    assert (poll["kind"], poll["scale_min"], poll["scale_max"]) == ("scale", 1, 5)
    assert (await change(action="save", activity_id=poll_activity, title="Talk", type="discussion")).status_code in (
        200,
        302,
        303,
    )
    assert (await client.get(f"/api/v1/sessions/{sid}/polls", headers=fac)).json() == []
    types = [e["type"] for e in await _events(client, sid, fac)]
    assert types[-4:] == ["poll.redefined", "activity.updated", "poll.removed", "activity.updated"]

    # Once someone answered, the type stays: 409, nothing written.
    asked = await _poll(client, sid, fac, kind="single", question="Which?", options=["A", "B"])
    assert (await client.post(f"/api/v1/sessions/{sid}/start", headers=fac)).status_code == 200
    assert (await _status(client, sid, asked["id"], fac, "open")).status_code == 200
    ann = await _join(client, made["join_code"], "Ann")
    assert (await _answer(client, sid, asked["id"], ann, choices=[0])).status_code == 201
    log = len(await _events(client, sid, fac))
    kept = await change(action="save", activity_id=asked["activity_id"], title="Which?", type="reflection")
    assert kept.status_code == 409 and "People have answered this poll" in kept.text
    retyped = await change(
        action="save",
        activity_id=asked["activity_id"],
        title="Which?",
        type="poll",
        question="Which?",
        options="A\nB\nC",
    )
    assert retyped.status_code == 409
    assert len(await _events(client, sid, fac)) == log
    assert (await client.get(f"/api/v1/sessions/{sid}/polls/{asked['id']}", headers=fac)).json()["options"] == [
        "A",
        "B",
    ]
