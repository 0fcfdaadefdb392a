"""Long research lists come a page at a time: the lineage's dated list, the replay's moments and
notes, and each chart's data table (one page parameter per table); the pictures and the downloads (GraphML,
PROV-JSON, CSV) stay whole; a bad page number is a 400 with a message."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import networkx as nx
from litestar.testing import AsyncTestClient

from labs.services import cases
from tests.conftest import api_token, login, make_account

Client = AsyncTestClient[Any]
NOTES = 60


async def _session(client: Client, headers: dict[str, str], agenda: list[dict[str, Any]]) -> dict[str, Any]:
    made = await client.post("/api/v1/sessions", json={"title": "Long lab", "agenda": agenda}, headers=headers)
    assert made.status_code == 201, made.text
    assert (await client.post(f"/api/v1/sessions/{made.json()['id']}/start", headers=headers)).status_code == 200
    return made.json()  # type: ignore[no-any-return]


async def test_the_lineage_list_pages_and_the_picture_and_downloads_stay_whole(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    session = await _session(client, headers, [{"title": "Case", "minutes": 20}])
    case = await cases.create_case(rt, facilitator, {"title": "Roof gardens", "city": "Delft", "country": "NL"})
    shared = await client.post(f"/api/v1/sessions/{session['id']}/cases", json={"case_id": case.id}, headers=headers)
    assert shared.status_code == 201, shared.text
    for i in range(NOTES):
        posted = await client.post(
            f"/api/v1/sessions/{session['id']}/notes",
            json={"client_id": str(uuid.uuid4()), "body": f"Feedback {i:02d}", "kind": "booster", "case_id": case.id},
            headers=headers,
        )
        assert posted.status_code == 201, posted.text
    await login(client, facilitator.email)
    base = f"/research/sessions/{session['id']}/lineage"
    first = (await client.get(base)).text
    nodes = NOTES + 2  # the notes, the session and the case
    assert first.count('class="lineage-node') == nodes  # the picture: everything
    assert first.count('<li id="node-') == 50 and "Page 1 of 2" in first
    assert f'href="{base}?page=2"' in first
    second = (await client.get(f"{base}?page=2")).text
    assert second.count('<li id="node-') == nodes - 50 and 'start="51"' in second
    listed = set(re.findall(r'<li id="(node-[^"]+)"', first)) | set(re.findall(r'<li id="(node-[^"]+)"', second))
    assert len(listed) == nodes

    graph = nx.read_graphml(io.BytesIO((await client.get(f"{base}.graphml")).content))
    assert graph.number_of_nodes() == nodes
    prov = (await client.get(f"{base}.prov.json")).json()
    assert sum(1 for key in prov["entity"] if "note" in key) == NOTES

    for bad in ("abc", "0", "-1", "99999999999999999999999"):
        response = await client.get(f"{base}?page={bad}")
        assert response.status_code == 400, bad
        assert "page" in response.text

    # The replay of the same session lists the wall's notes a page at a time; counts are of all.
    replay = f"/research/sessions/{session['id']}/replay"
    wall = (await client.get(replay)).text
    assert wall.count('<li id="note-') == 50 and f"Produced {NOTES} notes" in wall
    assert f'href="{replay}?seq=' in wall and "notes_page=2" in wall
    rest = (await client.get(f"{replay}?notes_page=2")).text
    assert rest.count('<li id="note-') == NOTES - 50 and f"Produced {NOTES} notes" in rest and "Feedback 59" in rest
    assert (await client.get(f"{replay}?notes_page=zero")).status_code == 400
    # A note's node in the lineage opens the replay on the page that lists it.
    link, note_id = re.findall(r'<a href="([^"#]+\?note=(\d+))#note-\d+" aria-label="[^"]*Feedback 59"', first)[0]
    opened = (await client.get(link)).text
    assert f'<li id="note-{note_id}"' in opened and "Page 2 of 2" in opened
    assert (await client.get(f"{replay}?note=abc")).status_code == 400


async def test_the_replay_moments_page_and_open_on_the_page_of_the_position(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    session = await _session(client, headers, [{"title": "Left"}, {"title": "Right"}])
    detail = (await client.get(f"/api/v1/sessions/{session['id']}", headers=headers)).json()
    left, right = (a["id"] for a in detail["activities"])
    for i in range(60):  # 60 openings, and the start (which opens the first activity): 62 moments
        activity = left if i % 2 == 0 else right
        opened = await client.post(f"/api/v1/sessions/{session['id']}/activities/{activity}/activate", headers=headers)
        assert opened.status_code == 200, opened.text
    await login(client, facilitator.email)
    base = f"/research/sessions/{session['id']}/replay"
    latest = (await client.get(base)).text
    moments = latest.split('class="milestones"')[1].split("</ol>")[0]
    assert moments.count("<li>") == 12 and 'start="51"' in latest  # at the end: the last page
    assert 'aria-current="step"' in moments and "Page 2 of 2" in latest
    early = (await client.get(f"{base}?seq=3")).text
    assert early.split('class="milestones"')[1].split("</ol>")[0].count("<li>") == 50
    chosen = (await client.get(f"{base}?seq=3&moments_page=2")).text
    assert 'start="51"' in chosen and "After event 3 of" in chosen
    for bad in ("abc", "0"):
        assert (await client.get(f"{base}?moments_page={bad}")).status_code == 400


async def test_each_chart_table_pages_on_its_own_and_the_csv_is_whole(client: Client, rt: Any) -> None:
    admin = await make_account(rt, "admin")
    topics = ["energy", "green", "housing", "mobility"]
    every_goal = {"title": "Everything", "city": "Delft", "country": "NL", "sdgs": list(range(1, 18)), "topics": topics}
    await cases.create_case(rt, admin, every_goal)
    await login(client, admin.email)
    rows = 17 * len(topics)
    page = (await client.get("/research/charts")).text
    section = page.split('id="chart-sdg_topics"')[1].split("</section>")[0]
    assert section.count('<th scope="row">') == 50 and "Page 1 of 2" in section
    assert 'href="/research/charts?sdg_topics_page=2"' in section
    second = await client.get("/research/charts?city=Delft&sdg_topics_page=2")
    section = second.text.split('id="chart-sdg_topics"')[1].split("</section>")[0]
    assert section.count('<th scope="row">') == rows - 50 and "<details open>" in section
    # The pager keeps the filters; the other tables keep their own first page.
    assert 'href="/research/charts?city=Delft&amp;sdg_topics_page=1"' in section
    assert "<details open>" not in second.text.split('id="chart-participation"')[1]
    csv_rows = list(csv.reader(io.StringIO((await client.get("/research/charts/sdg_topics/data.csv")).text)))
    assert len(csv_rows) == rows + 1  # the header and every row
    api = (await client.get("/api/v1/research/charts", headers=await api_token(client, admin.email))).json()
    assert len(api["sdg_topics"]["rows"]) == rows
    bad = await client.get("/research/charts?sdg_topics_page=nope")
    assert bad.status_code == 400 and "page" in bad.text
