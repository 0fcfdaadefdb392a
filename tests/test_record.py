"""After the session, through HTTP: the record of a closed session (agenda as it ran, attendance,
notes per activity with hidden ones left out, clusters, votes, cases, outcomes, the summary), the
planning tab and its locked agenda, outcomes recorded from a note or cluster in two clicks, their
check-ins, the owner's answers behind the private link, the derived case, the follow-up list and
its CSV, the JSON API, and bad input of every kind."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from labs import events
from labs.events import Stream
from labs.models import Case, FollowUp, LabSession, Outcome
from labs.services import cases, outcomes
from tests.conftest import api_token, login, make_account

Client = AsyncTestClient[Litestar]
HTMX = {"HX-Request": "true"}
AGENDA = [
    {"title": "The Utrecht case", "prompt": "What could work at home?", "minutes": 20, "type": "case_presentation"},
    {"title": "Choose", "prompt": "Which idea first?", "minutes": 10, "type": "voting"},
    {"title": "Never reached", "prompt": "", "minutes": 5},
]
CASE = {"title": "Green roofs on schools", "city": "Utrecht", "country": "NL", "sdgs": [11, 13], "topics": ["roofs"]}
PEOPLE = [
    ("Ann", "government", "Gemeente Zwolle", "Zwolle"),
    ("Bo", "government", "Gemeente Zwolle", "Zwolle"),
    ("Cas", "citizen", "", "Deventer"),
]


async def post(client: Client, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return await client.post(url, data={**data, "_csrf_token": client.cookies.get("labs_csrf", "")}, **kw)


async def _note(client: Client, sid: int, who: dict[str, str], body: str, **extra: Any) -> int:
    response = await client.post(
        f"/api/v1/sessions/{sid}/notes", json={"client_id": str(uuid.uuid4()), "body": body, **extra}, headers=who
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def closed_session(client: Client, rt: Any) -> dict[str, Any]:
    """A session that ran and closed, built through the API: a case shared by a presenter, three
    people, notes (one hidden, two clustered, one about the case), a revealed vote."""
    facilitator = await make_account(rt)
    fac = await api_token(client, facilitator.email)
    case = await cases.create_case(rt, facilitator, CASE)
    session = (
        await client.post(
            "/api/v1/sessions", json={"title": "Roofs lab", "kind": "workshop", "agenda": AGENDA}, headers=fac
        )
    ).json()
    sid, first, second = session["id"], session["activities"][0]["id"], session["activities"][1]["id"]
    assert (await client.post(f"/api/v1/sessions/{sid}/start", headers=fac)).status_code == 200
    share = await client.post(
        f"/api/v1/sessions/{sid}/cases", json={"case_id": case.id, "presenter": "Dirk"}, headers=fac
    )
    assert share.status_code == 201, share.text
    people = []
    for name, sector, organisation, city in PEOPLE:
        joined = await client.post(
            "/api/v1/join",
            json={
                "join_code": session["join_code"],
                "display_name": name,
                "consent": "named",
                "sector": sector,
                "organisation": organisation,
                "city": city,
            },
        )
        people.append({"Authorization": f"Bearer {joined.json()['token']}"})
    idea = await _note(client, sid, people[0], "Start with tenants", kind="idea", case_id=case.id)
    barrier = await _note(client, sid, people[1], "Owners wait for each other", kind="barrier")
    hidden = await _note(client, sid, people[2], "Buy cheap panels now!!!", kind="idea")
    await client.post(f"/api/v1/sessions/{sid}/notes/{hidden}/moderation", json={"action": "hide"}, headers=fac)
    for note_id in (idea, barrier):
        await client.put(f"/api/v1/sessions/{sid}/notes/{note_id}/cluster", json={"name": "Tenants first"}, headers=fac)
    await client.post(f"/api/v1/sessions/{sid}/activities/{second}/activate", headers=fac)
    action = await _note(client, sid, people[0], "Ask the housing corporation to pay half", kind="action")
    await client.post(f"/api/v1/sessions/{sid}/votes/rounds", json={"votes": 2, "title": "What first?"}, headers=fac)
    for who in people:
        assert (
            await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": idea}, headers=who)
        ).status_code == 201
    await client.post(f"/api/v1/sessions/{sid}/votes", json={"note_id": action}, headers=people[0])
    await client.post(f"/api/v1/sessions/{sid}/votes/reveal", headers=fac)
    assert (await client.post(f"/api/v1/sessions/{sid}/close", headers=fac)).status_code == 200
    clusters = (await client.get(f"/api/v1/sessions/{sid}/record", headers=fac)).json()["clusters"]
    return {
        "facilitator": facilitator,
        "fac": fac,
        "sid": sid,
        "case": case,
        "activities": [first, second],
        "notes": {"idea": idea, "barrier": barrier, "hidden": hidden, "action": action},
        "cluster": clusters[0]["id"],
    }


def field_error(html: str, field: str) -> str:
    """The message shown next to a form field (the macros give it the id f-<field>-error)."""
    match = re.search(rf'id="f-{field}-error"><span class="visually-hidden">[^<]*</span>([^<]+)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1).strip()


async def count(rt: Any, model: Any) -> int:
    async with rt.db.read() as db:
        return len((await db.scalars(select(model))).all())


async def record_outcome(client: Client, s: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "session_id": s["sid"],
        "kind": "adapted_practice",
        "title": "Zwolle tries tenants first",
        "what_changed": "A pilot in Holtenbroek",
        "owner_name": "Eva",
        "owner_email": "eva@zwolle.example",
        "note_ids": [s["notes"]["idea"]],
        "cluster_ids": [s["cluster"]],
        "case_ids": [s["case"].id],
        **fields,
    }
    response = await client.post("/api/v1/outcomes", json=body, headers=s["fac"])
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- the session record --------------------------------------------------------------------


async def test_a_closed_sessions_page_is_its_record(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    await login(client, s["facilitator"].email)
    page = await client.get(f"/sessions/{s['sid']}")
    assert page.status_code == 200
    html = page.text
    assert "Session record" in html and 'href="/static/css/record.css"' in html
    # The agenda as it ran: opened and closed times; the last item never ran.
    rows = re.findall(
        r"<th scope=\"row\">([^<]+)</th>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>",
        html,
        re.S,
    )
    ran = {title: (opened, closed) for title, opened, closed in rows}
    assert "<time" in ran["The Utrecht case"][0] and "<time" in ran["The Utrecht case"][1]
    assert "<time" in ran["Choose"][1]
    assert "did not run" in ran["Never reached"][0]
    # Attendance by sector, organisation and city.
    assert "3 participants" in html
    assert re.search(r"<th scope=\"row\">Government</th><td>2</td>", html)
    assert re.search(r"<th scope=\"row\">Gemeente Zwolle</th><td>2</td>", html)
    assert re.search(r"<th scope=\"row\">Deventer</th><td>1</td>", html)
    assert re.search(r"<th scope=\"row\">Not given</th><td>1</td>", html)  # Cas gave no organisation
    # Notes per activity: the hidden one is left out of the record and counted.
    notes_part = html.split('id="notes-title"')[1].split('id="clusters-title"')[0]
    assert "Start with tenants" in notes_part and "Ask the housing corporation" in notes_part
    assert "Buy cheap panels" not in notes_part
    assert "1 note was hidden by the facilitator and is left out." in notes_part
    assert "3 votes" in notes_part
    # Clusters with their notes, vote results, cases and presenters.
    clusters_part = html.split('id="clusters-title"')[1].split('id="votes-title"')[0]
    assert "Tenants first" in clusters_part and "Owners wait for each other" in clusters_part
    votes_part = html.split('id="votes-title"')[1].split('id="outcomes-title"')[0]
    assert "What first?" in votes_part and re.search(r"3 votes</strong> · Idea: Start with tenants", votes_part)
    assert "Green roofs on schools" in html and "presented by Dirk" in html
    # The facilitator alone sees the hidden note, apart.
    assert "Hidden notes" in html and "Buy cheap panels now!!!" in html.split('id="hidden-title"')[1]


async def test_researchers_read_the_record_without_hidden_notes(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    researcher = await make_account(rt, "researcher")
    await login(client, researcher.email)
    page = await client.get(f"/sessions/{s['sid']}")
    assert page.status_code == 200 and "Session record" in page.text
    assert "Buy cheap panels" not in page.text and "Hidden notes" not in page.text
    assert "Write the summary" not in page.text
    headers = await api_token(client, researcher.email)
    data = (await client.get(f"/api/v1/sessions/{s['sid']}/record", headers=headers)).json()
    assert "hidden_notes" not in data and data["activities"][0]["hidden"] == 1
    own = (await client.get(f"/api/v1/sessions/{s['sid']}/record", headers=s["fac"])).json()
    assert [n["body"] for n in own["hidden_notes"]] == ["Buy cheap panels now!!!"]
    assert own["attendance"]["by_sector"] == {"government": 2, "citizen": 1}
    assert own["cases"][0]["presenter"] == "Dirk"
    other = await make_account(rt)
    not_theirs = await client.get(f"/api/v1/sessions/{s['sid']}/record", headers=await api_token(client, other.email))
    assert not_theirs.status_code == 404


async def test_summary_is_written_on_the_record_and_logged(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    await login(client, s["facilitator"].email)
    empty = await post(client, f"/sessions/{s['sid']}/summary", {"summary": "  "}, headers=HTMX)
    assert empty.status_code == 400 and "The summary is required." in field_error(empty.text, "summary")
    saved = await post(client, f"/sessions/{s['sid']}/summary", {"summary": "Tenants first, in Zwolle."}, headers=HTMX)
    assert saved.status_code == 200 and 'id="summary"' in saved.text and "<html" not in saved.text
    assert "Tenants first, in Zwolle." in saved.text and "Summary saved." in saved.text
    page = await client.get(f"/sessions/{s['sid']}/record")
    assert "Tenants first, in Zwolle." in page.text
    log = (await client.get(f"/api/v1/sessions/{s['sid']}/events", headers=s["fac"])).json()["events"]
    assert log[-1]["type"] == "session.summary_written" and log[-1]["data"]["summary"] == "Tenants first, in Zwolle."
    put = await client.put(f"/api/v1/sessions/{s['sid']}/summary", json={"summary": "Revised."}, headers=s["fac"])
    assert put.status_code == 200 and put.json()["summary"] == "Revised."


async def test_planning_is_its_own_tab_and_a_closed_agenda_is_locked(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    await login(client, s["facilitator"].email)
    plan = await client.get(f"/sessions/{s['sid']}/plan")
    assert plan.status_code == 200 and 'aria-current="page">Plan' in plan.text
    assert "can no longer be changed" in plan.text and 'name="action" value="add"' not in plan.text
    assert f'href="/sessions/{s["sid"]}/record"' in plan.text
    first = s["activities"][0]
    for action in ("save", "up", "remove", "add"):
        response = await post(
            client,
            f"/sessions/{s['sid']}/agenda",
            {"action": action, "activity_id": first, "title": "New", "minutes": 5},
            headers=HTMX,
        )
        assert response.status_code == 409, (action, response.status_code)
    titles = [
        a["title"] for a in (await client.get(f"/api/v1/sessions/{s['sid']}", headers=s["fac"])).json()["activities"]
    ]
    assert titles == [a["title"] for a in AGENDA]


# --- outcomes from notes and clusters ------------------------------------------------------


async def test_a_note_becomes_an_outcome_in_two_clicks(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    fac = await api_token(client, facilitator.email)
    session = (await client.post("/api/v1/sessions", json={"title": "Live", "agenda": AGENDA[:1]}, headers=fac)).json()
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=fac)
    note_id = await _note(client, sid, fac, "Pilot with tenants in Holtenbroek", kind="action")
    await login(client, facilitator.email)
    console = await client.get(f"/sessions/{sid}/console")
    link = f'href="/sessions/{sid}/outcomes/new?note_id={note_id}"'
    assert link in console.text  # click one
    form = await client.get(f"/sessions/{sid}/outcomes/new?note_id={note_id}")
    assert 'value="Pilot with tenants in Holtenbroek"' in form.text
    assert re.search(rf'name="note_ids" value="{note_id}" checked', form.text)
    # Click two: the prefilled form as it is.
    fields = dict(re.findall(r'<input type="(?:text|date|email)" id="f-(\w+)" name="\w+"\s*value="([^"]*)"', form.text))
    kind = re.search(r'<option value="(\w+)" selected>', form.text)
    assert kind, "a kind is preselected"
    saved = await post(
        client,
        f"/sessions/{sid}/outcomes",
        {
            **fields,
            "kind": kind.group(1),
            "what_changed": "Pilot with tenants in Holtenbroek",
            "note_ids": str(note_id),
        },
        follow_redirects=False,
    )
    assert saved.status_code in (302, 303), saved.text
    outcome_id = int(saved.headers["location"].rsplit("/", 1)[1])
    data = (await client.get(f"/api/v1/outcomes/{outcome_id}", headers=fac)).json()
    assert data["sources"]["note_ids"] == [note_id] and data["kind"] == "other"
    day = date.today()
    due = [f["due_on"] for f in data["follow_ups"]]
    assert due == [outcomes.add_months(day, n).isoformat() for n in (1, 3, 6)]
    async with rt.db.read() as db:
        log = await events.since(db, Stream.outcome(outcome_id), 0)
    assert [(e.seq, e.type) for e in log] == [
        (1, "outcome.recorded"),
        (2, "followup.scheduled"),
        (3, "followup.scheduled"),
        (4, "followup.scheduled"),
    ]


async def test_a_cluster_becomes_an_outcome_with_its_notes_and_cases(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    await login(client, s["facilitator"].email)
    record_page = await client.get(f"/sessions/{s['sid']}/record")
    assert f"/sessions/{s['sid']}/outcomes/new?cluster_id={s['cluster']}" in record_page.text
    form = await client.get(f"/sessions/{s['sid']}/outcomes/new?cluster_id={s['cluster']}")
    assert 'value="Tenants first"' in form.text
    for note_id in (s["notes"]["idea"], s["notes"]["barrier"]):
        assert re.search(rf'name="note_ids" value="{note_id}" checked', form.text)
    assert re.search(rf'name="case_ids" value="{s["case"].id}" checked', form.text)
    assert re.search(rf'name="cluster_ids" value="{s["cluster"]}" checked', form.text)
    assert "Buy cheap panels" not in form.text  # hidden notes are no source


async def test_the_full_outcome_harvesting_record(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(
        client,
        s,
        who="Gemeente Zwolle",
        change_agent="The learning community",
        when_on="2026-12-01",
        where="Zwolle",
        significance="First adoption",
        contribution="The case and its barriers",
        evidence="Project plan",
        verified_by="Marieke",
        verified_on=date.today().isoformat(),
        due_on="2027-03-01",
        follow_up_months=[2, 4],
    )
    assert data["owner"] == {"name": "Eva", "email": "eva@zwolle.example"}
    assert data["change_agent"] == "The learning community" and data["verified_by"] == "Marieke"
    assert data["sources"] == {
        "note_ids": [s["notes"]["idea"]],
        "cluster_ids": [s["cluster"]],
        "case_ids": [s["case"].id],
    }
    assert len(data["follow_ups"]) == 2
    # People's names and emails stay out of the event log.
    async with rt.db.read() as db:
        recorded = (await events.since(db, Stream.outcome(data["id"]), 0))[0]
    assert (
        recorded.data["has_owner"] is True and "Eva" not in str(recorded.data) and "Marieke" not in str(recorded.data)
    )
    await login(client, s["facilitator"].email)
    page = await client.get(f"/outcomes/{data['id']}")
    for text in (
        "Gemeente Zwolle",
        "The learning community",
        "First adoption",
        "Project plan",
        "Marieke",
        "Green roofs on schools",
        "Tenants first",
        "Start with tenants",
        "eva@zwolle.example",
    ):
        assert text in page.text, text
    edited = await post(
        client,
        f"/outcomes/{data['id']}/edit",
        {
            "kind": "policy_change",
            "title": "Zwolle changes policy",
            "what_changed": "A council decision",
            "note_ids": [str(s["notes"]["barrier"]), str(s["notes"]["action"])],
        },
        follow_redirects=False,
    )
    assert edited.status_code in (302, 303), edited.text
    again = (await client.get(f"/api/v1/outcomes/{data['id']}", headers=s["fac"])).json()
    assert again["kind"] == "policy_change" and again["sources"]["note_ids"] == [
        s["notes"]["barrier"],
        s["notes"]["action"],
    ]
    async with rt.db.read() as db:
        assert (await events.since(db, Stream.outcome(data["id"]), 0))[-1].type == "outcome.updated"


async def test_bad_outcomes_are_refused_next_to_the_field_and_nothing_is_saved(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    await login(client, s["facilitator"].email)
    good = {"kind": "new_practice", "title": "T", "what_changed": "W"}
    cases_ = [
        ({"kind": "commitment"}, "kind", "Choose one of:"),
        ({"title": ""}, "title", "The title is required."),
        ({"what_changed": ""}, "what_changed", "What changed is required."),
        ({"due_on": "2020-01-01"}, "due_on", "On or after"),
        ({"due_on": "next week"}, "due_on", "Give a date"),
        ({"follow_up_months": "1, 0"}, "follow_up_months", "Whole months from 1 to 36"),
        ({"owner_email": "eva-at-zwolle"}, "owner_email", "An email address"),
        ({"owner_email": "eva@zwolle.example"}, "owner_name", "Their name"),
        (
            {"verified_on": (date.today() + timedelta(days=3)).isoformat(), "verified_by": "M"},
            "verified_on",
            "Today or earlier.",
        ),
    ]
    for change, field, message in cases_:
        response = await post(client, f"/sessions/{s['sid']}/outcomes", {**good, **change})
        assert response.status_code == 400, (change, response.status_code)
        assert message in field_error(response.text, field), (change, field)
    hidden = await post(client, f"/sessions/{s['sid']}/outcomes", {**good, "note_ids": str(s["notes"]["hidden"])})
    assert hidden.status_code == 400 and "hidden by a facilitator" in hidden.text
    assert await count(rt, Outcome) == 0 and await count(rt, FollowUp) == 0
    api = await client.post(
        "/api/v1/outcomes",
        json={"session_id": s["sid"], "kind": "nonsense", "title": "T", "what_changed": "W"},
        headers=s["fac"],
    )
    assert api.status_code == 400 and "kind" in api.json()["errors"] and "nonsense" in api.json()["detail"]
    early = await client.post(
        "/api/v1/outcomes", json={**good, "session_id": s["sid"], "due_on": "2001-01-01"}, headers=s["fac"]
    )
    assert early.status_code == 400 and "due_on" in early.json()["errors"]
    assert await count(rt, Outcome) == 0


# --- check-ins -----------------------------------------------------------------------------


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def test_check_ins_are_planned_moved_cancelled_and_never_before_the_session(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(client, s)
    first = data["follow_ups"][0]
    await login(client, s["facilitator"].email)
    before = await post(client, f"/followups/{first['id']}", {"due_on": "2001-05-05", "outcome_id": data["id"]})
    assert before.status_code == 400 and "before the session" in before.text
    assert f'id="due-{first["id"]}-error"' in before.text
    later = (date.today() + timedelta(days=50)).isoformat()
    moved = await post(
        client, f"/followups/{first['id']}", {"due_on": later, "outcome_id": data["id"]}, follow_redirects=False
    )
    assert moved.status_code in (302, 303)
    added = await post(client, f"/outcomes/{data['id']}/followups", {"due_on": ""})
    assert added.status_code == 400 and "The check-in date is required." in added.text
    added = await client.post(f"/api/v1/outcomes/{data['id']}/follow-ups", json={"due_on": later}, headers=s["fac"])
    assert added.status_code == 201 and added.json()["link"].startswith("http")
    cancelled = await client.post(f"/api/v1/follow-ups/{added.json()['id']}/cancel", headers=s["fac"])
    assert cancelled.json()["status"] == "cancelled"
    gone = await client.get(f"/followup/{token_of(added.json()['link'])}")
    assert gone.status_code == 404
    async with rt.db.read() as db:
        types = [e.type for e in await events.since(db, Stream.outcome(data["id"]), 0)]
    assert types[-3:] == ["followup.rescheduled", "followup.scheduled", "followup.cancelled"]
    other = await make_account(rt)
    assert (
        await client.put(
            f"/api/v1/follow-ups/{first['id']}", json={"due_on": later}, headers=await api_token(client, other.email)
        )
    ).status_code == 404


async def test_the_owner_answers_by_private_link_and_again(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(client, s)
    listed = (await client.get("/api/v1/follow-ups?state=all", headers=s["fac"])).json()["items"]
    link = next(f["link"] for f in listed if f["id"] == data["follow_ups"][0]["id"])
    token = token_of(link)
    # Only the digest is stored.
    async with rt.db.read() as db:
        stored = (await db.scalars(select(FollowUp))).all()
    assert all(token not in (f.token_hash, f.token_nonce) for f in stored)
    form = await client.get(f"/followup/{token}")
    assert form.status_code == 200 and "Zwolle tries tenants first" in form.text
    assert form.headers.get("referrer-policy") == "no-referrer"
    missing = await post(client, f"/followup/{token}", {"progress": "adopted", "what_was_done": "Started"})
    assert missing.status_code == 400 and "Which city adopted" in field_error(missing.text, "adopting_city")
    unknown = await post(client, f"/followup/{token}", {"progress": "finished", "what_was_done": "x"})
    assert unknown.status_code == 400 and "Choose one of" in field_error(unknown.text, "progress")
    first = await post(client, f"/followup/{token}", {"progress": "in_progress", "what_was_done": "Plan written"})
    assert first.status_code == 200 and "your answer is saved" in first.text
    second = await post(
        client,
        f"/followup/{token}",
        {
            "progress": "adapted",
            "what_was_done": "Pilot running",
            "evidence": "https://zwolle.example/plan",
            "adopting_city": "Zwolle",
            "adaptations": "Tenants first",
        },
    )
    assert second.status_code == 200 and 'value="Zwolle"' in second.text
    async with rt.db.read() as db:
        answers = [e for e in await events.since(db, Stream.outcome(data["id"]), 0) if e.type == "followup.answered"]
    assert [(a.data["answer"], a.data["progress"]) for a in answers] == [(1, "in_progress"), (2, "adapted")]
    assert answers[0].actor_kind.value == "owner"
    await login(client, s["facilitator"].email)
    page = await client.get(f"/outcomes/{data['id']}")
    assert "Plan written" in page.text and "Pilot running" in page.text and "earlier answer" in page.text
    answered = (await client.get("/api/v1/follow-ups?state=answered", headers=s["fac"])).json()
    assert answered["total"] == 1 and answered["items"][0]["progress"] == "adapted"
    api = await client.post(f"/api/v1/check-ins/{token}", json={"progress": "scaled", "what_was_done": "Three wards"})
    assert api.status_code == 200 and api.json()["answer"]["answers"] == 3


async def test_unknown_forged_and_expired_links_are_one_plain_404(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(client, s)
    listed = (await client.get("/api/v1/follow-ups?state=all", headers=s["fac"])).json()["items"]
    real = token_of(listed[0]["link"])
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    async with rt.db.write() as db:  # the third check-in's link ran out long ago
        await db.execute(update(FollowUp).where(FollowUp.id == listed[2]["id"]).values(due_on=date(2020, 1, 1)))
    expired = token_of(listed[2]["link"])
    bodies = set()
    for token in ("nothing", "lfu_" + "x" * 43, forged, expired):
        page = await client.get(f"/followup/{token}")
        assert page.status_code == 404, token
        assert "Zwolle" not in page.text and "Eva" not in page.text
        bodies.add(re.sub(r'content="[^"]*"|value="[^"]*"|\?next=[^"]*', "", page.text))
        answer = await post(client, f"/followup/{token}", {"progress": "adopted", "what_was_done": "x"})
        assert answer.status_code == 404
        api = await client.get(f"/api/v1/check-ins/{token}")
        assert api.status_code == 404 and api.json()["detail"] == "Not found."
    assert len(bodies) == 1  # nothing tells the four apart
    assert data["id"]


async def test_the_follow_up_list_with_links_and_a_csv_of_due_ones(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(client, s)
    ids = [f["id"] for f in data["follow_ups"]]
    today = datetime.now(UTC).date()
    async with rt.db.write() as db:  # one due (3 days ago), one overdue (40 days ago), one upcoming
        await db.execute(update(LabSession).values(started_at=datetime.now(UTC) - timedelta(days=200)))
        await db.execute(update(FollowUp).where(FollowUp.id == ids[0]).values(due_on=today - timedelta(days=3)))
        await db.execute(update(FollowUp).where(FollowUp.id == ids[1]).values(due_on=today - timedelta(days=40)))
    await login(client, s["facilitator"].email)
    for state, expected in (("due", ids[0]), ("overdue", ids[1]), ("upcoming", ids[2])):
        page = await client.get(f"/followups?state={state}")
        assert page.status_code == 200
        found = [int(i) for i in re.findall(r'id="link-(\d+)"', page.text)]
        assert found == [expected], (state, found)
        assert "Copy link" in page.text and "/followup/lfu_" in page.text
    bad = await client.get("/followups?state=someday")
    assert bad.status_code == 400
    download = await client.get("/followups/due.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [(r["owner"], r["email"]) for r in rows] == [("Eva", "eva@zwolle.example")] * 2
    assert {r["due_on"] for r in rows} == {
        (today - timedelta(days=3)).isoformat(),
        (today - timedelta(days=40)).isoformat(),
    }
    for row in rows:
        assert (await client.get(row["link"].split("testserver.local", 1)[-1])).status_code == 200
    api = (await client.get("/api/v1/follow-ups?state=overdue&per_page=1", headers=s["fac"])).json()
    assert api["total"] == 1 and api["pages"] == 1 and api["items"][0]["state"] == "overdue"
    assert (await client.get("/api/v1/follow-ups?page=0", headers=s["fac"])).status_code == 400


async def test_an_adoption_becomes_a_derived_case_in_one_step(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    data = await record_outcome(client, s, kind="other")
    await login(client, s["facilitator"].email)
    page = await client.get(f"/outcomes/{data['id']}")
    assert "Make this practice a case" not in page.text  # not a practice, nothing adopted yet
    listed = (await client.get("/api/v1/follow-ups?state=all", headers=s["fac"])).json()["items"]
    token = token_of(listed[0]["link"])
    await post(
        client,
        f"/followup/{token}",
        {
            "progress": "adopted",
            "what_was_done": "Running",
            "adopting_city": "Deventer",
            "adaptations": "Smaller budget",
        },
    )
    page = await client.get(f"/outcomes/{data['id']}")
    assert "Make this practice a case" in page.text
    assert 'id="case-city" name="city" value="Deventer"' in page.text
    assert 'id="case-country" name="country" value="NL"' in page.text
    fields = dict(re.findall(r'<input type="text" id="case-\w+" name="(\w+)"\s*value="([^"]*)"', page.text))
    summary = re.search(r'<textarea id="case-summary" name="summary"[^>]*>([^<]*)</textarea>', page.text)
    assert summary and "Smaller budget" in summary.group(1)
    made = await post(
        client,
        f"/outcomes/{data['id']}/case",
        {**fields, "summary": summary.group(1), "from_case_id": s["case"].id, "stage": "pilot"},
        follow_redirects=False,
    )
    assert made.status_code in (302, 303), made.text
    async with rt.db.read() as db:
        derived = (await db.scalars(select(Case).where(Case.derived_from_id == s["case"].id))).one()
    assert derived.from_outcome_id == data["id"] and derived.city == "Deventer"
    assert derived.sdgs == [11, 13] and derived.topics == ["roofs"]
    wrong = await client.post(
        f"/api/v1/outcomes/{data['id']}/derived-case", json={"from_case_id": 999999}, headers=s["fac"]
    )
    assert wrong.status_code == 400 and "from_case_id" in wrong.json()["errors"]
    api = await client.post(
        f"/api/v1/outcomes/{data['id']}/derived-case", json={"title": "Deventer version"}, headers=s["fac"]
    )
    assert api.status_code == 201 and api.json()["derived_from_id"] == s["case"].id and api.json()["city"] == "Deventer"


async def test_outcome_pages_and_api_are_paginated_and_private(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    for n in range(3):
        await record_outcome(client, s, title=f"Outcome {n}")
    first = (await client.get("/api/v1/outcomes?per_page=2", headers=s["fac"])).json()
    assert (
        first["total"] == 3
        and first["pages"] == 2
        and [o["title"] for o in first["items"]] == ["Outcome 2", "Outcome 1"]
    )
    second = (await client.get("/api/v1/outcomes?per_page=2&page=2", headers=s["fac"])).json()
    assert [o["title"] for o in second["items"]] == ["Outcome 0"]
    other = await make_account(rt)
    theirs = await api_token(client, other.email)
    assert (await client.get("/api/v1/outcomes", headers=theirs)).json()["total"] == 0
    assert (await client.get(f"/api/v1/outcomes/{first['items'][0]['id']}", headers=theirs)).status_code == 404
    await login(client, other.email)
    assert (await client.get(f"/outcomes/{first['items'][0]['id']}")).status_code == 404
    assert (await client.get(f"/sessions/{s['sid']}/outcomes/new")).status_code == 404


async def test_the_check_in_form_speaks_the_sessions_language(client: Client, rt: Any) -> None:
    s = await closed_session(client, rt)
    async with rt.db.write() as db:
        await db.execute(update(LabSession).where(LabSession.id == s["sid"]).values(language="nl"))
    data = await record_outcome(client, s)
    listed = (await client.get("/api/v1/follow-ups?state=all", headers=s["fac"])).json()["items"]
    token = token_of(next(f["link"] for f in listed if f["id"] == data["follow_ups"][0]["id"]))
    page = await client.get(f"/followup/{token}")
    assert (
        '<html lang="nl">' in page.text and "Hoe het ervoor staat" in page.text and "Mijn antwoord opslaan" in page.text
    )
    bad = await post(
        client, f"/followup/{token}", {"progress": "adapted", "what_was_done": "x", "adopting_city": "Zwolle"}
    )
    assert bad.status_code == 400 and "Wat is er aangepast" in field_error(bad.text, "adaptations")
