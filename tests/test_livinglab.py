"""A living lab through HTTP: its Theory of Change edited with the page's forms (no cycles, clear
messages, nothing saved from bad input), drawn as SVG, its history on the community's stream,
outcomes attached to nodes; indicators with measurements by hand, from CSV (line-numbered errors,
nothing written from a bad file) and from a closed live scale."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from labs.models import FollowUp
from tests.conftest import api_token, csrf, login, make_account
from tests.test_followups_send import Inbox, inbox, send  # noqa: F401 (fixtures)


async def _lab(client: AsyncTestClient[Any], name: str = "Energiek Zuid", kind: str = "living_lab") -> int:
    """A living lab made through the communities form (by the logged-in facilitator)."""
    made = await client.post(
        "/communities/new", data=_form(client, name=name, kind=kind, city="Eindhoven"), follow_redirects=False
    )
    assert made.status_code in (302, 303), made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


async def _facilitator(client: AsyncTestClient[Any], rt: Any) -> Any:
    account = await make_account(rt)
    await login(client, account.email)
    return account


def _form(client: AsyncTestClient[Any], **fields: Any) -> dict[str, Any]:
    return {**fields, "_csrf_token": client.cookies.get("labs_csrf", "")}


async def _add(client: AsyncTestClient[Any], lab: int, kind: str, title: str, **extra: Any) -> int:
    response = await client.post(
        f"/livinglabs/{lab}/toc/nodes", data=_form(client, kind=kind, title=title, **extra), follow_redirects=False
    )
    assert response.status_code in (302, 303), response.text
    page = (await client.get(f"/livinglabs/{lab}")).text
    ids = re.findall(
        r'<li id="node-(\d+)" class="toc-node card" data-kind="' + kind + r'">\s*<h4>' + re.escape(title), page
    )
    assert ids, page[page.find("toc-node") - 200 : page.find("toc-node") + 300]
    return int(ids[-1])


async def _link(client: AsyncTestClient[Any], lab: int, a: int, b: int) -> Any:
    return await client.post(
        f"/livinglabs/{lab}/toc/links", data=_form(client, from_id=a, to_id=b), follow_redirects=False
    )


async def _chain(client: AsyncTestClient[Any], lab: int) -> dict[str, int]:
    ids = {
        "act": await _add(client, lab, "activity", "Energy cafés in the street"),
        "out": await _add(client, lab, "output", "Households get a free energy scan"),
        "short": await _add(client, lab, "short_term", "Households insulate"),
        "long": await _add(client, lab, "long_term", "Lower energy bills"),
        "impact": await _add(client, lab, "impact", "A fair heat transition in the district"),
    }
    for a, b in (("act", "out"), ("out", "short"), ("short", "long"), ("long", "impact")):
        assert (await _link(client, lab, ids[a], ids[b])).status_code in (302, 303)
    return ids


async def test_theory_of_change_edit_picture_history(client: AsyncTestClient[Any], rt: Any) -> None:
    await _facilitator(client, rt)
    lab = await _lab(client)
    ids = await _chain(client, lab)
    barrier = await _add(client, lab, "barrier", "Landlords wait", about_id=ids["short"])
    await _add(client, lab, "actor", "Housing corporation")
    await _add(client, lab, "assumption", "Tenants trust neighbours more than the city", about_id=ids["act"])

    page = (await client.get(f"/livinglabs/{lab}")).text
    assert "Leads to: Households get a free energy scan" in page and "About: Households insulate" in page
    svg = await client.get(f"/livinglabs/{lab}/toc.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count('class="leads-to"') == 4 and svg.text.count('class="about"') == 2
    assert svg.text.count('<g class="node"') == 8 and "Landlords wait" in svg.text

    # A cycle is refused with the reason; nothing is saved.
    cycle = await _link(client, lab, ids["impact"], ids["act"])
    assert cycle.status_code == 400
    assert "this link would make a cycle" in cycle.text and 'aria-invalid="true"' in cycle.text
    self_link = await _link(client, lab, ids["out"], ids["out"])
    assert self_link.status_code == 400 and "cannot lead to itself" in self_link.text
    factor_link = await _link(client, lab, barrier, ids["long"])
    assert factor_link.status_code == 400 and "Links join steps of the chain" in factor_link.text
    twice = await _link(client, lab, ids["act"], ids["out"])
    assert twice.status_code == 409
    empty = await client.post(f"/livinglabs/{lab}/toc/nodes", data=_form(client, kind="output", title=" "))
    assert empty.status_code == 400 and "The title is required." in empty.text
    bad_kind = await client.post(f"/livinglabs/{lab}/toc/nodes", data=_form(client, kind="wish", title="X"))
    assert bad_kind.status_code == 400
    svg_after = (await client.get(f"/livinglabs/{lab}/toc.svg")).text
    assert svg_after.count('class="leads-to"') == 4 and svg_after.count('<g class="node"') == 8

    # Edit a node; remove a link; the history lists every change, newest first, as events.
    edited = await client.post(
        f"/livinglabs/{lab}/toc/nodes/{ids['short']}",
        data=_form(client, kind="short_term", title="Households insulate their homes", description="Roof and floor"),
        follow_redirects=False,
    )
    assert edited.status_code in (302, 303)
    link_ids = re.findall(r"/toc/links/(\d+)/delete", (await client.get(f"/livinglabs/{lab}")).text)
    assert len(link_ids) == 4
    removed = await client.post(f"/livinglabs/{lab}/toc/links/{link_ids[-1]}/delete", data=_form(client))
    assert removed.status_code == 200
    history = (await client.get(f"/livinglabs/{lab}/history")).text
    types = re.findall(r'<tr data-type="([\w.]+)">', history)
    assert types, history[history.find("<main") :][:3000]
    assert types[:2] == ["toc.link_removed", "toc.node_updated"]
    assert types.count("toc.node_added") == 8 and types.count("toc.link_added") == 4
    assert "Households insulate their homes" in history


async def test_outcomes_attach_to_nodes(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    lab = await _lab(client)
    node = await _add(client, lab, "short_term", "Households insulate")
    from labs.services import outcomes

    outcome = await outcomes.record_outcome(
        rt,
        account,
        None,
        {
            "community_id": lab,
            "kind": "new_practice",
            "title": "Street buys insulation together",
            "what_changed": "Twelve households bought insulation together.",
        },
        {},
    )
    attached = await client.post(
        f"/livinglabs/{lab}/toc/nodes/{node}/outcomes",
        data=_form(client, outcome_id=outcome.id),
        follow_redirects=False,
    )
    assert attached.status_code in (302, 303)
    page = (await client.get(f"/livinglabs/{lab}")).text
    assert "Recorded outcomes:" in page and "Street buys insulation together" in page, page[page.find("<main") :][:4000]
    again = await client.post(f"/livinglabs/{lab}/toc/nodes/{node}/outcomes", data=_form(client, outcome_id=outcome.id))
    assert again.status_code == 409
    other = await client.post(f"/livinglabs/{lab}/toc/nodes/{node}/outcomes", data=_form(client, outcome_id=9999))
    assert other.status_code == 404


async def test_not_a_living_lab_and_roles(client: AsyncTestClient[Any], rt: Any) -> None:
    await _facilitator(client, rt)
    plain = await _lab(client, "Leergemeenschap", kind="learning_community")
    assert (await client.get(f"/livinglabs/{plain}")).status_code == 404
    assert (await client.get("/livinglabs/999")).status_code == 404
    lab = await _lab(client)
    researcher = await make_account(rt, "researcher")
    async with AsyncTestClient(app=client.app) as other:
        await login(other, researcher.email)
        assert (await other.get(f"/livinglabs/{lab}")).status_code == 200
        refused = await other.post(f"/livinglabs/{lab}/toc/nodes", data=_form(other, kind="output", title="X"))
        assert refused.status_code == 403
    # A facilitator who does not run this lab reads it but cannot change it.
    stranger = await make_account(rt)
    async with AsyncTestClient(app=client.app) as other:
        await login(other, stranger.email)
        assert (await other.get(f"/livinglabs/{lab}")).status_code == 200
        hidden = await other.post(f"/livinglabs/{lab}/toc/nodes", data=_form(other, kind="output", title="X"))
        assert hidden.status_code == 404
    community_page = (await client.get(f"/communities/{lab}")).text
    assert f'src="/livinglabs/{lab}/toc.svg"' in community_page


INDICATOR = {
    "name": "Households with insulation",
    "unit": "%",
    "direction": "higher",
    "source": "survey",
    "baseline": "22",
    "baseline_on": "2026-01-15",
    "target": "60",
    "target_on": "2028-01-15",
    "range_min": "0",
    "range_max": "100",
}


async def _indicator(client: AsyncTestClient[Any], lab: int, node: int, **changes: Any) -> Any:
    return await client.post(
        f"/livinglabs/{lab}/indicators",
        data=_form(client, node_id=node, **{**INDICATOR, **changes}),
        follow_redirects=False,
    )


async def test_indicators_measurements_csv_and_chart(client: AsyncTestClient[Any], rt: Any) -> None:
    await _facilitator(client, rt)
    lab = await _lab(client)
    node = await _add(client, lab, "short_term", "Households insulate")
    activity = await _add(client, lab, "activity", "Energy cafés")

    # Bad definitions: clear messages, nothing saved.
    early = await _indicator(client, lab, node, target_on="2025-12-31")
    assert early.status_code == 400 and "The target date must come after the baseline date." in early.text
    outside = await _indicator(client, lab, node, target="120")
    assert outside.status_code == 400 and "outside the declared range" in outside.text
    wrong_way = await _indicator(client, lab, node, direction="lower")
    assert wrong_way.status_code == 400 and "lower is better" in wrong_way.text
    not_outcome = await _indicator(client, lab, activity)
    assert not_outcome.status_code == 400 and "Indicators measure outcomes" in not_outcome.text
    assert "No indicators yet." in (await client.get(f"/livinglabs/{lab}/indicators")).text

    made = await _indicator(client, lab, node)
    assert made.status_code in (302, 303)
    url = made.headers["location"]
    iid = int(url.rsplit("/", 1)[1])

    by_hand = await client.post(
        f"{url}/measurements",
        data=_form(client, value="31", unit="%", measured_on="2026-06-01", wave="interim"),
        follow_redirects=False,
    )
    assert by_hand.status_code in (302, 303)
    wrong_unit = await client.post(
        f"{url}/measurements", data=_form(client, value="31", unit="kWh", measured_on="2026-06-01")
    )
    assert wrong_unit.status_code == 400 and "is not the indicator&#39;s unit (%)" in wrong_unit.text
    too_big = await client.post(f"{url}/measurements", data=_form(client, value="140", measured_on="2026-06-01"))
    assert too_big.status_code == 400 and "outside the declared range" in too_big.text

    bad_csv = "date,value,unit,wave\n2026-09-01,35,%,interim\n2026-10-01,abc,%,\n2026-11-01,40,kWh,\nnot-a-date,41,,\n"
    refused = await client.post(
        f"{url}/import", data=_form(client), files={"file": ("m.csv", bad_csv.encode(), "text/csv")}
    )
    assert refused.status_code == 400
    assert "Nothing was imported; 3 lines have errors" in refused.text
    assert "Line 3: value must be a number." in refused.text and "Line 4:" in refused.text and "Line 5:" in refused.text
    columns = await client.post(
        f"{url}/import", data=_form(client), files={"file": ("m.csv", b"when,amount\n2026-01-01,3\n", "text/csv")}
    )
    assert columns.status_code == 400 and "Line 1: the columns must be date and value" in columns.text
    latin = await client.post(
        f"{url}/import",
        data=_form(client),
        files={"file": ("m.csv", "date,value,note\n2026-01-01,3,é\n".encode("latin-1"), "text/csv")},
    )
    assert latin.status_code == 400 and "not UTF-8" in latin.text
    good_csv = "date;value;wave;note\n2026-09-01;35;interim;Street survey\n2027-01-10;44,5;endline;\n"
    imported = await client.post(
        f"{url}/import",
        data=_form(client),
        files={"file": ("m.csv", good_csv.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert imported.status_code in (302, 303), imported.text

    page = (await client.get(url)).text
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>[^<]*</td><td>([\d.]+) %</td>", page)
    assert rows == [("2027-01-10", "44.5"), ("2026-09-01", "35"), ("2026-06-01", "31")]
    assert page.count('class="measured"') == 3 and 'class="baseline"' in page and 'class="target"' in page
    listing = (await client.get(f"/livinglabs/{lab}/indicators")).text
    assert "44.5" in listing and "59%" in listing  # (44.5 - 22) / (60 - 22)
    history = (await client.get(f"/livinglabs/{lab}/history")).text
    assert re.findall(r'<tr data-type="([\w.]+)">', history).count("measurement.recorded") == 3
    assert iid


async def test_measurement_from_a_live_scale(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    lab = await _lab(client)
    node = await _add(client, lab, "short_term", "Residents feel ready for a heat network")
    made = await _indicator(
        client, lab, node, name="Readiness", unit="score", baseline="2.1", target="3.5", range_min="1", range_max="5"
    )
    url = made.headers["location"]
    headers = await api_token(client, account.email)
    session = (
        await client.post(
            "/api/v1/sessions",
            json={"title": "Street evening", "community_id": lab, "agenda": [{"title": "Hi"}]},
            headers=headers,
        )
    ).json()
    sid = session["id"]
    await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)
    poll = (
        await client.post(
            f"/api/v1/sessions/{sid}/polls",
            json={"kind": "scale", "question": "How ready?", "scale_min": 1, "scale_max": 5},
            headers=headers,
        )
    ).json()
    await client.post(f"/api/v1/sessions/{sid}/polls/{poll['id']}/status", json={"action": "open"}, headers=headers)

    open_poll = await client.post(f"{url}/from-poll", data=_form(client, poll_id=poll["id"]))
    assert open_poll.status_code == 404 or "No closed polls" in open_poll.text or open_poll.status_code == 409
    for points in (2, 4, 4):
        joined = await client.post(
            "/api/v1/join", json={"join_code": session["join_code"], "display_name": f"P{points}", "consent": "none"}
        )
        token = {"Authorization": f"Bearer {joined.json()['token']}"}
        answer = {"client_id": uuid.uuid4().hex, "number": points}
        assert (
            await client.post(f"/api/v1/sessions/{sid}/polls/{poll['id']}/answers", json=answer, headers=token)
        ).status_code == 201
    still_open = await client.post(f"{url}/from-poll", data=_form(client, poll_id=poll["id"]))
    assert still_open.status_code == 409 and "Close the poll first" in still_open.text
    await client.post(f"/api/v1/sessions/{sid}/polls/{poll['id']}/status", json={"action": "reveal"}, headers=headers)
    taken = await client.post(
        f"{url}/from-poll", data=_form(client, poll_id=poll["id"], wave="interim"), follow_redirects=False
    )
    assert taken.status_code in (302, 303), taken.text
    page = (await client.get(url)).text
    assert "3.33 score" in page and f'href="/sessions/{sid}"' in page, page[page.find("<tbody") :][:1500]
    assert csrf(client)


async def test_json_api(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    lab = await _lab(client)
    headers = await api_token(client, account.email)
    base = f"/api/v1/livinglabs/{lab}"
    assert [x["id"] for x in (await client.get("/api/v1/livinglabs", headers=headers)).json()] == [lab]
    a = (await client.post(f"{base}/toc/nodes", json={"kind": "activity", "title": "Cafés"}, headers=headers)).json()
    b = (
        await client.post(f"{base}/toc/nodes", json={"kind": "short_term", "title": "Insulate"}, headers=headers)
    ).json()
    assert (
        await client.post(f"{base}/toc/links", json={"from_id": a["id"], "to_id": b["id"]}, headers=headers)
    ).status_code == 201
    cycle = await client.post(f"{base}/toc/links", json={"from_id": b["id"], "to_id": a["id"]}, headers=headers)
    assert cycle.status_code == 400 and cycle.json()["errors"]["to_id"] == "This link would make a cycle."
    theory = (await client.get(f"{base}/toc", headers=headers)).json()
    assert len(theory["nodes"]) == 2 and len(theory["links"]) == 1
    body = {**INDICATOR, "node_id": b["id"], "baseline": 22, "target": 60}
    made = await client.post(f"{base}/indicators", json=body, headers=headers)
    assert made.status_code == 201, made.text
    iid = made.json()["id"]
    late = await client.post(f"{base}/indicators", json={**body, "target_on": "2025-01-01"}, headers=headers)
    assert late.status_code == 400 and late.json()["errors"]["target_on"]
    m = await client.post(
        f"{base}/indicators/{iid}/measurements", json={"value": 30, "measured_on": "2026-05-01"}, headers=headers
    )
    assert m.status_code == 201
    bad = await client.post(
        f"{base}/indicators/{iid}/measurements/import", json={"csv": "date,value\n2026-06-01,x\n"}, headers=headers
    )
    assert bad.status_code == 400 and "Line 2" in bad.json()["detail"]
    good = await client.post(
        f"{base}/indicators/{iid}/measurements/import", json={"csv": "date,value\n2026-06-01,33\n"}, headers=headers
    )
    assert good.status_code == 201 and good.json()["imported"] == 1
    course = (await client.get(f"{base}/indicators", headers=headers)).json()[0]
    assert [x["value"] for x in course["measurements"]] == [30, 33] and course["on_track"] is False
    log = (await client.get(f"{base}/events", headers=headers)).json()
    assert [e["type"] for e in log["events"]] == [
        "community.created",
        "toc.node_added",
        "toc.node_added",
        "toc.link_added",
        "indicator.defined",
        "measurement.recorded",
        "measurement.recorded",
    ]
    assert log["last_seq"] == 7 and [e["seq"] for e in log["events"]] == [1, 2, 3, 4, 5, 6, 7]


async def test_experiment_learning_log_and_case(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    lab = await _lab(client)
    ids = await _chain(client, lab)
    link_id = re.findall(r"/toc/links/(\d+)/delete", (await client.get(f"/livinglabs/{lab}")).text)[1]  # out -> short
    missing = await client.post(f"/livinglabs/{lab}/experiments", data=_form(client, title="Street ambassadors"))
    assert missing.status_code == 400 and "The hypothesis is required." in missing.text
    bad_sdg = await client.post(
        f"/livinglabs/{lab}/experiments", data=_form(client, title="X", hypothesis="Y", sdgs="18")
    )
    assert bad_sdg.status_code == 400 and "There is no SDG 18" in bad_sdg.text
    made = await client.post(
        f"/livinglabs/{lab}/experiments",
        data=_form(
            client,
            title="Street ambassadors",
            link_id=link_id,
            topics="energy, insulation",
            sdgs="7, 11",
            hypothesis="If neighbours explain the scan, more households insulate, because they trust neighbours.",
        ),
        follow_redirects=False,
    )
    assert made.status_code in (302, 303), made.text
    url = made.headers["location"]
    page = (await client.get(url)).text
    assert "Tests the link: Households get a free energy scan → Households insulate" in page

    late = await client.post(
        f"{url}/actions", data=_form(client, title="Train ambassadors", owner="Fatima", due_on="soon")
    )
    assert late.status_code == 400 and "The due date must be a date" in late.text
    added = await client.post(
        f"{url}/actions",
        data=_form(client, title="Train ambassadors", owner="Fatima", due_on="2026-03-01"),
        follow_redirects=False,
    )
    assert added.status_code in (302, 303)
    headers = await api_token(client, account.email)
    sid = (
        await client.post(
            "/api/v1/sessions", json={"title": "Ambassador evening", "community_id": lab}, headers=headers
        )
    ).json()["id"]
    linked = await client.post(f"{url}/sessions", data=_form(client, session_id=sid), follow_redirects=False)
    assert linked.status_code in (302, 303)
    early_case = await client.post(f"{url}/case", data=_form(client, city="Eindhoven", country="NL"))
    assert early_case.status_code == 409 and "Evaluate the experiment first" in early_case.text

    no_evidence = await client.post(
        f"{url}/evaluation", data=_form(client, result="worked", tried="Six ambassadors", why="Trust")
    )
    assert no_evidence.status_code == 400 and "The evidence is required." in no_evidence.text
    evaluated = await client.post(
        f"{url}/evaluation",
        data=_form(
            client,
            result="partly",
            tried="Six ambassadors visited 140 homes",
            worked="Tenants asked for scans",
            did_not_work="Owner-occupiers stayed away",
            for_whom="Tenants of the corporation",
            context="Post-war flats",
            why="Tenants trust neighbours; owners wait for subsidies",
            evidence="Scan requests: 38 (was 9)",
        ),
        follow_redirects=False,
    )
    assert evaluated.status_code in (302, 303)
    page = (await client.get(url)).text
    assert "Partly worked" in page and "Owner-occupiers stayed away" in page and "Ambassador evening" in page
    assert "Train ambassadors" in page
    case = await client.post(f"{url}/case", data=_form(client, city="Eindhoven", country="NL"), follow_redirects=False)
    assert case.status_code in (302, 303), case.text
    found = (await client.get("/api/v1/cases?q=Street ambassadors", headers=headers)).json()["items"]
    assert any(c["title"] == "Street ambassadors" and c["boosters"] == "Tenants asked for scans" for c in found)
    assert (await client.post(f"{url}/case", data=_form(client))).status_code == 409
    log = (await client.get(f"/api/v1/livinglabs/{lab}/events", headers=headers)).json()["events"]
    assert [e["type"] for e in log if e["type"].startswith("experiment.")] == [
        "experiment.planned",
        "experiment.action_added",
        "experiment.session_linked",
        "experiment.evaluated",
        "experiment.case_made",
    ]
    assert ids


async def test_compare_labs_and_iati_export(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    north, south = await _lab(client, "Zon op Noord"), await _lab(client, "Warm Zuid")
    headers = await api_token(client, account.email)
    for lab, latest in ((north, "41"), (south, "25")):
        node = await _add(client, lab, "short_term", "Households insulate")
        await _add(client, lab, "barrier", "Landlords wait")
        url = (await _indicator(client, lab, node)).headers["location"]
        for day, value in (("2026-06-01", "30"), ("2027-03-01", latest)):
            await client.post(f"{url}/measurements", data=_form(client, value=value, measured_on=day))
        made = await client.post(
            f"/livinglabs/{lab}/experiments",
            data=_form(client, title=f"Ambassadors {lab}", hypothesis="Neighbours convince", topics="energy", sdgs="7"),
            follow_redirects=False,
        )
        result = "worked" if lab == north else "did_not_work"
        await client.post(
            f"{made.headers['location']}/evaluation",
            data=_form(client, result=result, tried="Visits", worked="Trust", why="Neighbours", evidence="Counts"),
        )
    await _add(client, south, "booster", "A trusted local energy coach")

    page = (await client.get("/livinglabs/compare")).text
    assert page.count('data-recurs="yes"') == 1 and "Warm Zuid, Zon op Noord" in page
    assert (
        "Ambassadors" in page and f"Ambassadors {north}" in page and f"Ambassadors {south}" not in page
    )  # only what worked
    assert "50%" in page  # north: (41 - 22) / (60 - 22)
    none_for_sdg = (await client.get("/livinglabs/compare?sdg=3")).text
    assert "No finished experiment that worked matches." in none_for_sdg
    by_topic = (await client.get("/livinglabs/compare?topic=energy")).text
    assert f"Ambassadors {north}" in by_topic

    data = (await client.get("/api/v1/livinglabs/results", headers=headers)).json()["results"]
    assert [lab["living_lab"]["name"] for lab in data] == ["Warm Zuid", "Zon op Noord"]
    indicator = data[1]["result"][0]["indicator"][0]
    assert data[1]["result"][0]["type"] == "outcome" and indicator["ascending"] is True
    assert indicator["baseline"] == {"iso_date": "2026-01-15", "year": 2026, "value": 22.0}
    assert indicator["period"] == [
        {"period_start": "2026-01-15", "period_end": "2026-12-31", "actual": {"value": 30.0, "iso_date": "2026-06-01"}},
        {"period_start": "2027-01-01", "period_end": "2027-12-31", "actual": {"value": 41.0, "iso_date": "2027-03-01"}},
        {"period_start": "2028-01-01", "period_end": "2028-12-31", "target": {"value": 60.0}},
    ]
    exported = await client.get("/livinglabs/compare/results.csv")
    lines = exported.text.strip().splitlines()
    assert (
        lines[0] == "living_lab,result,result_type,indicator,measure,ascending,baseline_date,baseline,"
        "period_start,period_end,target,actual"
    )
    assert (
        len(lines) == 7
        and "Zon op Noord,Households insulate,outcome,Households with insulation,%,1,2026-01-15,22.0,"
        "2027-01-01,2027-12-31,,41.0"
        in lines
    )
    assert (await client.get("/livinglabs/compare/results.json")).json()["results"] == data


async def test_indicator_definition_changes_keep_measurements_in_range(client: AsyncTestClient[Any], rt: Any) -> None:
    await _facilitator(client, rt)
    lab = await _lab(client)
    node = await _add(client, lab, "short_term", "Households insulate")
    url = (await _indicator(client, lab, node)).headers["location"]
    await client.post(f"{url}/measurements", data=_form(client, value="31", measured_on="2026-06-01"))
    narrower = await client.post(f"{url}/edit", data=_form(client, **{**INDICATOR, "range_max": "30", "target": "29"}))
    assert narrower.status_code == 400 and "A measurement (31) lies outside this range." in narrower.text
    changes = {**INDICATOR, "name": "Insulated homes", "range_min": ""}
    renamed = await client.post(f"{url}/edit", data=_form(client, **changes), follow_redirects=False)
    assert renamed.status_code in (302, 303)
    page = (await client.get(url)).text
    assert "Insulated homes (%)" in page and "31 %" in page


async def _finished_experiment(client: AsyncTestClient[Any], lab: int, title: str = "Street ambassadors") -> str:
    made = await client.post(
        f"/livinglabs/{lab}/experiments",
        data=_form(client, title=title, hypothesis="Neighbours convince", topics="energy", sdgs="7"),
        follow_redirects=False,
    )
    url: str = made.headers["location"]
    evaluated = await client.post(
        f"{url}/evaluation",
        data=_form(client, result="worked", tried="Visits", worked="Trust", why="Neighbours", evidence="Counts"),
        follow_redirects=False,
    )
    assert evaluated.status_code in (302, 303), evaluated.text
    return url


async def test_a_finished_experiment_becomes_a_case_in_one_change(
    client: AsyncTestClient[Any], rt: Any, monkeypatch: Any
) -> None:
    """The case, the experiment's link to it and both events are one transaction: when the second
    event fails after the case was made, neither the case nor the link nor any event is kept."""
    from labs import catalogue, events
    from labs.errors import Conflict

    account = await _facilitator(client, rt)
    headers = await api_token(client, account.email)
    lab = await _lab(client)
    url = await _finished_experiment(client, lab, "Warmth by neighbours")
    emit = events.Change.emit

    async def failing(self: Any, stream: Any, payload: Any, actor: Any) -> Any:
        if isinstance(payload, catalogue.ExperimentCaseMade):
            raise Conflict("Forced failure after the case was made.")
        return await emit(self, stream, payload, actor)

    before = (await client.get(f"/api/v1/livinglabs/{lab}/events", headers=headers)).json()["last_seq"]
    monkeypatch.setattr(events.Change, "emit", failing)
    failed = await client.post(f"{url}/case", data=_form(client, city="Eindhoven", country="NL"))
    assert failed.status_code == 409 and "Forced failure" in failed.text
    monkeypatch.undo()
    assert (await client.get("/api/v1/cases?q=Warmth by neighbours", headers=headers)).json()["items"] == []
    assert (await client.get(f"/api/v1/livinglabs/{lab}/events", headers=headers)).json()["last_seq"] == before
    assert "Make it a case" in (await client.get(url)).text  # still not linked to a case

    made = await client.post(f"{url}/case", data=_form(client, city="Eindhoven", country="NL"), follow_redirects=False)
    assert made.status_code in (302, 303), made.text
    case_id = int(made.headers["location"].rsplit("-", 1)[1])
    found = (await client.get("/api/v1/cases?q=Warmth by neighbours", headers=headers)).json()["items"]
    assert [c["id"] for c in found] == [case_id]
    case_log = (await client.get(f"/api/v1/streams/case/{case_id}/events", headers=headers)).json()["events"]
    lab_log = (await client.get(f"/api/v1/livinglabs/{lab}/events", headers=headers)).json()["events"]
    assert [e["type"] for e in case_log] == ["case.created"]
    assert lab_log[-1]["type"] == "experiment.case_made" and lab_log[-1]["data"]["case_id"] == case_id
    assert "In the case library as: Warmth by neighbours" in (await client.get(url)).text


async def test_community_events_is_an_alias_of_the_stream(client: AsyncTestClient[Any], rt: Any) -> None:
    account = await _facilitator(client, rt)
    headers = await api_token(client, account.email)
    lab = await _lab(client)
    await _add(client, lab, "activity", "Energy cafés")
    alias = await client.get(f"/api/v1/communities/{lab}/events?after=0&limit=10", headers=headers)
    generic = await client.get(f"/api/v1/streams/community/{lab}/events?after=0&limit=10", headers=headers)
    assert alias.status_code == generic.status_code == 200
    assert alias.json() == generic.json() and alias.json()["last_seq"] >= 2
    assert (await client.get(f"/api/v1/communities/{lab}/events?limit=0", headers=headers)).status_code == 400
    other = await make_account(rt)
    other_headers = await api_token(client, other.email)
    assert (await client.get(f"/api/v1/communities/{lab}/events", headers=other_headers)).status_code == 404


async def test_returning_members_in_the_comparison(client: AsyncTestClient[Any], rt: Any) -> None:
    """Two sessions of one lab, one person in both (the lab's device token): one returning member,
    counted in the month of the second session, once even when they join twice that month."""
    account = await _facilitator(client, rt)
    headers = await api_token(client, account.email)
    lab = await _lab(client, "Zon op Noord")
    codes = []
    for title, starts in (
        ("Café 1", "2026-03-02T19:00:00+00:00"),
        ("Café 2", "2026-05-04T19:00:00+00:00"),
        ("Café 3", "2026-05-25T19:00:00+00:00"),
    ):
        body = {"title": title, "community_id": lab, "starts_at": starts, "agenda": [{"title": "Ideas"}]}
        sid = (await client.post("/api/v1/sessions", json=body, headers=headers)).json()["id"]
        codes.append((await client.post(f"/api/v1/sessions/{sid}/start", headers=headers)).json()["join_code"])

    async def join(code: str, name: str, device: str | None = None) -> dict[str, Any]:
        body = {"join_code": code, "display_name": name, "consent": "anonymous", "device_token": device}
        joined = await client.post("/api/v1/join", json=body)
        assert joined.status_code == 201, joined.text
        return joined.json()  # type: ignore[no-any-return]

    ann = await join(codes[0], "Ann")
    await join(codes[0], "Bob")
    assert (await join(codes[1], "Ann", ann["device_token"]))["member_id"] == ann["member_id"]
    await join(codes[1], "Cas")
    await join(codes[2], "Ann", ann["device_token"])
    page = (await client.get("/livinglabs/compare")).text
    rows = re.findall(r"<tr><td>Zon op Noord</td><td>([\d-]+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", page)
    assert rows == [("2026-03", "1", "2", "0"), ("2026-05", "2", "3", "1")]


async def test_experiment_actions_are_follow_ups_with_private_links(
    client: AsyncTestClient[Any],
    rt: Any,
    migrated: str,
    tmp_path: Path,
    inbox: tuple[Inbox, int],  # noqa: F811 (the fixture)
) -> None:
    """An action with an owner and a due date is a follow-up: its private link is on the experiment
    page and in /followups (due, overdue), `labs followups send` mails it, the owner answers on the
    phone form, and the answer is in the experiment's learning log."""
    handler, port = inbox
    account = await _facilitator(client, rt)
    headers = await api_token(client, account.email)
    lab = await _lab(client)
    made = await client.post(
        f"/livinglabs/{lab}/experiments",
        data=_form(client, title="Street ambassadors", hypothesis="Neighbours convince neighbours"),
        follow_redirects=False,
    )
    url = made.headers["location"]
    today = date.today()
    bad = await client.post(
        f"{url}/actions",
        data=_form(client, title="Train ambassadors", owner="Fatima", owner_email="fatima@", due_on=today.isoformat()),
    )
    assert bad.status_code == 400 and "email is not an email address." in bad.text
    for title, owner, email, days in (
        ("Train ambassadors", "Fatima", "fatima@zonnewijk.example", -20),
        ("Invite the landlords", "Esra", "", 10),
    ):
        added = await client.post(
            f"{url}/actions",
            data=_form(client, title=title, owner=owner, owner_email=email, due_on=str(today + timedelta(days=days))),
            follow_redirects=False,
        )
        assert added.status_code in (302, 303), added.text
    page = (await client.get(url)).text
    links = re.findall(r'value="http://[^"]+(/followup/[^"]+)"', page)
    assert len(links) == 2 and "Overdue" in page and "Upcoming" in page
    assert "No answers from the action owners yet." in page

    overdue = (await client.get("/followups?state=overdue")).text
    assert "Train ambassadors" in overdue and "fatima@zonnewijk.example" in overdue
    upcoming = (await client.get("/api/v1/follow-ups?state=upcoming", headers=headers)).json()["items"]
    assert [(i["outcome_title"], i["owner"]["name"]) for i in upcoming] == [("Invite the landlords", "Esra")]

    # Two weeks past due is still in the mail run's window: the owner gets the link by email.
    async with rt.db.write() as db:
        await db.execute(update(FollowUp).where(FollowUp.due_on < today).values(due_on=today - timedelta(days=3)))
    sent = send(migrated, tmp_path, f"smtp://127.0.0.1:{port}")
    assert sent.returncode == 0 and "1 check-in(s) sent" in sent.stdout, sent.stderr
    (mail,) = handler.messages
    assert mail["To"] == "Fatima <fatima@zonnewijk.example>"
    assert "In the experiment Street ambassadors you took on this action: Train ambassadors." in mail.get_content()
    link = next(line for line in mail.get_content().splitlines() if "/followup/" in line)
    token = link.rsplit("/", 1)[1]
    assert f"/followup/{token}" in links

    client.cookies.clear()  # the owner has no account
    form = await client.get(f"/followup/{token}")
    assert form.status_code == 200 and "Experiment: Street ambassadors" in form.text
    assert (await client.get(f"/api/v1/check-ins/{token}")).json()["experiment"] == {"title": "Street ambassadors"}
    answered = await client.post(
        f"/followup/{token}",
        data=_form(client, progress="in_progress", what_was_done="Six ambassadors trained", evidence="Sign-up list"),
    )
    assert answered.status_code in (200, 303), answered.text
    await login(client, account.email)
    page = (await client.get(url)).text
    log = page[page.index('id="learning-log"') : page.index('id="evaluation"')]
    assert "Train ambassadors" in log and "Six ambassadors trained" in log and "In progress" in log
    assert "Answered" in page
    lab_log = (await client.get(f"/api/v1/livinglabs/{lab}/events", headers=headers)).json()["events"]
    added_events = [e["data"] for e in lab_log if e["type"] == "experiment.action_added"]
    assert [a["title"] for a in added_events] == ["Train ambassadors", "Invite the landlords"]
    outcome_log = (
        await client.get(f"/api/v1/streams/outcome/{added_events[0]['outcome_id']}/events", headers=headers)
    ).json()["events"]
    assert [e["type"] for e in outcome_log] == [
        "outcome.recorded",
        "followup.scheduled",
        "followup.sent",
        "followup.answered",
    ]
    assert outcome_log[0]["data"]["experiment_id"] == int(url.rsplit("/", 1)[1])
