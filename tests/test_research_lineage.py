"""Lineage: the trace shared case -> session -> feedback notes and cluster -> outcome -> follow-up
-> adoption in another city -> derived case -> shared again, for a case, a session and a
community; drawn as SVG with a dated list; GraphML read back by networkx and PROV-JSON by prov;
notes that are hidden or whose authors chose no research use never appear."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import networkx as nx
from litestar.testing import AsyncTestClient
from prov.model import ProvDocument

from labs.services import cases, followups, outcomes
from tests.conftest import api_token, login, make_account

Client = AsyncTestClient[Any]


@dataclass
class Trace:
    community_id: int
    first: int
    second: int
    case_id: int
    derived_id: int
    outcome_id: int
    notes: dict[str, int]
    researcher: Any


async def _note(client: Client, sid: int, who: dict[str, str], body: str, kind: str, case_id: int) -> int:
    response = await client.post(
        f"/api/v1/sessions/{sid}/notes",
        json={"client_id": str(uuid.uuid4()), "body": body, "kind": kind, "case_id": case_id},
        headers=who,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _session(client: Client, headers: dict[str, str], title: str, community_id: int, city: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/sessions",
        json={"title": title, "agenda": [{"title": "Case", "minutes": 20}], "community_id": community_id, "city": city},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    await client.post(f"/api/v1/sessions/{response.json()['id']}/start", headers=headers)
    return response.json()  # type: ignore[no-any-return]


async def build(client: Client, rt: Any) -> Trace:
    facilitator, researcher = await make_account(rt), await make_account(rt, "researcher")
    headers = await api_token(client, facilitator.email)
    made = await client.post("/api/v1/communities", json={"name": "Warm neighbourhoods"}, headers=headers)
    assert made.status_code == 201, made.text
    community_id = made.json()["id"]
    case = await cases.create_case(
        rt, facilitator, {"title": "Street ambassadors", "city": "Groningen", "country": "NL", "sdgs": [7, 11]}
    )
    first = await _session(client, headers, "Meeting one", community_id, "Groningen")
    await client.post(f"/api/v1/sessions/{first['id']}/cases", json={"case_id": case.id}, headers=headers)
    join = {"join_code": first["join_code"], "display_name": "Ann", "consent": "named"}
    ann = {"Authorization": "Bearer " + (await client.post("/api/v1/join", json=join)).json()["token"]}
    join = {"join_code": first["join_code"], "display_name": "Cy", "consent": "none"}
    cy = {"Authorization": "Bearer " + (await client.post("/api/v1/join", json=join)).json()["token"]}
    notes = {
        "trust": await _note(client, first["id"], ann, "Neighbours trust neighbours", "booster", case.id),
        "tenants": await _note(client, first["id"], ann, "Tenants are left out", "barrier", case.id),
        "private": await _note(client, first["id"], cy, "Cy's private remark", "insight", case.id),
        "hidden": await _note(client, first["id"], ann, "Off-topic rant", "idea", case.id),
    }
    await client.post(
        f"/api/v1/sessions/{first['id']}/notes/{notes['hidden']}/moderation", json={"action": "hide"}, headers=headers
    )
    clustered = await client.put(
        f"/api/v1/sessions/{first['id']}/notes/{notes['tenants']}/cluster", json={"name": "Tenants"}, headers=headers
    )
    outcome = await outcomes.record_outcome(
        rt,
        facilitator,
        first["id"],
        {
            "kind": "adapted_practice",
            "title": "Zwolle adapts the ambassadors",
            "what_changed": "A pilot",
            "where": "Zwolle",
        },
        {"note_ids": [notes["trust"]], "cluster_ids": [clustered.json()["cluster_id"]], "case_ids": [case.id]},
    )
    # The owner answers the first check-in through its private link: adapted in Zwolle.
    check = (await outcomes.view(rt, facilitator, outcome.id)).follow_ups[0]
    await followups.answer(
        rt,
        outcomes.token_of(rt, check),
        {
            "progress": "adapted",
            "what_was_done": "Six ambassadors started.",
            "adopting_city": "Zwolle",
            "adaptations": "Tenants first",
        },
    )
    derived = await cases.derive_case(
        rt, facilitator, case.id, outcome.id, {"title": "Warm Holtenbroek", "city": "Zwolle", "country": "NL"}
    )
    second = await _session(client, headers, "Meeting two", community_id, "Zwolle")
    await client.post(f"/api/v1/sessions/{second['id']}/cases", json={"case_id": derived.id}, headers=headers)
    granted = await client.post(
        "/api/v1/research/grants", json={"email": researcher.email, "session_id": first["id"]}, headers=headers
    )
    assert granted.status_code == 201
    return Trace(community_id, first["id"], second["id"], case.id, derived.id, outcome.id, notes, researcher)


async def test_the_trace_of_a_case_on_screen(client: Client, rt: Any) -> None:
    trace = await build(client, rt)
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    page = await client.get(f"/research/cases/{trace.derived_id}/lineage")
    assert page.status_code == 200
    text = page.text
    # The whole family, from the original case to the derived case and the session it was shared in again.
    for label in (
        "Street ambassadors",
        "Meeting one",
        "Neighbours trust neighbours",
        "Tenants",
        "Zwolle adapts",
        "Six ambassadors started.",
        "Adopted in Zwolle",
        "Warm Holtenbroek",
        "Meeting two",
    ):
        assert label in text, label
    assert "Cy&#39;s private remark" not in text and "Cy's private remark" not in text
    assert "Off-topic rant" not in text
    # Drawn: every node a link, shapes per kind, cities labelled; the dated list beside it.
    assert text.count('class="lineage-node') == text.count('<li id="node-')
    assert f'href="/research/cases/{trace.case_id}/lineage"' in text
    assert f'href="/research/sessions/{trace.first}/lineage"' in text
    assert "<polygon" in text and "<circle" in text
    assert ">Groningen<" in text and ">Zwolle<" in text
    assert 'id="list-heading"' in text and text.count('<li id="node-') >= 9


async def test_graphml_reads_back_with_networkx(client: Client, rt: Any, tmp_path: Any) -> None:
    trace = await build(client, rt)
    await login(client, trace.researcher.email)
    response = await client.get(f"/research/sessions/{trace.first}/lineage.graphml")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / "trace.graphml"
    path.write_bytes(response.content)
    graph = nx.read_graphml(path)
    assert graph.is_directed()
    kinds = {data["kind"] for _, data in graph.nodes(data=True)}
    assert kinds == {"case", "session", "note", "cluster", "outcome", "follow_up", "adoption", "derived_case"}
    case, derived = f"case:{trace.case_id}", f"case:{trace.derived_id}"
    assert nx.has_path(graph, case, derived)
    path_kinds = [graph.nodes[n]["kind"] for n in nx.shortest_path(graph, f"note:{trace.notes['trust']}", derived)]
    assert path_kinds[0] == "note" and "outcome" in path_kinds and path_kinds[-1] == "derived_case"
    assert graph.nodes[derived]["city"] == "Zwolle" and graph.nodes[case]["city"] == "Groningen"
    assert f"note:{trace.notes['private']}" not in graph and f"note:{trace.notes['hidden']}" not in graph
    # Meeting two is not granted to this researcher: the trace stops at the derived case.
    assert f"session:{trace.second}" not in graph
    assert all(data["url"].startswith("http") for _, data in graph.nodes(data=True))


async def test_prov_json_reads_back_with_prov(client: Client, rt: Any) -> None:
    trace = await build(client, rt)
    admin = await make_account(rt, "admin")
    await login(client, admin.email)
    response = await client.get(f"/research/communities/{trace.community_id}/lineage.prov.json")
    assert response.status_code == 200
    document = ProvDocument.deserialize(content=response.text, format="json")
    records = {type(r).__name__ for r in document.get_records()}
    assert {
        "ProvEntity",
        "ProvActivity",
        "ProvAgent",
        "ProvUsage",
        "ProvGeneration",
        "ProvDerivation",
        "ProvAttribution",
    } <= records
    raw = json.loads(response.text)
    derived = f"labs:case/{trace.derived_id}"
    sources = {d["prov:usedEntity"] for d in raw["wasDerivedFrom"].values() if d["prov:generatedEntity"] == derived}
    assert f"labs:case/{trace.case_id}" in sources
    assert any(
        u["prov:activity"] == f"labs:session/{trace.first}" and u["prov:entity"] == f"labs:case/{trace.case_id}"
        for u in raw["used"].values()
    )
    assert any(g["prov:entity"] == f"labs:outcome/{trace.outcome_id}" for g in raw["wasGeneratedBy"].values())
    assert any(
        a["prov:entity"] == derived and a["prov:agent"] == "labs:city/zwolle" for a in raw["wasAttributedTo"].values()
    )
    assert f"labs:session/{trace.second}" in raw["activity"]
    assert "Cy's private remark" not in response.text and "Off-topic rant" not in response.text


async def test_lineage_is_behind_the_grant(client: Client, rt: Any) -> None:
    trace = await build(client, rt)
    other = await make_account(rt, "researcher")
    await login(client, other.email)
    for path in (
        f"/research/cases/{trace.case_id}/lineage",
        f"/research/sessions/{trace.first}/lineage.graphml",
        f"/research/communities/{trace.community_id}/lineage.prov.json",
    ):
        assert (await client.get(path)).status_code == 404, path
    await login(client, trace.researcher.email)
    assert (await client.get(f"/research/cases/{trace.case_id}/lineage")).status_code == 200
    # The derived case was only shared in a session this researcher may not see, but it grew
    # from an outcome of one they may: it is in their trace.
    assert (await client.get(f"/research/cases/{trace.derived_id}/lineage")).status_code == 200
    assert (await client.get(f"/research/communities/{trace.community_id}/lineage")).status_code == 404
    assert (await client.get(f"/research/sessions/{trace.second}/lineage")).status_code == 404
