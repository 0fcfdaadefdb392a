"""Communities over years, through HTTP: create and edit (pages and API), sessions put in, the
community's page (timeline, cases shared, outcomes and follow-ups, members who came back), one
member per person across sessions (the device cookie; a facilitator's link, unlink and merge),
and every change as an event on the community's stream."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from labs.models import FollowUp
from tests.conftest import api_token, login, make_account

AGENDA = [{"title": "Ideas", "prompt": "What would you try?", "minutes": 10}]


def _form(client: AsyncTestClient[Any], **fields: Any) -> dict[str, Any]:
    return {"_csrf_token": client.cookies.get("labs_csrf", ""), **fields}


async def _community(client: AsyncTestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Wijkvernieuwing", "kind": "learning_community", **fields}
    response = await client.post("/api/v1/communities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _session(
    client: AsyncTestClient[Any], headers: dict[str, str], community_id: int | None, title: str, starts: datetime
) -> dict[str, Any]:
    body = {"title": title, "agenda": AGENDA, "community_id": community_id, "starts_at": starts.isoformat()}
    response = await client.post("/api/v1/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    started = await client.post(f"/api/v1/sessions/{response.json()['id']}/start", headers=headers)
    return started.json()  # type: ignore[no-any-return]


async def _join(client: AsyncTestClient[Any], code: str, name: str, device: str | None = None) -> dict[str, Any]:
    body = {"join_code": code, "display_name": name, "consent": "named", "device_token": device}
    response = await client.post("/api/v1/join", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _events(client: AsyncTestClient[Any], cid: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/communities/{cid}/events", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["events"]  # type: ignore[no-any-return]


async def test_create_and_edit_on_screen(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    assert (await client.get("/communities/new")).status_code == 200

    empty = await client.post("/communities/new", data=_form(client, name=" ", kind="living_lab"))
    assert empty.status_code == 400
    assert 'id="f-name-error"' in empty.text and "is required" in empty.text
    wrong = await client.post("/communities/new", data=_form(client, name="Lab", kind="club", started_on="gisteren"))
    assert wrong.status_code == 400 and 'id="f-kind-error"' in wrong.text
    assert "No communities yet" in (await client.get("/communities")).text  # nothing saved

    created = await client.post(
        "/communities/new",
        data=_form(
            client,
            name="Praktijk Klimaat",
            kind="community_of_practice",
            city="Utrecht",
            started_on="2025-03-01",
            erasure_mode="remove",
        ),
        follow_redirects=False,
    )
    assert created.status_code in (302, 303)
    page = await client.get(created.headers["location"])
    assert page.status_code == 200
    assert "Praktijk Klimaat" in page.text and "Community of practice" in page.text
    assert 'id="timeline"' in page.text and 'id="cases"' in page.text and 'id="outcomes"' in page.text

    cid = int(created.headers["location"].rsplit("/", 1)[1])
    form = await client.get(f"/communities/{cid}/edit")
    assert 'value="Praktijk Klimaat"' in form.text and 'value="remove" selected' in form.text
    bad_date = await client.post(f"/communities/{cid}/edit", data=_form(client, name="X", started_on="2025-13-40"))
    assert bad_date.status_code == 400 and 'id="f-started_on-error"' in bad_date.text
    saved = await client.post(
        f"/communities/{cid}/edit", data=_form(client, name="Praktijk Water", kind="living_lab"), follow_redirects=False
    )
    assert saved.status_code in (302, 303)
    again = await client.get(f"/communities/{cid}")
    assert "Praktijk Water" in again.text and "Living lab" in again.text

    client.cookies.set("labs_lang", "nl")
    nl = await client.get(f"/communities/{cid}")
    assert "Tijdlijn van de bijeenkomsten" in nl.text


async def test_api_create_list_get_update_and_access(client: AsyncTestClient[Any], rt: Any) -> None:
    owner, other, admin = await make_account(rt), await make_account(rt), await make_account(rt, "admin")
    headers = await api_token(client, owner.email)
    community = await _community(client, headers, kind="community_of_practice", started_on="2024-09-01")
    assert community["kind"] == "community_of_practice" and community["erasure_mode"] == "unlink"
    cid = community["id"]

    listed = (await client.get("/api/v1/communities?per_page=1", headers=headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == cid and listed["pages"] == 1
    bad = await client.post("/api/v1/communities", json={"name": "", "kind": "club"}, headers=headers)
    assert bad.status_code == 400 and "errors" in bad.json()
    bad_page = await client.get("/api/v1/communities?page=-1", headers=headers)
    assert bad_page.status_code == 400

    updated = await client.put(
        f"/api/v1/communities/{cid}",
        json={"name": "Nieuw", "kind": "living_lab", "erasure_mode": "remove"},
        headers=headers,
    )
    assert updated.status_code == 200 and updated.json()["erasure_mode"] == "remove"
    assert (
        await client.put(f"/api/v1/communities/{cid}", json={"name": "x", "erasure_mode": "burn"}, headers=headers)
    ).status_code == 400

    stranger = await api_token(client, other.email)
    assert (await client.get(f"/api/v1/communities/{cid}", headers=stranger)).status_code == 404
    assert (await client.put(f"/api/v1/communities/{cid}", json={"name": "Mine"}, headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/communities", headers=stranger)).json()["total"] == 0
    boss = await api_token(client, admin.email)
    assert (await client.get(f"/api/v1/communities/{cid}", headers=boss)).json()["name"] == "Nieuw"

    types = [e["type"] for e in await _events(client, cid, headers)]
    assert types == ["community.created", "community.updated"]
    assert [e["seq"] for e in await _events(client, cid, headers)] == [1, 2]


async def test_sessions_timeline_and_returning_members(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    cid = (await _community(client, headers))["id"]
    first_day = datetime(2026, 3, 2, 14, tzinfo=UTC)
    first = await _session(client, headers, cid, "Meeting 1", first_day)
    second = await _session(client, headers, None, "Meeting 2", first_day + timedelta(weeks=8))

    # The second session is put in from the API; the first came in when it was created.
    added = await client.post(f"/api/v1/communities/{cid}/sessions", json={"session_id": second["id"]}, headers=headers)
    assert added.status_code == 201 and added.json()["community_id"] == cid

    ann = await _join(client, first["join_code"], "Ann")
    bob = await _join(client, first["join_code"], "Bob")
    assert ann["device_token"] and ann["member_id"] != bob["member_id"]
    ann_again = await _join(client, second["join_code"], "Ann B.", device=ann["device_token"])
    assert ann_again["member_id"] == ann["member_id"]  # the same device: the same member
    newcomer = await _join(client, second["join_code"], "Cas", device="lmd_forged")
    assert newcomer["member_id"] not in (ann["member_id"], bob["member_id"])

    timeline = (await client.get(f"/api/v1/communities/{cid}/sessions", headers=headers)).json()
    assert [(s["title"], s["participants"], s["returning"]) for s in timeline["items"]] == [
        ("Meeting 1", 2, 0),
        ("Meeting 2", 2, 1),
    ]
    back = (await client.get(f"/api/v1/communities/{cid}/members?returning=true", headers=headers)).json()
    assert [(m["display_name"], m["sessions"]) for m in back["items"]] == [("Ann B.", 2)]
    summary = (await client.get(f"/api/v1/communities/{cid}", headers=headers)).json()
    assert (summary["sessions"], summary["members"], summary["returning"]) == (2, 3, 1)

    types = [e["type"] for e in await _events(client, cid, headers)]
    assert types == [
        "community.created",
        "community.session_added",
        "community.session_added",
        "member.added",
        "member.added",
        "member.linked",
        "member.added",
    ]
    linked = next(e for e in await _events(client, cid, headers) if e["type"] == "member.linked")
    assert linked["data"]["by"] == "device" and "display_name" not in linked["data"]

    removed = await client.post(f"/api/v1/communities/{cid}/sessions/{second['id']}/remove", headers=headers)
    assert removed.status_code == 200 and removed.json()["community_id"] is None
    again = await client.post(f"/api/v1/communities/{cid}/sessions/{second['id']}/remove", headers=headers)
    assert again.status_code == 400
    assert (await client.get(f"/api/v1/communities/{cid}/sessions", headers=headers)).json()["total"] == 1


async def test_join_form_sets_the_device_cookie(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    cid = (await _community(client, headers))["id"]
    day = datetime(2026, 5, 4, 14, tzinfo=UTC)
    first = await _session(client, headers, cid, "Spring", day)
    second = await _session(client, headers, cid, "Autumn", day + timedelta(weeks=20))

    await client.get(f"/j/{first['join_code']}")
    joined = await client.post(
        f"/j/{first['join_code']}", data=_form(client, display_name="Dee", consent="named"), follow_redirects=False
    )
    assert joined.status_code in (302, 303)
    device = client.cookies.get(f"labs_m{cid}")
    assert device and device.startswith("lmd_")
    assert "max-age=63072000" in joined.headers.get("set-cookie", "").lower().replace(" ", "")

    await client.get(f"/j/{second['join_code']}")
    await client.post(f"/j/{second['join_code']}", data=_form(client, display_name="Dee", consent="anonymous"))
    members = (await client.get(f"/api/v1/communities/{cid}/members", headers=headers)).json()
    assert [(m["display_name"], m["sessions"]) for m in members["items"]] == [("Dee", 2)]


async def test_link_unlink_merge(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator, other = await make_account(rt), await make_account(rt)
    headers = await api_token(client, facilitator.email)
    cid = (await _community(client, headers))["id"]
    day = datetime(2026, 1, 12, 14, tzinfo=UTC)
    one = await _session(client, headers, cid, "One", day)
    two = await _session(client, headers, cid, "Two", day + timedelta(weeks=4))
    eva1 = await _join(client, one["join_code"], "Eva")
    eva2 = await _join(client, two["join_code"], "Eva (laptop)")  # no device cookie: a second member
    finn = await _join(client, two["join_code"], "Finn")
    url = f"/api/v1/communities/{cid}/members"

    merged = await client.post(
        f"{url}/merge", json={"keep_id": eva1["member_id"], "merge_id": eva2["member_id"]}, headers=headers
    )
    assert merged.status_code == 200, merged.text
    everyone = (await client.get(url, headers=headers)).json()["items"]
    assert sorted((m["display_name"], m["sessions"]) for m in everyone) == [("Eva", 2), ("Finn", 1)]
    # The merged member is gone from lists; naming it again is a clear 409.
    gone = await client.post(
        f"{url}/merge", json={"keep_id": finn["member_id"], "merge_id": eva2["member_id"]}, headers=headers
    )
    assert gone.status_code == 409 and "merged into" in gone.json()["detail"]
    same = await client.post(
        f"{url}/merge", json={"keep_id": finn["member_id"], "merge_id": finn["member_id"]}, headers=headers
    )
    assert same.status_code == 400
    # The laptop's device now belongs to Eva's member: joining from it again is Eva.
    again = await _join(client, one["join_code"], "Eva", device=eva2["device_token"])
    assert again["member_id"] == eva1["member_id"]

    # Finn's visit was in fact Eva: link it, then unlink it again.
    linked = await client.post(
        f"{url}/link", json={"participant_id": finn["participant_id"], "member_id": eva1["member_id"]}, headers=headers
    )
    assert linked.status_code == 200 and linked.json()["id"] == eva1["member_id"]
    unlinked = await client.post(f"{url}/unlink", json={"participant_id": finn["participant_id"]}, headers=headers)
    assert unlinked.status_code == 200 and unlinked.json()["display_name"] == "Finn"
    alone = await client.post(f"{url}/unlink", json={"participant_id": finn["participant_id"]}, headers=headers)
    assert alone.status_code == 409
    unknown = await client.post(
        f"{url}/link", json={"participant_id": 99999, "member_id": eva1["member_id"]}, headers=headers
    )
    assert unknown.status_code == 404
    stranger = await api_token(client, other.email)
    assert (
        await client.post(f"{url}/unlink", json={"participant_id": finn["participant_id"]}, headers=stranger)
    ).status_code == 404

    changes = [
        e
        for e in await _events(client, cid, headers)
        if e["type"] in ("member.merged", "member.linked", "member.unlinked")
    ]
    assert [(e["type"], e["data"].get("by")) for e in changes] == [
        ("member.merged", None),
        ("member.linked", "device"),
        ("member.linked", "facilitator"),
        ("member.unlinked", None),
    ]
    assert changes[0]["data"] == {"member_id": eva1["member_id"], "merged_id": eva2["member_id"], "participants": 1}


async def test_members_page_forms(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    await login(client, facilitator.email)
    cid = (await _community(client, headers))["id"]
    day = datetime(2026, 2, 2, 14, tzinfo=UTC)
    one = await _session(client, headers, cid, "One", day)
    two = await _session(client, headers, cid, "Two", day + timedelta(weeks=4))
    gijs1 = await _join(client, one["join_code"], "Gijs")
    gijs2 = await _join(client, two["join_code"], "Gijs")

    page = await client.get(f"/communities/{cid}/members")
    assert page.status_code == 200 and page.text.count("Gijs") >= 2 and f'id="member-{gijs2["member_id"]}"' in page.text
    wrong = await client.post(
        f"/communities/{cid}/members", data=_form(client, action="merge", keep_id=gijs1["member_id"], merge_id="abc")
    )
    assert wrong.status_code == 400 and "must be a number" in wrong.text
    done = await client.post(
        f"/communities/{cid}/members",
        data=_form(client, action="merge", keep_id=gijs1["member_id"], merge_id=gijs2["member_id"]),
        follow_redirects=False,
    )
    assert done.status_code in (302, 303)
    after = await client.get(done.headers["location"])
    assert "The two members are one now." in after.text
    assert f'id="member-{gijs2["member_id"]}"' not in after.text

    shown = await client.get(f"/communities/{cid}")
    assert "Members who came back" in shown.text and "Gijs" in shown.text


async def test_page_shows_cases_and_outcomes_with_follow_ups(client: AsyncTestClient[Any], rt: Any) -> None:
    from labs.services import cases, outcomes

    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    await login(client, facilitator.email)
    cid = (await _community(client, headers))["id"]
    session = await _session(client, headers, cid, "Met de stad", datetime(2026, 4, 1, 14, tzinfo=UTC))
    case = await cases.create_case(
        rt, facilitator, {"title": "Buurtambassadeurs", "city": "Groningen", "country": "NL", "sdgs": [7]}
    )
    shared = await client.post(
        f"/api/v1/sessions/{session['id']}/cases", json={"case_id": case.id, "presenter": "Karin"}, headers=headers
    )
    assert shared.status_code == 201, shared.text
    outcome = await outcomes.record_outcome(
        rt,
        facilitator,
        session["id"],
        {
            "kind": "adapted_practice",
            "title": "Zwolle adapts it",
            "where": "Zwolle",
            "what_changed": "A pilot.",
            "follow_up_months": "",
        },
    )
    due = await outcomes.schedule_follow_up(rt, facilitator, outcome.id, datetime.now(UTC).date())
    later = await outcomes.schedule_follow_up(rt, facilitator, outcome.id, date(2099, 5, 1))
    async with rt.db.write() as db:  # the session ran in April (it was started just now): a check-in of May, unanswered
        await db.execute(update(FollowUp).where(FollowUp.id == due.id).values(due_on=date(2026, 5, 1)))
    assert later.id

    page = await client.get(f"/communities/{cid}")
    assert "Buurtambassadeurs" in page.text and "Karin" in page.text
    assert "Zwolle adapts it" in page.text and "0 of 2 answered" in page.text and "1 overdue" in page.text
    assert f'href="/outcomes/{outcome.id}"' in page.text and f'href="/cases/{case.id}"' in page.text
    listed = (await client.get(f"/api/v1/communities/{cid}/outcomes", headers=headers)).json()["items"]
    assert [(o["title"], o["follow_ups"], o["overdue"], o["next_due"]) for o in listed] == [
        ("Zwolle adapts it", 2, 1, "2026-05-01")
    ]
    shares = (await client.get(f"/api/v1/communities/{cid}/cases", headers=headers)).json()["items"]
    assert [s["case_id"] for s in shares] == [case.id]
    section = await client.get(f"/communities/{cid}?part=outcomes", headers={"hx-request": "true"})
    assert section.text.lstrip().startswith('<section id="outcomes"')
