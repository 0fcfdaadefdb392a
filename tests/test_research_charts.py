"""Charts: each chart's numbers (read back from its CSV) for a community of two sessions, with
consent respected (a participant who chose `none` is never counted), filters by community,
period and city, bad filters answered next to the field, and CSV cells that cannot run as
spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from litestar.testing import AsyncTestClient

from labs.services import cases, followups, outcomes
from tests.conftest import api_token, login, make_account

Client = AsyncTestClient[Any]


async def _join(client: Client, code: str, name: str, consent: str, **extra: Any) -> dict[str, Any]:
    body = {"join_code": code, "display_name": name, "consent": consent, **extra}
    response = await client.post("/api/v1/join", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "headers": {"Authorization": f"Bearer {response.json()['token']}"}}


async def _note(client: Client, sid: int, who: dict[str, Any], body: str, kind: str, case_id: int | None) -> None:
    response = await client.post(
        f"/api/v1/sessions/{sid}/notes",
        json={"client_id": str(uuid.uuid4()), "body": body, "kind": kind, "case_id": case_id},
        headers=who["headers"],
    )
    assert response.status_code == 201, response.text


async def build(client: Client, rt: Any) -> dict[str, Any]:
    facilitator, researcher = await make_account(rt), await make_account(rt, "researcher")
    headers = await api_token(client, facilitator.email)
    made = await client.post("/api/v1/communities", json={"name": "Warm streets"}, headers=headers)
    assert made.status_code == 201, made.text
    community_id = made.json()["id"]
    roofs = await cases.create_case(
        rt,
        facilitator,
        {
            "title": '=HYPERLINK("x")',
            "city": "Utrecht",
            "country": "NL",
            "sdgs": [7, 11],
            "topics": ["energy", "roofs"],
        },
    )
    trees = await cases.create_case(
        rt, facilitator, {"title": "Street trees", "city": "Gent", "country": "BE", "sdgs": [11], "topics": ["green"]}
    )
    sessions = []
    for title, city, day in (
        ("First", "Utrecht", "2026-03-02T13:00:00+00:00"),
        ("Second", "Gent", "2026-06-01T13:00:00+00:00"),
    ):
        made = await client.post(
            "/api/v1/sessions",
            json={
                "title": title,
                "city": city,
                "starts_at": day,
                "community_id": community_id,
                "agenda": [{"title": "Cases", "minutes": 20}, {"title": "Actions", "minutes": 10}],
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        sessions.append(made.json())
    first, second = sessions
    for s, case in ((first, roofs), (second, trees)):
        await client.post(f"/api/v1/sessions/{s['id']}/start", headers=headers)
        await client.post(f"/api/v1/sessions/{s['id']}/cases", json={"case_id": case.id}, headers=headers)
    ann = await _join(client, first["join_code"], "Ann", "named", city="Utrecht", sector="government")
    bo = await _join(client, first["join_code"], "Bo", "anonymous", city="Utrecht", sector="citizen")
    cy = await _join(client, first["join_code"], "Cy", "none", city="Gent", sector="business")
    await _note(client, first["id"], ann, "Roofs pay back", "booster", roofs.id)
    await _note(client, first["id"], bo, "Landlords wait", "barrier", roofs.id)
    await _note(client, first["id"], cy, "Cy's booster", "booster", roofs.id)
    await _note(client, first["id"], bo, "What about heritage?", "question", None)
    # Ann comes back to the second session (same device): a returning member; Dee is new.
    again = await _join(
        client,
        second["join_code"],
        "Ann",
        "named",
        city="Utrecht",
        sector="government",
        device_token=ann["device_token"],
    )
    dee = await _join(client, second["join_code"], "Dee", "pseudonymous", city="Gent", sector="civil_society")
    await _join(
        client, second["join_code"], "Cy", "none", city="Gent", sector="business", device_token=cy["device_token"]
    )
    await _note(client, second["id"], again, "Shade matters", "booster", trees.id)
    await _note(client, second["id"], dee, "Roots break pipes", "barrier", trees.id)
    await _note(client, second["id"], dee, "Plant with neighbours", "action", None)
    outcome = await outcomes.record_outcome(
        rt,
        facilitator,
        first["id"],
        {
            "kind": "adapted_practice",
            "title": "Gent adapts roofs",
            "what_changed": "A pilot",
            "where": "Gent",
            "when_on": "2026-04-01",
        },
        {"case_ids": [roofs.id]},
    )
    await outcomes.record_outcome(
        rt, facilitator, second["id"], {"kind": "policy_change", "title": "Tree budget", "what_changed": "More trees"}
    )
    # Its owner reports it in progress; then it becomes a case in Gent (dated by the outcome's "when").
    check = (await outcomes.view(rt, facilitator, outcome.id)).follow_ups[0]
    await followups.answer(
        rt, outcomes.token_of(rt, check), {"progress": "in_progress", "what_was_done": "Going well."}
    )
    await cases.derive_case(
        rt, facilitator, roofs.id, outcome.id, {"title": "Gent roofs", "city": "Gent", "country": "BE"}
    )
    granted = await client.post(
        "/api/v1/research/grants",
        json={"email": researcher.email, "community_id": community_id},
        headers=await api_token(client, (await make_account(rt, "admin")).email),
    )
    assert granted.status_code == 201, granted.text
    return {"community": community_id, "first": first, "second": second, "researcher": researcher}


async def _csv(client: Client, chart: str, query: str = "") -> list[dict[str, str]]:
    response = await client.get(f"/research/charts/{chart}/data.csv" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_every_chart_counts_what_consent_allows(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    await login(client, world["researcher"].email)
    page = await client.get("/research/charts")
    assert page.status_code == 200
    assert page.text.count('class="chart"') == 8 and page.text.count("<summary>Data table</summary>") == 8
    assert page.text.count("/data.csv") == 8

    sdg = {(r["sdg"], r["topic"]): int(r["cases"]) for r in await _csv(client, "sdg_topics")}
    # Three cases reach this researcher: the two shared and the one derived from an outcome (it
    # inherits the SDGs and topics of the case it grew from).
    assert sdg == {("7", "energy"): 2, ("7", "roofs"): 2, ("11", "energy"): 2, ("11", "roofs"): 2, ("11", "green"): 1}

    kinds = {(r["session"], r["activity"]): r for r in await _csv(client, "notes_by_activity")}
    assert kinds[("First", "Cases")]["booster"] == "1"  # Cy's booster is not counted
    assert kinds[("First", "Cases")]["barrier"] == "1" and kinds[("First", "Cases")]["question"] == "1"
    assert kinds[("Second", "Cases")]["action"] == "1"

    by_case = {r["case"]: (r["boosters"], r["barriers"]) for r in await _csv(client, "boosters_barriers_by_case")}
    assert by_case == {'\'=HYPERLINK("x")': ("1", "1"), "Street trees": ("1", "1")}
    by_topic = {r["topic"]: (r["boosters"], r["barriers"]) for r in await _csv(client, "boosters_barriers_by_topic")}
    assert by_topic == {"energy": ("1", "1"), "roofs": ("1", "1"), "green": ("1", "1")}

    people = {(r["city"], r["sector"]): int(r["participants"]) for r in await _csv(client, "participation")}
    assert people == {("Utrecht", "government"): 2, ("Utrecht", "citizen"): 1, ("Gent", "civil_society"): 1}

    funnel = {r["stage"]: int(r["outcomes"]) for r in await _csv(client, "outcome_funnel")}
    assert funnel == {"recorded": 2, "in_progress": 1, "adopted": 1}
    (adoption,) = await _csv(client, "time_to_adoption")
    assert adoption["outcome"] == "Gent adapts roofs" and adoption["days"] == "30"

    returning = [(r["session"], r["new"], r["returning"]) for r in await _csv(client, "returning_members")]
    assert returning == [("First", "2", "0"), ("Second", "1", "1")]
    # The API gives the same tables.
    api = await client.get("/api/v1/research/charts", headers=await api_token(client, world["researcher"].email))
    assert api.status_code == 200
    assert api.json()["returning_members"] == {
        "columns": ["session", "new", "returning"],
        "rows": [["First", 2, 0], ["Second", 1, 1]],
    }
    assert "Cy&#39;s booster" not in page.text and "Cy's booster" not in page.text


async def test_filters_by_community_period_and_city(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    await login(client, world["researcher"].email)
    spring = "since=2026-01-01&until=2026-04-30"
    assert [r["session"] for r in await _csv(client, "returning_members", spring)] == ["First"]
    # The city filter is the session's for people (Ann from Utrecht came to the meeting in Gent) ...
    gent = {(r["city"], r["sector"]) for r in await _csv(client, "participation", "city=Gent")}
    assert gent == {("Utrecht", "government"), ("Gent", "civil_society")}
    # ... and the case's for cases.
    assert [r["case"] for r in await _csv(client, "boosters_barriers_by_case", "city=Gent")] == ["Street trees"]
    assert len(await _csv(client, "outcome_funnel", f"community_id={world['community']}")) == 3
    page = await client.get(f"/research/charts?{spring}&community_id={world['community']}")
    assert page.status_code == 200 and 'value="2026-01-01"' in page.text


async def test_bad_filters_get_a_clear_answer(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    await login(client, world["researcher"].email)
    page = await client.get("/research/charts?since=yesterday")
    assert page.status_code == 400 and 'id="f-since-error"' in page.text
    page = await client.get("/research/charts?since=2026-05-01&until=2026-01-01")
    assert page.status_code == 400 and "The period ends before it starts." in page.text
    assert (await client.get("/research/charts/sdg_topics/data.csv?until=soon")).status_code == 400
    assert (await client.get("/research/charts/nonsense/data.csv")).status_code == 404
    assert (await client.get("/research/charts?community_id=999")).status_code == 404
    # A community the account may not see is as unknown as one that does not exist.
    other = await make_account(rt, "researcher")
    await login(client, other.email)
    assert (await client.get(f"/research/charts?community_id={world['community']}")).status_code == 404
    empty = await _csv(client, "participation")
    assert empty == []


async def test_the_sdg_heatmap_names_each_goal_with_its_colour(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    await login(client, world["researcher"].email)
    section = (await client.get("/research/charts")).text.split('id="chart-sdg_topics"')[1].split("</section>")[0]
    svg, table = section.split("</svg>")
    # The picture: each row is the goal's name after a swatch of its official colour with its number.
    assert "Affordable and clean energy" in svg and "Sustainable cities and communities" in svg
    assert 'fill="#FCC30B"' in svg and 'fill="#FD9D24"' in svg and "SDG 7" not in svg
    # The data table: the same colour, number and name in the row header.
    assert '<th scope="row"><span class="sdg" style="--sdg: #FCC30B; --sdg-ink: #000000">' in table
    assert "Affordable and clean energy" in table
    rows = await _csv(client, "sdg_topics")
    assert {(r["sdg"], r["sdg_name"]) for r in rows} == {
        ("7", "Affordable and clean energy"),
        ("11", "Sustainable cities and communities"),
    }
    # In Dutch: the names the Dutch government uses, on screen and in the CSV.
    client.cookies.set("labs_lang", "nl")
    dutch = (await client.get("/research/charts")).text.split('id="chart-sdg_topics"')[1].split("</section>")[0]
    assert all("Betaalbare en duurzame energie" in part for part in dutch.split("</svg>"))  # picture, table
    assert {r["sdg_name"] for r in await _csv(client, "sdg_topics")} == {
        "Betaalbare en duurzame energie",
        "Duurzame steden en gemeenschappen",
    }
    api = await client.get("/api/v1/research/charts", headers=await api_token(client, world["researcher"].email))
    assert api.json()["sdg_topics"]["columns"] == ["sdg", "sdg_name", "topic", "cases"]
