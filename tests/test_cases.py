"""The case library through HTTP: pages (EN and NL) and the JSON API. Create, edit, archive,
restore and delete; filters, full-text search and pages; a case's page with where it was shared,
its feedback, outcomes and derived cases; "Share a project" and its review queue; bad input."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from labs import events
from labs.events import Stream
from labs.models import Case, CaseSubmission
from tests.conftest import api_token, login, make_account

GRONINGEN = {
    "title": "Buurtambassadeurs voor de warmtetransitie",
    "summary": "Bewoners gaan langs bij hun buren met een energiescan.",
    "city": "Groningen",
    "country": "NL",
    "sdgs": [7, 11, 13],
    "topics": ["warmtetransitie", "energiecoöperatie"],
    "stage": "implemented",
    "organisation": "Gemeente Groningen",
    "links": ["https://example.org/ambassadeurs"],
    "boosters": "Buren vertrouwen buren.",
    "barriers": "Vrijwilligers raken overbelast.",
}
GENT = {
    "title": "Leefstraten",
    "city": "Gent",
    "country": "BE",
    "sdgs": [3, 11],
    "topics": ["mobility"],
    "stage": "scaled",
    "summary": "Residents close their street to cars for a summer.",
}
AARHUS = {
    "title": "Climate-proof neighbourhood",
    "city": "Aarhus",
    "country": "DK",
    "sdgs": [13],
    "topics": ["Climate adaptation", "mobility"],
    "stage": "pilot",
    "barriers": "Rain gardens need upkeep.",
}


def form(client: AsyncTestClient[Any], **fields: Any) -> dict[str, Any]:
    return {**fields, "_csrf_token": client.cookies.get("labs_csrf", "")}


async def facilitator(client: AsyncTestClient[Any], rt: Any) -> tuple[Any, dict[str, str]]:
    account = await make_account(rt)
    return account, await api_token(client, account.email)


async def count(rt: Any, model: Any = Case) -> int:
    async with rt.db.read() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def stream_types(rt: Any, case_id: int) -> list[tuple[int, str]]:
    async with rt.db.read() as db:
        return [(e.seq, e.type) for e in await events.since(db, Stream.case(case_id), 0)]


# --- the JSON API --------------------------------------------------------------------------


async def test_api_create_update_archive_restore_and_the_case_stream(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await facilitator(client, rt)
    created = await client.post("/api/v1/cases", json=GRONINGEN, headers=headers)
    assert created.status_code == 201, created.text
    case = created.json()
    assert {k: case[k] for k in GRONINGEN} == GRONINGEN
    assert case["status"] == "published"

    changed = await client.put(f"/api/v1/cases/{case['id']}", json={"stage": "scaled", "sdgs": [7]}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["stage"] == "scaled" and changed.json()["sdgs"] == [7]
    assert changed.json()["title"] == GRONINGEN["title"]  # fields left out keep their value

    archived = await client.post(f"/api/v1/cases/{case['id']}/archive", headers=headers)
    assert archived.json()["status"] == "archived"
    listed = (await client.get("/api/v1/cases", headers=headers)).json()
    assert listed["total"] == 0
    archive = (await client.get("/api/v1/cases?status=archived", headers=headers)).json()
    assert [c["id"] for c in archive["items"]] == [case["id"]]
    restored = await client.post(f"/api/v1/cases/{case['id']}/restore", headers=headers)
    assert restored.json()["status"] == "published"
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()["stage"] == "scaled"

    # One stream per case, numbered 1, 2, 3, ... in the order of the changes.
    assert await stream_types(rt, case["id"]) == [
        (1, "case.created"),
        (2, "case.updated"),
        (3, "case.archived"),
        (4, "case.restored"),
    ]


async def test_api_bad_input_is_a_400_with_the_field_and_nothing_saved(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await facilitator(client, rt)
    cases = [
        ({**GENT, "sdgs": [18]}, "sdgs", "There is no SDG 18"),
        ({**GENT, "sdgs": [0]}, "sdgs", "There is no SDG 0"),
        ({**GENT, "stage": "finished"}, "stage", "Unknown stage 'finished'"),
        ({**GENT, "title": "  "}, "title", "The title is required."),
        ({**GENT, "city": ""}, "city", "The city is required."),
        ({**GENT, "country": "XX"}, "country", "Unknown country code"),
        ({**GENT, "links": ["ftp://x"]}, "links", "must start with http"),
        ({**GENT, "topics": ["a;b"]}, "topics", "cannot contain"),
    ]
    for body, field, message in cases:
        response = await client.post("/api/v1/cases", json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["detail"], response.json()
        assert field in response.json()["errors"], response.json()
    # Several bad fields at once: each is named.
    both = await client.post("/api/v1/cases", json={**GENT, "title": "", "sdgs": [99]}, headers=headers)
    assert set(both.json()["errors"]) == {"title", "sdgs"}
    assert await count(rt) == 0

    case = (await client.post("/api/v1/cases", json=GENT, headers=headers)).json()
    bad_update = await client.put(f"/api/v1/cases/{case['id']}", json={"sdgs": [3, 42]}, headers=headers)
    assert bad_update.status_code == 400 and "sdgs" in bad_update.json()["errors"]
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()["sdgs"] == [3, 11]
    assert await stream_types(rt, case["id"]) == [(1, "case.created")]
    assert (await client.get("/api/v1/cases?sdg=18", headers=headers)).status_code == 400
    assert (await client.get("/api/v1/cases?per_page=1000", headers=headers)).status_code == 400
    assert (await client.get("/api/v1/cases/999", headers=headers)).status_code == 404


async def test_api_who_may_do_what(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await facilitator(client, rt)
    case = (await client.post("/api/v1/cases", json=GENT, headers=headers)).json()
    researcher = await make_account(rt, "researcher")
    reading = await api_token(client, researcher.email)
    assert (await client.get("/api/v1/cases", headers=reading)).status_code == 200
    assert (await client.post("/api/v1/cases", json=GENT, headers=reading)).status_code == 403
    assert (await client.post(f"/api/v1/cases/{case['id']}/archive", headers=reading)).status_code == 403
    assert (await client.get("/api/v1/cases")).status_code == 401
    assert (await client.get("/api/v1/submissions", headers=reading)).status_code == 403


async def test_filters_search_and_pages(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await facilitator(client, rt)
    for body in (GRONINGEN, GENT, AARHUS):
        assert (await client.post("/api/v1/cases", json=body, headers=headers)).status_code == 201

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/cases?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [c["title"] for c in response.json()["items"]]

    assert await titles("") == [AARHUS["title"], GENT["title"], GRONINGEN["title"]]  # newest first
    assert await titles("sdg=11") == [GENT["title"], GRONINGEN["title"]]
    assert await titles("sdg=13&country=dk") == [AARHUS["title"]]
    assert await titles("topic=MOBILITY") == [AARHUS["title"], GENT["title"]]
    assert await titles("topic=climate%20adaptation") == [AARHUS["title"]]
    assert await titles("city=gent") == [GENT["title"]]
    assert await titles("stage=pilot") == [AARHUS["title"]]
    # Full text: every word must match, a word matches as a whole or by its start.
    assert await titles("q=warmte") == [GRONINGEN["title"]]
    assert await titles("q=summer%20residents") == [GENT["title"]]
    assert await titles("q=rain%20gardens%20upkeep") == [AARHUS["title"]]
    assert await titles("q=Groningen") == [GRONINGEN["title"]]  # the place and organisation too
    assert await titles("q=summer%20groningen") == []
    assert await titles("q=%22%2A%28%29%3A") == [AARHUS["title"], GENT["title"], GRONINGEN["title"]]  # no words
    assert await titles("q=mobility&sdg=3") == [GENT["title"]]

    first = (await client.get("/api/v1/cases?per_page=2", headers=headers)).json()
    assert (first["total"], first["pages"], len(first["items"])) == (3, 2, 2)
    second = (await client.get("/api/v1/cases?per_page=2&page=2", headers=headers)).json()
    assert [c["title"] for c in second["items"]] == [GRONINGEN["title"]]

    # An edit is searchable at once.
    gent = next(c for c in first["items"] if c["city"] == "Gent")
    await client.put(f"/api/v1/cases/{gent['id']}", json={"summary": "Kids play on the street."}, headers=headers)
    assert await titles("q=kids") == [GENT["title"]]
    assert await titles("q=summer") == []


async def test_delete_is_refused_while_notes_or_outcomes_point_at_the_case(
    client: AsyncTestClient[Any], rt: Any
) -> None:
    from labs.services import outcomes

    account, headers = await facilitator(client, rt)
    lonely = (await client.post("/api/v1/cases", json=AARHUS, headers=headers)).json()
    used = (await client.post("/api/v1/cases", json=GENT, headers=headers)).json()
    session = (
        await client.post("/api/v1/sessions", json={"title": "Lab", "agenda": [{"title": "Cases"}]}, headers=headers)
    ).json()
    await client.post(f"/api/v1/sessions/{session['id']}/start", headers=headers)
    await client.post(f"/api/v1/sessions/{session['id']}/cases", json={"case_id": used["id"]}, headers=headers)
    note = await client.post(
        f"/api/v1/sessions/{session['id']}/notes",
        headers=headers,
        json={"client_id": "n1", "body": "Works in Utrecht too", "case_id": used["id"]},
    )
    assert note.status_code == 201, note.text
    await outcomes.record_outcome(
        rt,
        account,
        session["id"],
        {"kind": "new_practice", "title": "Play streets", "what_changed": "Two streets closed"},
        {"case_ids": [used["id"]]},
    )

    refused = await client.delete(f"/api/v1/cases/{used['id']}", headers=headers)
    assert refused.status_code == 409
    assert "notes (1), outcomes (1), sessions (1) and derived cases (0) point at it" in refused.json()["detail"]
    assert "Archive it instead" in refused.json()["detail"]
    assert (await client.get(f"/api/v1/cases/{used['id']}", headers=headers)).status_code == 200
    assert (await client.post(f"/api/v1/cases/{used['id']}/archive", headers=headers)).status_code == 200

    assert (await client.delete(f"/api/v1/cases/{lonely['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/cases/{lonely['id']}", headers=headers)).status_code == 404
    assert await stream_types(rt, lonely["id"]) == [(1, "case.created"), (2, "case.deleted")]


# --- pages ---------------------------------------------------------------------------------


async def test_create_and_edit_on_screen_with_sdg_names_in_english_and_dutch(
    client: AsyncTestClient[Any], rt: Any
) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    blank = await client.get("/cases/new")
    assert blank.status_code == 200
    assert "Sustainable cities and communities" in blank.text and "#FD9D24" in blank.text
    response = await client.post(
        "/cases/new",
        follow_redirects=False,
        data=form(
            client,
            title="Leefstraten",
            city="Gent",
            country="BE",
            sdgs=["3", "11"],
            topics_more="mobility, play",
            stage="scaled",
            links="https://example.org/a\nhttps://example.org/b",
        ),
    )
    assert response.status_code in (302, 303), response.text
    case_id = int(response.headers["location"].rsplit("/", 1)[1])
    shown = await client.get(f"/cases/{case_id}")
    assert "Leefstraten" in shown.text and "Good health and well-being" in shown.text and "België" not in shown.text
    assert "https://example.org/b" in shown.text

    dutch = await client.get(f"/cases/{case_id}", headers={"accept-language": "nl"})
    assert "Duurzame steden en gemeenschappen" in dutch.text and "Goede gezondheid en welzijn" in dutch.text
    assert "België" in dutch.text

    # The form suggests topics already used; ticking one and typing another gives both.
    edit = await client.get(f"/cases/{case_id}/edit")
    assert 'value="mobility" checked' in edit.text
    saved = await client.post(
        f"/cases/{case_id}/edit",
        follow_redirects=False,
        data=form(
            client,
            title="Leefstraten",
            city="Gent",
            country="BE",
            sdgs="11",
            topics=["mobility"],
            topics_more="kids",
            stage="scaled",
        ),
    )
    assert saved.status_code in (302, 303), saved.text
    case = (await client.get(f"/cases/{case_id}")).text
    assert "kids" in case and "play" not in case


async def test_bad_form_input_shows_each_message_next_to_its_field(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await make_account(rt)
    await login(client, account.email)
    response = await client.post(
        "/cases/new",
        follow_redirects=False,
        data=form(client, title="", city="Gent", country="BE", sdgs=["3", "18"], stage="done"),
    )
    assert response.status_code == 400
    for field in ("title", "sdgs", "stage"):
        assert f'id="f-{field}-error"' in response.text, field
    assert "Numbers from 1 to 17." in response.text and "The title is required." in response.text
    assert 'value="Gent"' in response.text  # what was typed stays
    dutch = await client.post(
        "/cases/new",
        follow_redirects=False,
        headers={"accept-language": "nl"},
        data=form(client, title="x", city="Gent", country="BE", sdgs="18"),
    )
    assert "Er is geen SDG 18" in dutch.text
    assert await count(rt) == 0


async def test_library_page_filters_and_htmx_results(client: AsyncTestClient[Any], rt: Any) -> None:
    account, headers = await facilitator(client, rt)
    for body in (GRONINGEN, GENT, AARHUS):
        await client.post("/api/v1/cases", json=body, headers=headers)
    await login(client, account.email)
    page = await client.get("/cases?sdg=11")
    assert page.status_code == 200
    assert GENT["title"] in page.text and GRONINGEN["title"] in page.text and AARHUS["title"] not in page.text
    fragment = await client.get("/cases?q=warmte", headers={"hx-request": "true"})
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert GRONINGEN["title"] in fragment.text and GENT["title"] not in fragment.text
    bad = await client.get("/cases?sdg=40")
    assert bad.status_code == 400 and "There is no SDG 40" in bad.text


async def test_case_page_shows_shares_feedback_outcomes_and_derived_cases(
    client: AsyncTestClient[Any], rt: Any
) -> None:
    from labs.services import cases, outcomes

    account, headers = await facilitator(client, rt)
    case = (await client.post("/api/v1/cases", json=GRONINGEN, headers=headers)).json()
    session = (
        await client.post(
            "/api/v1/sessions",
            headers=headers,
            json={"title": "Warmte in de wijk", "city": "Zwolle", "agenda": [{"title": "Cases"}]},
        )
    ).json()
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    await client.post(
        f"/api/v1/sessions/{sid}/cases", json={"case_id": case["id"], "presenter": "Anouk Bos"}, headers=headers
    )
    joined = await client.post(
        "/api/v1/join", json={"join_code": session["join_code"], "display_name": "Ann", "consent": "named"}
    )
    participant = {"Authorization": f"Bearer {joined.json()['token']}"}
    posted = {}
    for key, kind, body in [
        ("b", "booster", "Een betaalde coördinator"),
        ("r", "barrier", "VvE's besluiten traag"),
        ("q", "question", "Wie betaalt de scans?"),
        ("i", "idea", "Begin bij huurders"),
        ("h", "idea", "Hidden idea text"),
        ("d", "idea", "Deleted idea text"),
    ]:
        note = await client.post(
            f"/api/v1/sessions/{sid}/notes",
            headers=participant,
            json={"client_id": key, "body": body, "kind": kind, "case_id": case["id"]},
        )
        assert note.status_code == 201, note.text
        posted[key] = note.json()["id"]
    hidden = await client.post(
        f"/api/v1/sessions/{sid}/notes/{posted['h']}/moderation", json={"action": "hide"}, headers=headers
    )
    assert hidden.status_code == 200, hidden.text
    deleted = await client.post(f"/api/v1/sessions/{sid}/notes/{posted['d']}/delete", headers=participant)
    assert deleted.status_code == 204, deleted.text
    outcome = await outcomes.record_outcome(
        rt,
        account,
        sid,
        {
            "kind": "adapted_practice",
            "title": "Zwolle adapts the ambassadors",
            "where": "Zwolle",
            "what_changed": "A pilot",
        },
        {"case_ids": [case["id"]]},
    )
    derived = await cases.derive_case(
        rt, account, case["id"], outcome.id, {"title": "Warm Holtenbroek", "city": "Zwolle", "country": "NL"}
    )
    assert derived.sdgs == GRONINGEN["sdgs"] and derived.derived_from_id == case["id"]
    assert await stream_types(rt, derived.id) == [(1, "case.derived")]

    await login(client, account.email)
    text = (await client.get(f"/cases/{case['id']}")).text
    assert "Warmte in de wijk" in text and "Anouk Bos" in text
    headings = re.findall(r"<h3>([^<]+)</h3>", text)
    assert headings == ["Boosters", "Barriers", "Questions", "Ideas"]
    for body in (
        "Een betaalde coördinator",
        "VvE&#39;s besluiten traag",
        "Wie betaalt de scans?",
        "Begin bij huurders",
    ):
        assert body in text, body
    assert "Hidden idea text" not in text and "Deleted idea text" not in text
    assert "Zwolle adapts the ambassadors" in text
    assert f'href="/cases/{derived.id}"' in text and "Warm Holtenbroek" in text
    derived_page = (await client.get(f"/cases/{derived.id}")).text
    assert f'href="/cases/{case["id"]}"' in derived_page and "Derived from" in derived_page
    # The delete button explains why it will be refused; pressing it says so and keeps the case.
    assert "can only be archived, not deleted" in text
    refused = await client.post(f"/cases/{case['id']}/delete", follow_redirects=False, data=form(client))
    assert refused.status_code == 409 and "Archive it instead" in refused.text


# --- share a project -----------------------------------------------------------------------

PROJECT = {
    "title": "Rooftop farms on social housing",
    "city": "Medellín",
    "country": "CO",
    "sdgs": ["2", "11"],
    "topics_more": "urban farming",
    "stage": "pilot",
    "summary": "Tenants grow food on the roofs.",
    "boosters": "Tenant associations",
    "name": "Lucía Gómez",
    "email": "lucia@example.org",
}


async def test_share_a_project_without_an_account_then_review(client: AsyncTestClient[Any], rt: Any) -> None:
    blank = await client.get("/share")
    assert blank.status_code == 200 and 'name="website"' in blank.text
    sent = await client.post("/share", follow_redirects=False, data=form(client, **PROJECT))
    assert sent.status_code in (302, 303) and sent.headers["location"] == "/share?sent=1"
    assert "Thank you" in (await client.get("/share?sent=1")).text
    assert await count(rt, CaseSubmission) == 1

    account, headers = await facilitator(client, rt)
    # Not in the library until reviewed.
    assert (await client.get("/api/v1/cases", headers=headers)).json()["total"] == 0
    queue = (await client.get("/api/v1/submissions", headers=headers)).json()
    assert queue["total"] == 1
    submission = queue["items"][0]
    assert submission["email"] == "lucia@example.org" and submission["case"]["status"] == "submitted"
    cid = submission["case"]["id"]
    assert (await client.put(f"/api/v1/cases/{cid}", json={"title": "x"}, headers=headers)).status_code == 409

    await login(client, account.email)
    review_page = (await client.get(f"/cases/review/{submission['id']}")).text
    assert "lucia@example.org" in review_page and "Rooftop farms" in review_page
    accepted = await client.post(
        f"/cases/review/{submission['id']}",
        follow_redirects=False,
        data=form(
            client,
            action="accept",
            title="Rooftop farms on social housing in Medellín",
            city="Medellín",
            country="CO",
            sdgs=["2", "11"],
            topics_more="urban farming",
            stage="pilot",
            summary="Tenants grow food on the roofs.",
        ),
    )
    assert accepted.status_code in (302, 303), accepted.text
    case_page = (await client.get(f"/cases/{cid}")).text
    assert "Rooftop farms on social housing in Medellín" in case_page
    assert "lucia@example.org" not in case_page and "Lucía" not in case_page
    assert "lucia@example.org" not in (await client.get("/cases")).text
    assert "lucia@example.org" not in str((await client.get("/api/v1/cases", headers=headers)).json())
    assert await stream_types(rt, cid) == [(1, "submission.received"), (2, "submission.accepted")]
    async with rt.db.read() as db:
        stored = [e.data for e in await events.since(db, Stream.case(cid), 0)]
    assert "lucia" not in str(stored).lower()  # the log refers to the submission by id
    assert stored[1]["edited"] == ["title"]
    again = await client.post(f"/api/v1/submissions/{submission['id']}/accept", headers=headers)
    assert again.status_code == 409


async def test_rejected_submissions_stay_out_of_the_library(client: AsyncTestClient[Any], rt: Any) -> None:
    await client.get("/share")
    await client.post("/share", follow_redirects=False, data=form(client, **PROJECT))
    reviewer, headers = await facilitator(client, rt)
    submission = (await client.get("/api/v1/submissions", headers=headers)).json()["items"][0]
    await login(client, reviewer.email)
    too_long = await client.post(
        f"/cases/review/{submission['id']}",
        follow_redirects=False,
        data=form(client, action="reject", reason="x" * 5001),
    )
    assert too_long.status_code == 400 and 'id="f-reason-error"' in too_long.text
    assert 'value="Rooftop farms on social housing"' in too_long.text  # the case's fields stay filled in
    assert (await client.get("/api/v1/submissions", headers=headers)).json()["total"] == 1
    rejected = await client.post(
        f"/api/v1/submissions/{submission['id']}/reject", json={"reason": "Advertising"}, headers=headers
    )
    assert rejected.status_code == 200 and rejected.json()["reason"] == "Advertising"
    assert (await client.get("/api/v1/submissions", headers=headers)).json()["total"] == 0
    listed = (await client.get("/api/v1/submissions?status=rejected", headers=headers)).json()
    assert [s["reason"] for s in listed["items"]] == ["Advertising"]
    assert (await client.get("/api/v1/cases", headers=headers)).json()["total"] == 0
    assert (await client.get("/api/v1/cases?status=rejected", headers=headers)).status_code == 400


async def test_share_form_bad_input_honeypot_and_rate_limit(client: AsyncTestClient[Any], rt: Any) -> None:
    await client.get("/share")
    bad = await client.post(
        "/share",
        follow_redirects=False,
        data=form(client, **{**PROJECT, "email": "not-an-email", "sdgs": "19", "title": ""}),
    )
    assert bad.status_code == 400
    for field in ("title", "sdgs", "email"):
        assert f'id="f-{field}-error"' in bad.text, field
    assert 'value="Lucía Gómez"' in bad.text

    robot = await client.post(
        "/share", follow_redirects=False, data=form(client, **PROJECT, website="http://spam.example")
    )
    assert robot.status_code in (302, 303)  # looks like success to the robot
    assert await count(rt, CaseSubmission) == 0

    # Ten tries per address, the bad one above included; then one a minute.
    statuses = [
        (await client.post("/share", follow_redirects=False, data=form(client, **PROJECT))).status_code
        for _ in range(10)
    ]
    assert set(statuses[:9]) <= {302, 303} and statuses[9] == 429
    assert await count(rt, CaseSubmission) == 9
