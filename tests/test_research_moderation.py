"""The moderation log for researchers: who hid, restored, pinned or unpinned which note, when, in
the sessions they may study; paged, filterable by session, newest first; note text only as consent
allows (and never of a note that is hidden now); on screen, in the API and in the export's events
table. An ungranted session is 404, bad filters are 400."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from labs.models import Account, SessionFacilitator
from tests.conftest import api_token, login, make_account
from tests.research_setup import BODIES, Lab, make_lab, researcher

Client = AsyncTestClient[Any]


async def _moderate(client: Client, lab: Lab, note_id: int, *actions: str) -> None:
    for action in actions:
        response = await client.post(
            f"/api/v1/sessions/{lab.session_id}/notes/{note_id}/moderation",
            json={"action": action},
            headers=lab.facilitator,
        )
        assert response.status_code == 200, response.text


async def _moderated_lab(client: Client, rt: Any) -> tuple[Lab, Any]:
    """make_lab hid a spam note of the named participant; here the facilitator also pins the named
    note, hides and restores the anonymous one, and hides the note of the participant who chose
    no research use."""
    lab = await make_lab(client, rt)
    await _moderate(client, lab, lab.people["named"]["note_id"], "pin")
    await _moderate(client, lab, lab.people["anonymous"]["note_id"], "hide", "restore")
    await _moderate(client, lab, lab.people["none"]["note_id"], "hide")
    async with rt.db.read() as db:
        name = await db.scalar(
            select(Account.display_name)
            .join(SessionFacilitator, SessionFacilitator.account_id == Account.id)
            .where(SessionFacilitator.session_id == lab.session_id)
        )
    return lab, name


async def test_the_log_shows_who_moderated_what_as_consent_allows(client: Client, rt: Any) -> None:
    lab, moderator = await _moderated_lab(client, rt)
    _account, headers = await researcher(client, rt, lab)
    response = await client.get(f"/api/v1/research/moderation?session_id={lab.session_id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 5 and body["page"] == 1
    found = [(e["action"], e["note_id"], e["note"]) for e in body["items"]]
    assert found == [  # newest first
        ("note.hidden", lab.people["none"]["note_id"], None),  # no research use: the id only
        ("note.restored", lab.people["anonymous"]["note_id"], BODIES["anonymous"]),
        ("note.hidden", lab.people["anonymous"]["note_id"], BODIES["anonymous"]),  # restored since: readable
        ("note.pinned", lab.people["named"]["note_id"], BODIES["named"]),
        ("note.hidden", lab.hidden_note_id, None),  # still hidden: never its text
    ]
    assert {e["moderator"] for e in body["items"]} == {moderator}
    assert {e["activity"] for e in body["items"]} == {"Ideas"}
    assert {e["session"] for e in body["items"]} == {"Warm streets"}

    await login(client, _account.email)
    page = await client.get(f"/research/moderation?session_id={lab.session_id}")
    assert page.status_code == 200
    text = page.text
    assert moderator in text and "Note hidden" in text and "Note restored" in text and "Note pinned" in text
    assert f"note #{lab.hidden_note_id}" in text and f"note #{lab.people['none']['note_id']}" in text
    assert BODIES["named"] in text
    assert "Spam that was hidden" not in text and BODIES["none"] not in text
    # Linked from the research overview, and from the session's replay and coding pages.
    assert f'href="/research/moderation?session_id={lab.session_id}"' in (await client.get("/research")).text
    for path in ("replay", "coding"):
        shown = await client.get(f"/research/sessions/{lab.session_id}/{path}")
        assert f'href="/research/moderation?session_id={lab.session_id}"' in shown.text, path

    client.cookies.set("labs_lang", "nl")
    dutch = await client.get(f"/research/moderation?session_id={lab.session_id}")
    assert "Moderatielogboek" in dutch.text and "Notitie verborgen" in dutch.text


async def test_only_the_sessions_in_scope_and_an_ungranted_session_is_404(client: Client, rt: Any) -> None:
    lab, _ = await _moderated_lab(client, rt)
    other = await make_lab(client, rt, title="Other lab")  # another facilitator hid a note there too
    account, headers = await researcher(client, rt, lab)
    everything = (await client.get("/api/v1/research/moderation", headers=headers)).json()
    assert {e["session_id"] for e in everything["items"]} == {lab.session_id}
    refused = await client.get(f"/api/v1/research/moderation?session_id={other.session_id}", headers=headers)
    assert refused.status_code == 404
    await login(client, account.email)
    assert (await client.get(f"/research/moderation?session_id={other.session_id}")).status_code == 404
    assert "Other lab" not in (await client.get("/research/moderation")).text

    # Without a grant: nothing at all; an admin sees both sessions.
    _, ungranted = await researcher(client, rt)
    assert (await client.get("/api/v1/research/moderation", headers=ungranted)).json()["total"] == 0
    admin = await api_token(client, (await make_account(rt, "admin")).email)
    listed = (await client.get("/api/v1/research/moderation", headers=admin)).json()["items"]
    assert {e["session_id"] for e in listed} == {lab.session_id, other.session_id}
    # The facilitator of a session reads its log: their own sessions only.
    own = (await client.get("/api/v1/research/moderation", headers=other.facilitator)).json()
    assert {e["session_id"] for e in own["items"]} == {other.session_id}


async def test_a_long_log_pages_and_bad_filters_are_400(client: Client, rt: Any) -> None:
    lab = await make_lab(client, rt)
    note = lab.people["named"]["note_id"]
    await _moderate(client, lab, note, *(["pin", "unpin"] * 30))  # 60 more, 61 with make_lab's hide
    _account, headers = await researcher(client, rt, lab)
    first = (await client.get("/api/v1/research/moderation", headers=headers)).json()
    assert (first["total"], first["pages"], len(first["items"])) == (61, 2, 50)
    second = (await client.get("/api/v1/research/moderation?page=2", headers=headers)).json()
    assert len(second["items"]) == 11 and second["items"][-1]["note_id"] == lab.hidden_note_id  # the oldest
    await login(client, _account.email)
    page = await client.get("/research/moderation")
    assert 'rel="next"' in page.text and "Page 1 of 2" in page.text
    assert "Page 2 of 2" in (await client.get("/research/moderation?page=2")).text
    for query in ("page=0", "page=abc", "page=99999999999999999999", "session_id=abc", "session_id=99999999999999"):
        api = await client.get(f"/api/v1/research/moderation?{query}", headers=headers)
        assert api.status_code == 400, (query, api.text)
        assert api.json()["detail"]
        shown = await client.get(f"/research/moderation?{query}")
        assert shown.status_code == 400, query
    assert (await client.get("/api/v1/research/moderation?session_id=2147483000", headers=headers)).status_code == 404


async def test_the_export_keeps_the_moderation_log_with_ids_of_notes_it_may_not_show(client: Client, rt: Any) -> None:
    lab, _ = await _moderated_lab(client, rt)
    _account, headers = await researcher(client, rt, lab)
    response = await client.post(
        "/api/v1/research/exports", json={"scope": f"session:{lab.session_id}", "format": "csv"}, headers=headers
    )
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    rows = list(csv.DictReader(io.StringIO(archive.read("events.csv").decode("utf-8-sig"))))
    moderated = [(r["type"], json.loads(r["data"])) for r in rows if r["type"] in ("note.hidden", "note.pinned")]
    by_note = {(kind, data["id"]): data for kind, data in moderated}
    assert set(by_note) == {
        ("note.hidden", lab.hidden_note_id),
        ("note.hidden", lab.people["none"]["note_id"]),
        ("note.hidden", lab.people["anonymous"]["note_id"]),
        ("note.pinned", lab.people["named"]["note_id"]),
    }
    for note_id in (lab.hidden_note_id, lab.people["none"]["note_id"]):
        assert set(by_note[("note.hidden", note_id)]) == {"id", "activity_id"}  # nothing but where
    assert by_note[("note.pinned", lab.people["named"]["note_id"])]["body"] == BODIES["named"]
    text = archive.read("events.csv").decode("utf-8-sig")
    assert "Spam that was hidden" not in text and BODIES["none"] not in text


async def test_removals_show_the_participant_as_consent_allows(client: Client, rt: Any) -> None:
    lab = await make_lab(client, rt)
    for choice, notes in (("named", "keep"), ("pseudonymous", "remove"), ("none", "keep")):
        removed = await client.post(
            f"/api/v1/sessions/{lab.session_id}/participants/{lab.people[choice]['id']}/remove",
            json={"notes": notes},
            headers=lab.facilitator,
        )
        assert removed.status_code == 200, removed.text
    account, headers = await researcher(client, rt, lab)
    items = (await client.get("/api/v1/research/moderation", headers=headers)).json()["items"]
    removals = [e for e in items if e["action"] == "participant.removed"]
    assert [(e["participant_name"], e["notes"], e["removed_notes"]) for e in removals] == [
        (None, "keep", 0),  # chose no research use: nothing tells them apart
        (None, "remove", 1),  # pseudonymous: their pseudonym, and their note went
        ("Nadia Named", "keep", 0),
    ]
    assert removals[0]["participant"] is None
    assert removals[1]["participant"].startswith("P-") and removals[2]["participant"].startswith("P-")
    await login(client, account.email)
    page = (await client.get("/research/moderation")).text
    assert "Participant removed" in page and "Nadia Named" in page and removals[1]["participant"] in page
    assert "1 note removed" in page and "their notes stayed" in page
    assert "Wilhelmina" not in page and "Pseudo Person" not in page


async def test_approvals_and_rejections_under_premoderation(client: Client, rt: Any) -> None:
    lab = await make_lab(client, rt)
    on = await client.post(
        f"/api/v1/sessions/{lab.session_id}/premoderation", json={"premoderation": True}, headers=lab.facilitator
    )
    assert on.status_code == 200, on.text
    author = {"Authorization": f"Bearer {lab.people['named']['token']}"}
    waiting = {}
    for body in ("Approve me: shared bikes", "Reject me: buy my flat"):
        posted = await client.post(
            f"/api/v1/sessions/{lab.session_id}/notes",
            json={"client_id": str(uuid.uuid4()), "body": body, "kind": "idea"},
            headers=author,
        )
        assert posted.status_code == 201, posted.text
        waiting[body.split(":")[0]] = posted.json()["id"]
    await _moderate(client, lab, waiting["Approve me"], "approve")
    await _moderate(client, lab, waiting["Reject me"], "reject")
    _account, headers = await researcher(client, rt, lab)
    items = (await client.get("/api/v1/research/moderation", headers=headers)).json()["items"]
    # A rejected note never reached the wall: researchers learn that one was rejected, and by whom,
    # but nothing of the note (the catalogue's researcher view of it is empty).
    assert [(e["action"], e["note_id"], e["note"]) for e in items[:2]] == [
        ("note.rejected", None, None),
        ("note.approved", waiting["Approve me"], "Approve me: shared bikes"),
    ]
    assert items[0]["moderator"] == items[1]["moderator"] is not None
    await login(client, _account.email)
    page = (await client.get("/research/moderation")).text
    assert "Note rejected" in page and "a note that waited for approval" in page and "buy my flat" not in page
    assert f"note #{waiting['Reject me']}" not in page
    exported = await client.post(
        "/api/v1/research/exports", json={"scope": f"session:{lab.session_id}", "format": "json"}, headers=headers
    )
    assert "buy my flat" not in exported.text
    assert [e["type"] for e in exported.json()["events"] if e["type"] == "note.rejected"] == []
